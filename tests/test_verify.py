"""Trace verification filters (redstar_geo.verify) on realistic slow-thinking traces, English and Chinese."""

import doctest

import pytest

import redstar_geo.verify
from redstar_geo.schema import Problem
from redstar_geo.verify import FILTERS, VerifyConfig, arithmetic_errors, verify_trace

ISOSCELES = Problem(
    id="geoqa-1",
    source="geoqa",
    question="In triangle ABC, AB = AC and ∠B = 40°. Find ∠A.",
    choices=["40°", "80°", "100°", "140°"],
    answer_letter="C",
    answer_type="choice",
)
ISOSCELES_ZH = Problem(
    id="geoqa-1-zh",
    source="geoqa",
    question="如图，在△ABC中，AB=AC，∠B=40°，则∠A的度数为（）",
    choices=["40°", "80°", "100°", "140°"],
    answer_letter="C",
    answer_type="choice",
    language="zh",
)
HYPOTENUSE = Problem(id="g3k-7", source="geometry3k", question="Find AB.", answer="10", answer_type="integer")

GOOD_EN = (
    "<think>\nOkay, let's see. The problem says triangle ABC is isosceles with AB = AC, and angle B is 40°. "
    "I need to find angle A.\n\n"
    "Since AB = AC, the base angles are equal, so ∠C = ∠B = 40°. The angles of a triangle add up to 180°, so "
    "∠A = 180° - 40° - 40° = 100°.\n\n"
    "Wait, let me verify that. 40° + 40° = 80°, and 180° - 80° = 100°. Yes, that matches.\n\n"
    "Hmm, let me also double-check that I used the right angles. The equal sides AB and AC meet at A, so the "
    "angles opposite them are ∠C and ∠B. Right, those are the base angles.\n"
    "</think>\n\n"
    "Since AB = AC, ∠B = ∠C = 40°, so ∠A = 180° - 2 × 40° = 100°. So the answer is \\boxed{C}."
)
GOOD_ZH = (
    "<think>\n好的，我们来看这道题。在△ABC中，AB=AC，所以这是一个等腰三角形，∠B=∠C=40°。\n\n"
    "三角形内角和为180°，所以∠A = 180° − 40° − 40° = 100°。\n\n"
    "等等，让我再验证一下。40° + 40° = 80°，180° − 80° = 100°，没错。\n\n"
    "另外，如果BC = 6 cm，那么底边上的高把BC分成两段，每段为6 ÷ 2 = 3 cm，这与题目无关，只是检查一下。"
    "用 \\frac{1}{2} \\times 6 \\times 4 = 12 也可以算面积。\n"
    "</think>\n\n因为AB=AC，所以∠C=∠B=40°，∠A=180°−2×40°=100°，故选C。答案是 \\boxed{C}。"
)
GOOD_VALUE = (
    "Okay, so we have a right triangle with legs AC = 6 and BC = 8, and AB is the hypotenuse. By the Pythagorean "
    "theorem, AB = \\sqrt{6^2+8^2} = \\sqrt{36 + 64} = \\sqrt{100} = 10.\n\n"
    "Let me check with the area: \\frac{1}{2} \\times 6 \\times 8 = 24, and the height to AB is "
    "2 × 24 / 10 = 4.8, which is shorter than both legs, as it should be. Also √2 ≈ 1.41, π × 3 ≈ 9.42.\n\n"
    "So the answer is \\boxed{10}."
)
CONFIG = VerifyConfig(min_chars=100)


def test_registry_has_one_signature_and_every_filter():
    assert set(FILTERS) == {
        "answer",
        "format",
        "repetition",
        "language_mixing",
        "truncation",
        "length",
        "step_arithmetic",
    }
    for check in FILTERS.values():
        assert check(GOOD_EN, ISOSCELES, CONFIG) is None


@pytest.mark.parametrize(
    ("trace", "problem", "config"),
    [
        (GOOD_EN, ISOSCELES, CONFIG),
        (GOOD_ZH, ISOSCELES_ZH, CONFIG),
        (GOOD_VALUE, HYPOTENUSE, VerifyConfig(min_chars=100, protocol="value")),
    ],
)
def test_good_traces_pass_every_filter(trace, problem, config):
    assert verify_trace(trace, problem, config=config) == []


def test_right_answer_behind_an_arithmetic_slip_is_caught():
    slip = GOOD_EN.replace("40° + 40° = 80°, and 180° - 80° = 100°", "40° + 40° = 90°, and 180° - 90° = 100°")
    assert verify_trace(slip, ISOSCELES, names=["answer"], config=CONFIG) == []
    assert verify_trace(slip, ISOSCELES, config=CONFIG) == ["arithmetic_error"]
    assert arithmetic_errors(slip) == ["40° + 40° = 90°", "180° - 90° = 100°"]


@pytest.mark.parametrize(
    "calculation",
    [
        "∠C = 180° − 60° − 80° = 50°",
        "√(6² + 8²) = 12",
        "\\sqrt{6^2+8^2}=9",
        "\\frac{1}{2} \\times 6 \\times 8 = 48",
        "2π × 3 = 5π",
        "AB = 2 × 5 = 12 cm",
        "3 + 4 = 8",
        "so the area is 6 × 4 = 24 = 12 / 2 = 5",
        "√2 ≈ 1.2",
    ],
)
def test_each_kind_of_wrong_calculation_is_caught(calculation):
    assert arithmetic_errors(f"Okay, so {calculation}. Then we go on.") != []


@pytest.mark.parametrize(
    "statement",
    [
        "x + 40 = 100, so x = 60",
        "2x + 10 = 50",
        "∠1 + 40° = 90°",
        "sin 30° = 1/2 and \\cos 60^\\circ = 0.5",
        "AB^2 = 36 + 64 = 100",
        "AB:BC = 3:4 = 6:8",
        "1 m = 100 cm",
        "180° = π",
        "the area is 9π ≈ 28.26 (taking π ≈ 3.14)",
        "1,000 + 500 = 1,500",
        "2. 3 + 4 = 7",
        "∠AOB = 2∠ACB = 80°",
        "180 - 40 - 40 = 110? No wait, 180 - 40 - 40 = 100.",
        "在Rt△ABC中，∠C=90°，AC=3，BC=4，所以AB=√(3²+4²)=5。",
    ],
)
def test_legitimate_statements_are_no_arithmetic_error(statement):
    assert arithmetic_errors(statement) == []


def test_repetition_loop_at_the_end_is_caught():
    loop = GOOD_EN.split("</think>")[0] + "Wait, let me recompute angle A one more time. " * 60
    assert "repetition_loop" in verify_trace(loop, ISOSCELES, config=CONFIG)
    assert FILTERS["repetition"]("So " + "the " * 400, ISOSCELES, CONFIG) == "repetition_loop"


def test_paragraph_repeated_mid_trace_is_caught():
    paragraph = "Hmm, so ∠A is 100°. But let me reconsider whether AB = AC really gives equal base angles.\n\n"
    trace = GOOD_EN.replace("</think>", paragraph * 5 + "</think>")
    assert FILTERS["repetition"](trace, ISOSCELES, CONFIG) == "repetition_loop"


def test_long_legitimate_trace_reusing_phrases_passes_repetition():
    steps = []
    for k, (b, c) in enumerate([(30, 70), (40, 60), (45, 55), (50, 40), (35, 65), (25, 80)] * 7):
        steps.append(
            f"Case {k + 1}: suppose angle ABC is {b}° and angle ACB is {c}°. Then angle BAC is "
            f"180° - {b}° - {c}° = {180 - b - c}°. Wait, let me verify angle ABC again: angle ABC is {b}°."
        )
    trace = "Okay, let's see. " + "\n\n".join(steps) + "\n\nSo the answer is \\boxed{C}."
    assert len(trace) > 5000
    assert FILTERS["repetition"](trace, ISOSCELES, CONFIG) is None
    assert FILTERS["step_arithmetic"](trace, ISOSCELES, CONFIG) is None


def test_chinese_with_formulas_point_names_and_units_passes_language_mixing():
    trace = (
        "在Rt△ABC中，∠ACB=90°，AC=6 cm，BC=8 cm，由勾股定理得 AB=\\sqrt{AC^2+BC^2}=10 cm。"
        "又因为 sin A = BC/AB = 0.8，所以 ∠A ≈ 53°，S△ABC = \\frac{1}{2} \\times 6 \\times 8 = 24 cm²。故选C。"
    )
    assert FILTERS["language_mixing"](trace, ISOSCELES_ZH, CONFIG) is None


def test_chinese_trace_switching_to_english_prose_fails():
    switched = GOOD_ZH.replace(
        "等等，让我再验证一下。",
        "Wait, let me think about this again in English, because the base angles of an isosceles triangle are "
        "equal and the sum of the angles in a triangle is always one hundred and eighty degrees. ",
    )
    assert FILTERS["language_mixing"](switched, ISOSCELES_ZH, CONFIG) == "language_mixing"


def test_english_trace_with_a_chinese_paragraph_fails():
    mixed = GOOD_EN.replace("Hmm, let me", "所以这个三角形的两个底角相等，顶角等于一百度。Hmm, let me")
    assert FILTERS["language_mixing"](mixed, ISOSCELES, CONFIG) == "language_mixing"
    assert FILTERS["language_mixing"](mixed, ISOSCELES, VerifyConfig(language="zh")) == "language_mixing"


def test_missing_answer_and_wrong_answer():
    no_answer = GOOD_EN.split("</think>")[0] + "</think>\n\nThe angles are as computed above, I think."
    assert "no_final_answer" in verify_trace(no_answer, ISOSCELES, config=CONFIG)
    wrong = GOOD_EN.replace("\\boxed{C}", "\\boxed{D}")
    assert verify_trace(wrong, ISOSCELES, config=CONFIG) == ["wrong_answer"]


def test_unclosed_think_and_truncation():
    unclosed = GOOD_EN.replace("</think>", "")
    assert FILTERS["truncation"](unclosed, ISOSCELES, CONFIG) == "unclosed_think"
    cut = GOOD_EN[: GOOD_EN.index("Yes, that matches")] + "Yes, that matches, and then the"
    assert FILTERS["truncation"](cut.replace("<think>\n", ""), ISOSCELES, CONFIG) == "truncated"
    cut_box = GOOD_EN[:-3]  # "... \boxed{"
    assert FILTERS["truncation"](cut_box, ISOSCELES, CONFIG) == "truncated"
    assert FILTERS["truncation"](GOOD_ZH, ISOSCELES_ZH, CONFIG) is None
    assert FILTERS["truncation"]("Okay.\n\n**Answer:** C", ISOSCELES, CONFIG) is None


def test_value_boxed_where_a_letter_was_asked_is_bad_format():
    boxed_value = GOOD_EN.replace("\\boxed{C}", "\\boxed{100°}")
    assert FILTERS["answer"](boxed_value, ISOSCELES, CONFIG) is None  # the judge maps 100° to choice C
    assert FILTERS["format"](boxed_value, ISOSCELES, CONFIG) == "bad_format"
    unboxed = GOOD_EN.replace("\\boxed{C}", "C")
    assert FILTERS["format"](unboxed, ISOSCELES, CONFIG) == "bad_format"
    value_config = VerifyConfig(min_chars=100, protocol="value")
    assert FILTERS["format"](boxed_value, ISOSCELES, value_config) is None
    assert FILTERS["format"](GOOD_EN, ISOSCELES, value_config) == "bad_format"


def test_length_limits():
    assert FILTERS["length"]("Answer: C", ISOSCELES, CONFIG) == "too_short"
    assert FILTERS["length"](GOOD_EN, ISOSCELES, VerifyConfig(max_chars=300)) == "too_long"


def test_verify_trace_returns_every_reason_at_once():
    bad = (
        "<think>\nOkay, so 180° - 40° - 40° = 110°. 所以这个三角形的两个底角相等，顶角等于一百一十度。\n"
        + "Let me check it once more. " * 30
    )
    assert verify_trace(bad, ISOSCELES, config=CONFIG) == [
        "unclosed_think",
        "repetition_loop",
        "language_mixing",
        "no_final_answer",
        "arithmetic_error",
    ]
    assert verify_trace(bad, ISOSCELES, names=["length", "answer"], config=CONFIG) == ["no_final_answer"]


def test_config_and_names_are_checked():
    with pytest.raises(ValueError, match="protocol"):
        VerifyConfig(protocol="letter")
    with pytest.raises(ValueError, match="language"):
        VerifyConfig(language="fr")
    with pytest.raises(ValueError, match="min_chars"):
        VerifyConfig(min_chars=10, max_chars=5)
    with pytest.raises(KeyError, match="known"):
        verify_trace(GOOD_EN, ISOSCELES, names=["nonsense"])


def test_verdict_cache_never_crosses_problems():
    other = Problem(id="o", source="x", question="q", choices=["1", "2", "3", "100"], answer_letter="D")
    assert FILTERS["answer"](GOOD_EN, ISOSCELES, CONFIG) is None
    assert FILTERS["answer"](GOOD_EN, other, CONFIG) == "wrong_answer"


def test_100k_character_loops_are_caught():
    """Degenerate 100k-character loops are caught (their timing is measured by benchmarks/bench_verify.py)."""
    loops = [
        "So ∠A = 180° - 40° - 40° = 100°. Wait, let me verify. " * 2000,
        "the " * 25_000,
        "所以∠A=100°，等等，让我再检查一下。" * 5000,
        "\\boxed{" * 15_000,
    ]
    for loop in loops:
        assert "repetition_loop" in verify_trace(loop, ISOSCELES, config=VerifyConfig(max_chars=1_000_000))


def test_doctests():
    assert doctest.testmod(redstar_geo.verify).failed == 0
