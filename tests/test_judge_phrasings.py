"""The judge on the phrasings real models use, class by class, in English and Chinese.

Each response imitates a published output's shape (GPT-4V/Claude/Bard-style explanations, LLaVA-style one-liners,
R1-style <think>/<answer> traces, QvQ-style long thinking, Chinese GeoQA solutions); the problems are GeoQA,
MathVista, MathVerse and Geometry3K-like. The verdict must be what a careful human grader decides.
"""

import json
from pathlib import Path

import pytest

from redstar_geo.judge import extract_answer, judge, to_number, values_equal
from redstar_geo.schema import Problem

# --- problems --------------------------------------------------------------------------------------------------------
PARALLEL = Problem(
    id="1",
    source="geoqa",
    question="As shown in the figure, AB ∥ CD, line EF meets AB at E and CD at F, EG bisects ∠BEF, ∠1 = 50°, "
    "then ∠2 is ()",
    choices=["50°", "60°", "65°", "90°"],
    answer_letter="C",
    answer_type="choice",
)
CIRCLE_ZH = Problem(
    id="2",
    source="mathvista",
    question="如图，点A、B、C在⊙O上，∠AOB=72°，则∠ACB等于（）",
    choices=["28°", "54°", "18°", "36°"],
    answer_letter="D",
    answer_type="choice",
    language="zh",
)
FIVE = Problem(
    id="3",
    source="mathvista",
    question="Find the perimeter of parallelogram ABCD.",
    choices=["12", "18", "24", "30", "36"],
    answer_letter="C",
    answer_type="choice",
)
DUPLICATE = Problem(
    id="4",
    source="geoqa",
    question="In right triangle ABC, ∠C = 90°, AC = 24, BC = 7; the value of x is ()",
    choices=["12", "15", "18", "18"],
    answer_letter="C",
    answer_type="choice",
)
VALUE = Problem(id="5", source="geoqa", question="... then the degree of ∠CDB is", answer="55°")
GEO3K = Problem(id="6", source="geometry3k", question="Find x.", answer="4 \\sqrt { 2 }")
ZH_VALUE = Problem(id="7", source="geoqa", question="在Rt△ABC中，∠C=90°，AB=10，BC=8，则sinB的值为", answer="0.6")

# --- long reasoning, as the models write it --------------------------------------------------------------------------
GPT4V = (
    "To solve this problem, we use the properties of parallel lines and angle bisectors.\n\n"
    "1. Since AB ∥ CD, the alternate interior angles are equal, so ∠1 and ∠EFD are related: ∠BEF = 180° - ∠1 = "
    "130°.\n2. EG bisects ∠BEF, so ∠BEG = 130° / 2 = 65°.\n3. Since AB ∥ CD, ∠2 = ∠BEG = 65°.\n\n"
    "Option A (50°) is ∠1 itself, and option D (90°) would need EF ⊥ CD, which is not given.\n\n"
)
CLAUDE = (
    "Okay, let's solve this step-by-step:\n* AB is parallel to CD, and EF is a transversal\n* ∠1 = 50°, so ∠BEF = "
    "180° - 50° = 130° (co-interior angles)\n* EG bisects ∠BEF, so ∠BEG = ∠GEF = 65°\n* ∠2 and ∠BEG are "
    "alternate interior angles, so they are equal\n\n"
)
QVQ_THINKING = (
    "<think>\nAlright, so I've got this geometry problem here. AB is parallel to CD, EF crosses both. ∠1 is 50°. "
    "Hmm, is ∠2 maybe 50° as well? No wait, that's the corresponding angle, not ∠2. Let me think again. ∠BEF is "
    "supplementary to ∠1, so it's 130°. EG bisects it, so each half is 65°. Then ∠2 equals ∠BEG because AB ∥ CD. "
    "Wait, let me double-check: 130 / 2 = 65. Yes.\n"
)
ZH_SOLUTION = (
    "解：∵∠AOB=72°，∠ACB与∠AOB是同弧所对的圆周角和圆心角，\n∴∠ACB=1/2∠AOB=1/2×72°=36°。\n"
    "选项C（18°）是∠AOB的四分之一，不对。\n"
)
R1_THINK = (
    "<think> Since BD bisects ∠ABC and ∠ABC = 70°, ∠DBC = 35°. In triangle BCD, ∠C = 90°, so ∠CDB = 90° - 35° "
    "= 55°. </think>"
)


# --- 1. a choice letter with its value -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "response",
    [
        GPT4V + "Thus, the answer is C (65°).",
        CLAUDE + "Therefore, ∠2 = 65°.\n\nThe correct option letter is (C) 65°.",
        GPT4V + "So the answer is C: 65°",
        GPT4V + "**Answer:** (C) 65°",
        GPT4V + "Final answer: C. 65°",
        QVQ_THINKING + "</think>\n\nThe measure of ∠2 is 65°, so the answer is \\boxed{C\\ (65^\\circ)}.",
        GPT4V + "The answer is 65° (C).",
    ],
)
def test_letter_with_its_value(response):
    verdict = judge(response, PARALLEL)
    assert verdict.correct and verdict.letter == "C", (verdict, response[-60:])


@pytest.mark.parametrize(
    "response",
    [
        ZH_SOLUTION + "答案是D（36°）",
        ZH_SOLUTION + "故选：D．36°",
        ZH_SOLUTION + "所以答案为D：36°。",
    ],
)
def test_letter_with_its_value_chinese(response):
    assert judge(response, CIRCLE_ZH).correct, response[-40:]


def test_letter_and_value_that_disagree_are_wrong_with_the_reason():
    # The model names C but states B's value: neither is silently taken.
    verdict = judge(GPT4V + "Thus, the answer is C (60°).", PARALLEL)
    assert verdict.status == "wrong" and "disagree" in verdict.reason and "B" in verdict.reason
    verdict = judge(ZH_SOLUTION + "答案是C（36°）", CIRCLE_ZH)  # C is 18°, 36° is D, the gold
    assert verdict.status == "wrong" and "disagree" in verdict.reason
    # ... also under the value protocol, where the gold value is compared.
    assert not judge(GPT4V + "The answer is B: 65°", PARALLEL, protocol="value").correct
    # A value that matches no choice does not contradict the letter ("C (about 65 degrees)" is still C).
    assert judge(GPT4V + "Thus, the answer is C (approximately 65.0 degrees).", PARALLEL).correct


def test_duplicate_choice_values_the_letter_decides():
    text = "By the Pythagorean theorem AB = √(24² + 7²) = 25, and the similar triangles give x = 18."
    assert judge(text + " The answer is C (18).", DUPLICATE).correct
    verdict = judge(text + " The answer is D (18).", DUPLICATE)
    assert verdict.status == "wrong" and verdict.letter == "D"  # D holds the same value, but the gold is C
    assert judge(text + " \\boxed{18}", DUPLICATE).correct  # no letter: the gold is among the choices of value 18


# --- 2. option phrasings without the word "answer" -------------------------------------------------------------------
@pytest.mark.parametrize(
    "response, problem",
    [
        (GPT4V + "The correct option letter is (C).", PARALLEL),
        (CLAUDE + "So ∠2 = 65°. Looking at the choices, the closest option is C.", PARALLEL),
        (GPT4V + "Correct option: C", PARALLEL),
        (GPT4V + "The best choice is (C) since 65° matches our result.", PARALLEL),
        ("Hint: the perimeter is 2(AB + BC) = 2(5 + 7) = 24.\nThe correct option letter is C.", FIVE),
        (ZH_SOLUTION + "答案选项为(D)", CIRCLE_ZH),
        (ZH_SOLUTION + "因此选项为(D) 36°", CIRCLE_ZH),
        (ZH_SOLUTION + "故选Ｄ", CIRCLE_ZH),
        (ZH_SOLUTION + "正确选项是（Ｄ）。", CIRCLE_ZH),
        (ZH_SOLUTION + "所以应该选D。", CIRCLE_ZH),
        (ZH_SOLUTION + "∴选D", CIRCLE_ZH),
        (ZH_SOLUTION + "故本题选D。", CIRCLE_ZH),
        (GPT4V + "Hence, (C) is correct.", PARALLEL),
        (GPT4V + "So (C) 65° is the correct answer.", PARALLEL),
        (CLAUDE + "Therefore, C is the right option.", PARALLEL),
        (GPT4V + "The answer to this question is (C).", PARALLEL),
    ],
)
def test_option_phrasings(response, problem):
    verdict = judge(response, problem)
    assert verdict.correct, (verdict, response[-50:])


def test_option_descriptions_are_no_answer_statements():
    # "the second option is 60°" describes a choice; the later conclusion is the answer.
    text = "The first option is 50°, which is ∠1 itself, and the second option is 60°. " + CLAUDE + "So ∠2 = 65°."
    assert judge(text, PARALLEL).correct


# --- 3. a concluding statement of the asked quantity, no answer keyword ----------------------------------------------
@pytest.mark.parametrize(
    "response, problem, expected",
    [
        (
            "Opposite sides of a parallelogram are equal: AB = CD = 5 and BC = AD = 7.\nThe perimeter of ABCD is 24.",
            FIVE,
            "24",
        ),
        ("We have 2y + 30 = 230, so 2y = 200.\nTherefore, the value of y is **100**", None, "100"),
        (
            "The circumference is 17π, so the diameter is 17 inches. In this case, the radius is 8.5 inches.",
            None,
            "8.5 inches",
        ),
        (QVQ_THINKING.replace("∠2", "∠CDB") + "So in triangle BCD:\nangle CDB = 55°", VALUE, "angle CDB = 55°"),
        ("<think> ∠DBC = 35° because BD bisects ∠ABC, and ∠C = 90°. So ∠CDB = 55°", VALUE, "55°"),
        ("解：∵AB=10，BC=8，∴AC=6。\n∴sinB=AC/AB=6/10=0.6", ZH_VALUE, "0.6"),
        ("在Rt△ABC中，由勾股定理得AC=6。\nsinB的值为0.6。", ZH_VALUE, "0.6"),
        ("Since DE ∥ BC, ∠CED and ∠C are co-interior angles, so ∠CED = 180° - 40° = 140°.", None, "140°"),
        ("∵AB=BC=CA，∴△ABC是等边三角形，∴∠ABC=60°。", None, "60°"),
        ("菱形的面积等于对角线乘积的一半，S = ½ × 6 × 8 = 24", None, "24"),
        ("Each base angle therefore measures 36°.", None, "36°"),
        ("So the area is 9π square centimeters (about 28.27 cm²).", None, "9π square centimeters"),
        ("在同一时刻，物高与影长成正比，解得h=10.8。\n所以旗杆高10.8米。", None, "10.8米"),
    ],
)
def test_concluding_statement(response, problem, expected):
    assert extract_answer(response).answer == expected
    if problem is not None:
        assert judge(response, problem).correct


@pytest.mark.parametrize(
    "response",
    [
        # two values stated: which one is the answer?
        "By the Pythagorean theorem we get the sides. The length of AB is 5 and the length of BC is 12.",
        # a repetition loop that happens to end on a full sentence concludes nothing
        "Since DE ∥ BC, ∠CED and ∠C are co-interior angles, so ∠CED = 180° - 40° = 140°.\n" * 3,
        # not the last statement: the response goes on without concluding
        "The perimeter of ABCD is 24. But wait, I should double-check whether AB is really 5 in the figure.",
        # cut off in the middle of the last statement
        "Therefore, the maximum value of CD is 2 times the length of AB. Therefore, the maximum value of CD is 2 "
        "times the",
    ],
)
def test_statements_that_are_no_conclusion(response):
    assert extract_answer(response).answer is None


# --- 4. an equation chain as the answer ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "response, problem",
    [
        (R1_THINK + "<answer>90 - 35 = 55°</answer>", VALUE),
        (R1_THINK + "<answer>∠CDB = 90° - 35° = 55°</answer>", VALUE),
        ("<think>sinB = AC/AB</think><answer>sinB = 6/10 = 0.6</answer>", ZH_VALUE),
        ("By the Pythagorean theorem, x = \\sqrt{4^2 + 4^2} = \\sqrt{32} = 4\\sqrt{2}", GEO3K),
    ],
)
def test_equation_chain_takes_the_last_right_hand_side(response, problem):
    assert judge(response, problem, protocol="value").correct, response[-50:]


def test_equation_chains_in_values():
    assert to_number("AB = 1.8 × 9.0 / 1.5 = 10.8") == pytest.approx(10.8)
    assert to_number("90 - 40 = 50°") == 50
    assert to_number("∠A = ∠C = 40°") == 40
    # an equation between expressions is no chain: it compares as text
    assert to_number("\\frac{x^2}{81}+\\frac{y^2}{9}=1") is None and to_number("x^2 + y^2 = 25") is None


# --- 5. prose or odd wrappers around the answer ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "response, problem",
    [
        ("<think>AC = 6, so sinB = AC/AB.</think>\n<answer>所以sinB的值是0.6</answer>", ZH_VALUE),
        (R1_THINK + "<answer>The degree of ∠CDB is 55 degrees.</answer>", VALUE),
        (R1_THINK + "<answer>55°</answer", VALUE),
        (R1_THINK + "<answer>55°", VALUE),
        (R1_THINK + "\nThe final answer is: <55°>", VALUE),
        (
            R1_THINK + "<answer>55°</answer>\n<think>Let me verify once more: 90 - 35 = 55. The answer is consistent "
            "with the figure.</think>",
            VALUE,
        ),
        (R1_THINK + "<answer>55°</answer>\nWait, is the answer correct? Yes, ∠CDB is complementary to ∠DBC.", VALUE),
        (R1_THINK + "\n### Final Answer\n$\\boxed{55^{\\circ}}$", VALUE),
        (R1_THINK + "<answer>\\( \\boxed{55^\\circ} \\)</answer>", VALUE),
    ],
)
def test_prose_and_odd_wrappers(response, problem):
    verdict = judge(response, problem, protocol="value")
    assert verdict.correct, (verdict, response[-60:])


# --- 6. gold answers with a label, variable or units -----------------------------------------------------------------
@pytest.mark.parametrize(
    "pred, gold",
    [
        ("5", "$r=5$"),
        ("r = 5 cm", "$r=5$"),
        ("9\\pi", "Area $=9\\pi$ cm²"),
        ("28.27", "Area $=9\\pi$ cm²"),
        ("10", "diameter = 10 m"),
        ("60°", "60*\\degree"),
        ("60", "60*\\degree"),
        ("1/4", "1:4"),
        ("0.25", "1:4"),
        ("\\frac{1}{4}", "1:4"),
        ("12", "A: 12"),
        ("(20, 10)", "Center $=(20,10)$"),
        ("\\frac{7}{4}", "=\\frac{7}{4}"),
        ("2x + 1", "y = 2x + 1"),
    ],
)
def test_gold_with_label_variable_or_unit(pred, gold):
    assert values_equal(pred, gold)[0], (pred, gold)


def test_labelled_values_still_differ_when_they_differ():
    for pred, gold in [("6", "$r=5$"), ("9", "Area $=9\\pi$ cm²"), ("4", "1:4"), ("x = 2y", "y = 2y")]:
        assert not values_equal(pred, gold)[0], (pred, gold)


def test_bare_lowercase_choice_and_a_colon_as_answer():
    assert judge("c", PARALLEL).correct and judge("(c)", PARALLEL).correct
    assert judge("a", Problem(id="a", source="x", question="?", choices=["1", "2"], answer_letter="A")).correct
    assert judge("c) 65", PARALLEL).correct and not judge("b) 60", PARALLEL).correct
    # "A:" written for "Answer:": its value is another choice's, and the problem has no choice A of that value
    assert judge(CLAUDE + "Q: What is ∠2?\nA: 65°", PARALLEL).correct
    assert judge("Q: Find the degree of ∠CDB.\nA: The degree of ∠CDB is 55°.", VALUE, protocol="value").correct


def test_free_form_answers_that_state_no_value():
    # a letter for a question shown without choices, a relation without a number: no answer, with the reason
    verdict = judge(R1_THINK + "<answer>B</answer>", VALUE, protocol="value")
    assert verdict.status == "no_answer" and "no choices" in verdict.reason
    verdict = judge("<think>∠CDB and ∠DBC are complementary.</think><answer>∠CDB = ∠ADB - ∠DBC</answer>", VALUE)
    assert verdict.status == "no_answer" and "states no value" in verdict.reason
    assert judge(R1_THINK + "<answer>∠CDB = 55°</answer>", VALUE, protocol="value").correct


def test_short_answers_of_other_shapes():
    coordinates = Problem(id="c", source="mathverse", question="Find the vertex.", answer="(2,-2)")
    assert judge("(2, −2)", coordinates).correct and not judge("(1, -3)", coordinates).correct
    assert judge("C = B + D - A = (2, -2).\n\n**Answer: (2, -2)**", coordinates).correct  # the comma ends nothing
    two = Problem(id="t", source="mathverse", question="?", choices=["∠3", "∠4", "∠5", "∠8"], answer_letter="AC")
    assert judge("A, C", two).correct and judge("Both A and C are correct.", two).correct
    assert judge("The angles congruent to ∠1 are ∠3 and ∠5, i.e., options A and C.", two).correct
    right = Problem(id="r", source="mathvista", question="?", choices=["45", "60", "90", "120"], answer_letter="C")
    assert judge("The measure of angle H is 90 degrees because it is a right angle in the figure.", right).correct


def test_letter_golds_without_choices():
    # MathVerse's vision-only versions: the choices are only in the diagram, the gold is a letter.
    vision_only = Problem(id="8", source="mathverse", question="", answer="E")
    assert judge("From the unit circle, sin(270°) = -1, which is choice E: sin(270°).\nAnswer: E", vision_only).correct
    assert judge("The answer is (E) sin 270°.", vision_only).correct
    assert not judge("The answer is (F) cos 270°.", vision_only).correct
    two = Problem(id="9", source="mathverse", question="", answer="C\nD")
    assert judge("Both C and D are opposite. Answer: C, D", two).correct
    assert not judge("Answer: C", two).correct


# --- 7. invented continuations ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "response, problem",
    [
        (
            GPT4V
            + "Answer: C\n\nQuestion: As shown in the figure, in △ABC, DE ∥ BC, AD = 2, DB = 3, then AE:AC is ()\n"
            "Choices:\nA: 2:3\nB: 2:5\nC: 3:5\nD: 4:9\nAnswer: B",
            PARALLEL,
        ),
        (
            "The correct option letter is C.\nHint: Please answer the question and provide the correct option letter, "
            "e.g., A, B, C, D, at the end.\nQuestion: What is the area of the circle?\n"
            "The correct option letter is A.",
            PARALLEL,
        ),
        (
            ZH_SOLUTION + "故选D。\n\n问题：如图，AB是⊙O的直径，∠C=30°，则∠ABD=（）\n解：∵AB是直径，∴∠ADB=90°…故选B。",
            CIRCLE_ZH,
        ),
        (
            R1_THINK
            + "<answer>55°</answer>\nQuestion: In the figure, find ∠AOB.\n<think>...</think><answer>110°</answer>",
            VALUE,
        ),
        (
            "The answer is **(C) 65°**.\n\nEG bisects ∠BEF = 130°.\n\n**Here's a similar problem you can try:**\n\n"
            "In △PQR, M and N are the midpoints of PQ and PR. If QR = 14, what is MN?\n\n**Answer:** MN = 7.",
            PARALLEL,
        ),
    ],
)
def test_invented_continuation_is_ignored(response, problem):
    protocol = "value" if not problem.choices else "choice"
    assert judge(response, problem, protocol=protocol).correct, response[-60:]


def test_hedging_at_the_end_is_no_answer_even_after_an_earlier_answer():
    text = (
        GPT4V
        + "Option C matches ∠2. But the figure may show ∠2 on the other side, so the answer is either (B) or (C)."
    )
    verdict = judge(text, PARALLEL)
    assert verdict.status == "no_answer" and "hedges" in verdict.reason
    assert judge(R1_THINK + "<answer>55° or 125°</answer>", VALUE, protocol="value").status == "no_answer"
    assert judge(ZH_SOLUTION + "答案可能是B或者D。", CIRCLE_ZH).status == "no_answer"


def test_a_leaked_chat_turn_is_an_invented_continuation():
    text = (
        R1_THINK
        + "<answer>55°</answer>\nuser\nThe side of square ABCD is 3, find AC.\nassistant\n<answer>3√2</answer>"
    )
    assert judge(text, VALUE, protocol="value").correct


def test_cases_weighed_are_not_answers():
    text = (
        "If the right angle were at B, AC would be the hypotenuse and AB = √3, which is option A. Alternatively, if 2"
        " is the vertical leg, the answer would be √5. Given that AC = 2, BC = 1, the"
    )
    assert judge(text, PARALLEL).status == "no_answer"
    assert judge("The options are 50°, 60°, 65°, 90°, so it is one of the middle two.", PARALLEL).status == "no_answer"
    assert judge("A, B, C, D", PARALLEL).status == "no_answer"
    # a plain conditional computation that concludes is still an answer
    assert judge("If we subtract ∠1 from 180° and halve it, the answer is 65°.", PARALLEL).correct


def test_a_restated_question_before_answering_is_kept():
    text = "Question: ∠2 = ?\n" + GPT4V + "Answer: C"
    assert judge(text, PARALLEL).correct


# --- 8. no answer stays no answer ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "response, problem",
    [
        ("A. 50°\nB. 60°\nC. 65°\nD. 90°", PARALLEL),
        ("Choices: (A) 50° (B) 60° (C) 65° (D) 90°", PARALLEL),
        ("选项：A. 28° B. 54° C. 18° D. 36°", CIRCLE_ZH),
        (CLAUDE + "Now ∠2 = 180° − 50° − 65", PARALLEL),
        (R1_THINK.replace("= 55°. </think>", "= 90° - 3"), VALUE),
        (GPT4V + "The answer is (E) 65°.", PARALLEL),
        (GPT4V + "The answer is either B or C, I cannot tell from the figure.", PARALLEL),
        ("I'm sorry, but I cannot see the image, so I can't determine ∠2.", PARALLEL),
        (QVQ_THINKING + "Hmm, so is the answer C? Let me recompute ∠BEF once more", PARALLEL),
        (GPT4V + "So ∠2 = \\boxed{C = 180° - ", PARALLEL),
        (GPT4V + "Using the Pythagorean theorem in triangle OAC, OC = √(5² −", PARALLEL),
        (GPT4V + "so\n\n$$d = \\frac{15}{5} - \\frac{6}{5} = \\frac", PARALLEL),
    ],
)
def test_no_answer_stays_no_answer(response, problem):
    verdict = judge(response, problem, protocol="value" if not problem.choices else "choice")
    assert verdict.status == "no_answer" and not verdict.correct, (verdict, response[-60:])


# --- labelled corpora of realistic responses ---------------------------------------------------------------------
# tests/assets/judge/blind_round*.jsonl: responses in the styles of the models whose published outputs the judge is
# checked on (GPT-4V, Claude, Bard/Gemini, LLaVA, InstructBLIP, Qwen-VL, InternLM-XComposer, G-LLaVA, R1-style
# Qwen2-VL/Qwen2.5-VL/InternVL2.5/Janus-Pro checkpoints, QwQ/QvQ), a third of them Chinese, each labelled by hand as
# a careful grader would. Each round was written blind to the judge's code and measured before the judge was
# improved on the classes it missed (README, "The answer judge").
CORPORA = sorted((Path(__file__).parent / "assets" / "judge").glob("blind_round*.jsonl"))
# The one disagreement, by design: a Chinese last sentence that states five values ("AO=3，BO=4，边长AB=5，周长=20")
# is no single concluding statement, so the judge finds no answer where the label says 20.
KNOWN_DISAGREEMENTS = {"eq-sphinx-009"}


def corpus_problem(case: dict) -> Problem:
    if case["choices"]:  # the gold letter names the choice (or choices, "CD") the problem is right with
        return Problem(
            id=case["case"],
            source="corpus",
            question=case["question"],
            choices=case["choices"],
            answer_letter=case["gold_letter"],
            answer_type="choice",
        )
    return Problem(id=case["case"], source="corpus", question=case["question"], answer=case["gold"])


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda path: path.stem)
def test_blind_corpus_verdicts(corpus):
    cases = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    assert len(cases) >= 289
    disagreements = {}
    for case in cases:
        verdict = judge(case["response"], corpus_problem(case), protocol=case["protocol"])
        if verdict.status != case["expected"]:
            disagreements[case["case"]] = (case["expected"], verdict.status, verdict.extracted, verdict.reason)
    assert set(disagreements) <= KNOWN_DISAGREEMENTS, disagreements
