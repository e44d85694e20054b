"""The answer judge on real-looking long responses: every phrasing, both GeoQA protocols, A-E, Chinese, LaTeX,
precision, and the cases where it must say "no answer"."""

import pytest

from redstar_geo.judge import extract_answer, judge, parse_letters, to_number, values_equal
from redstar_geo.schema import Problem

REASONING = (
    "Let me look at the figure. Since DE ∥ BC, ∠ADE = ∠B = 60°. In triangle ABC, ∠A = 80° and ∠B = 60°, so "
    "∠C = 180° - 80° - 60° = 40°. Option A (40°) is ∠C itself, but the question asks for ∠CED. Hmm, wait: is it "
    "B? No. Since DE ∥ BC, ∠CED and ∠C are co-interior angles, so ∠CED = 180° - 40° = 140°.\n"
) * 3

GEOQA = Problem(
    id="0",
    source="geoqa",
    question="... then the size of angle CED is ()",
    choices=["40°", "60°", "120°", "140°"],
    answer_letter="D",
    answer_type="choice",
)
GEOQA_VALUE = Problem(
    id="0", source="geoqa", question="... then the size of angle CED is ()", answer="140°", answer_type="text"
)


@pytest.mark.parametrize(
    "ending, expected, method",
    [
        ("Therefore the answer is \\boxed{D}.", "D", "boxed"),
        ("So the final answer is $\\boxed{\\text{D}}$", "D", "boxed"),
        ("<answer>D</answer>", "D", "answer_tag"),
        ("<answer>\\boxed{D}</answer>", "D", "boxed"),
        ("Answer: D", "D", "answer_label"),
        ("Answer:D", "D", "answer_label"),
        ("**Final Answer:** D", "D", "answer_label"),
        ("The answer is (option) D.", "D", "answer_label"),
        ("Therefore, the answer is option D, since the angles are co-interior.", "D", "answer_label"),
        ("Therefore, the correct answer is D.", "D", "answer_label"),
        ("Therefore, option D is selected.", "D", "option_selected"),
        ("I choose D.", "D", "answer_label"),
        ("故选D", "D", "zh_answer"),
        ("故选：D。", "D", "zh_answer"),
        ("所以答案是D。", "D", "zh_answer"),
        ("答案为：140°", "140°", "zh_answer"),
        ("The answer is 140°.", "140°", "answer_label"),
        ("140°", "140°", "bare"),
        ("D. 140°", "D. 140°", "bare"),
        ("Therefore, ∠CED = 140°.", "140°", "conclusion"),
    ],
)
def test_extracts_every_phrasing(ending, expected, method):
    ext = extract_answer(REASONING + ending)
    assert (ext.answer, ext.method) == (expected, method)
    assert judge(REASONING + ending, GEOQA).correct, ending


def test_last_final_answer_wins_over_mid_reasoning_mentions():
    # A letter and a boxed number mid-reasoning, then a later final answer.
    text = "Is the answer A? Maybe \\boxed{40}. " + REASONING + "After checking again.\nAnswer: D"
    assert extract_answer(text).answer == "D"
    text = "Answer: A would be wrong because ... " + REASONING + "So the final answer is \\boxed{D}"
    assert extract_answer(text).answer == "D"
    # A later verification paragraph that "selects" a point is no answer statement.
    text = REASONING + "Answer: D\n\nTo verify, select point B on AC and choose E as the midpoint of BC."
    assert extract_answer(text).answer == "D"


def test_no_answer_rather_than_guess():
    for text in [REASONING, REASONING + "Maybe it is 40 or 140, I am not sure", "", "   \n ", "The option A"]:
        verdict = judge(text, GEOQA)
        assert verdict.status == "no_answer" and not verdict.correct and verdict.extracted is None, text
    assert judge("", GEOQA).reason == "empty response"
    # A final \boxed{ cut off by the token limit states no answer.
    assert judge(REASONING + "So the answer is \\boxed{D = ∠CED = 180° - ∠C = ", GEOQA).status == "no_answer"


def test_think_block_answer_after_it_wins():
    text = "<think>Answer: A? no... \\boxed{B}</think>\nThe angle is 140°, so \\boxed{D}"
    assert extract_answer(text).answer == "D"


def test_choice_protocol_letter_and_text_both_directions():
    assert judge("... so ∠CED is \\boxed{140°}", GEOQA).correct  # value -> letter D
    v = judge("... \\boxed{40°}", GEOQA)
    assert (v.correct, v.letter) == (False, "A")
    assert "choice A" in v.reason and "gold is D" in v.reason
    v = judge("... \\boxed{100°}", GEOQA)
    assert v.status == "wrong" and "matches none of the choices" in v.reason


def test_value_protocol_r1v_style():
    assert judge("<think>...</think><answer>140°</answer>", GEOQA_VALUE, protocol="value").correct
    assert judge("<answer>140</answer>", GEOQA_VALUE, protocol="value").correct
    assert judge("<answer>140 degrees</answer>", GEOQA_VALUE, protocol="value").correct
    assert not judge("<answer>40°</answer>", GEOQA_VALUE, protocol="value").correct
    # With choices shown, a named letter stands for its choice text.
    assert judge("Answer: D", GEOQA, protocol="value").correct
    assert not judge("Answer: C", GEOQA, protocol="value").correct


def test_five_choices_a_to_e():
    p = Problem(
        id="x",
        source="mathvista",
        question="?",
        choices=["1", "2", "3", "4", "5"],
        answer_letter="E",
        answer_type="choice",
    )
    assert judge("... the answer is (E).", p).correct
    assert judge("... \\boxed{5}", p).correct
    assert not judge("... \\boxed{F}", p).correct  # F is no choice here


def test_chinese_response_and_choices():
    p = Problem(
        id="3",
        source="mathvista",
        question="△ABC的两内角平分线OB、OC相交于点O，若∠A＝110°，则∠BOC＝（）",
        choices=["135°", "140°", "145°", "150°"],
        answer="145°",
        answer_letter="C",
        answer_type="choice",
        language="zh",
    )
    zh = "解：∵∠A=110°，∴∠ABC+∠ACB=70°，∵OB、OC平分两角，∴∠OBC+∠OCB=35°，∴∠BOC=180°-35°=145°。"
    assert judge(zh + "故选C", p).correct
    assert judge(zh + "答案是：C", p).correct
    assert judge(zh + "所以∠BOC=145°", p).correct
    assert not judge(zh + "故选B", p).correct
    assert judge(zh + "正确答案为C", p).correct


def test_latex_values_and_units():
    cases = [
        ("4\\sqrt{2}", "4 \\sqrt { 2 }"),
        ("4√{2}", "4 \\sqrt { 2 }"),
        ("5.66", "4 \\sqrt { 2 }"),  # rounded answer to an exact gold
        ("\\frac{3}{2}", "1.5"),
        ("\\dfrac{3}{2} cm", "1.5"),
        ("2\\pi", "2π"),
        ("x = 18.8", "18.8"),
        ("18.79", "18.8"),  # a more precise answer to a rounded gold
        ("60^\\circ", "60"),
        ("12 square units", "12"),
        ("25海里", "25"),
        ("m \\angle C A M = 28", "28"),
    ]
    for pred, gold in cases:
        assert values_equal(pred, gold)[0], (pred, gold)
    for pred, gold in [("6", "4 \\sqrt { 2 }"), ("18.6", "18.8"), ("\\frac{2}{3}", "1.5"), ("2", "2\\pi")]:
        assert not values_equal(pred, gold)[0], (pred, gold)
    assert to_number("\\frac{x^2}{81}+\\frac{y^2}{9}=1") is None  # an equation is not a number


def test_equations_compare_as_text():
    p = Problem(
        id="10",
        source="mathverse",
        question="Determine the equation of the graph.",
        answer="\\frac{x^2}{81}+\\frac{y^2}{9}=1",
    )
    assert judge("\\boxed{\\frac{x^{2}}{81} + \\frac{y^{2}}{9} = 1}", p).correct
    assert not judge("\\boxed{\\frac{x^2}{9}+\\frac{y^2}{81}=1}", p).correct


def test_precision_and_integers():
    p = Problem(id="1", source="mathvista", question="?", answer="1.2", answer_type="float", precision=1)
    assert judge("\\boxed{1.22}", p).correct
    assert not judge("\\boxed{1.3}", p).correct
    p2 = Problem(id="88", source="mathvista", question="?", answer="30", answer_type="integer")
    assert judge("Answer: 30", p2).correct and judge("Answer: 30.0", p2).correct
    assert not judge("Answer: 30.4", p2).correct


def test_multi_answer_letters():
    p = Problem(
        id="33",
        source="mathverse",
        question="Choose 2 answers:",
        choices=["a", "b", "c", "d"],
        answer_letter="CD",
        answer_type="choice",
    )
    assert judge("The answers are C and D. Answer: C, D", p).correct
    assert judge("\\boxed{CD}", p).correct
    assert not judge("\\boxed{C}", p).correct
    assert parse_letters("(C) 145°", "ABCD") == "C"
    assert parse_letters("option c", "ABCD") == "C"
    assert parse_letters("a", "ABCD") is None  # an article, not a choice


def test_enormous_response_is_judged_from_its_tail():
    text = "blah " * 200_000 + "Answer: D"
    assert len(text) > 1_000_000
    assert judge(text, GEOQA).correct
