"""Fuzzing the judge: no exception and no pathological regex time on any string."""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redstar_geo.judge import extract_answer, judge, to_number, values_equal
from redstar_geo.schema import Problem

CHOICE = Problem(
    id="f",
    source="geoqa",
    question="?",
    choices=["40°", "\\frac{3}{2}", "2√{3}", "无法确定"],
    answer_letter="B",
    answer_type="choice",
)
VALUE = Problem(id="g", source="geometry3k", question="?", answer="4 \\sqrt { 2 }", answer_type="text")

# Text built from the pieces the patterns look for, so hypothesis explores the near-misses, not only noise.
PIECES = st.sampled_from(
    [
        "Answer",
        "answer is",
        ":",
        "：",
        "\\boxed{",
        "}",
        "{",
        "<answer>",
        "</answer>",
        "</think>",
        "故选",
        "答案是",
        "option",
        "(",
        ")",
        "A",
        "C",
        "E",
        " ",
        "\n",
        "\t",
        "°",
        "\\frac",
        "\\sqrt",
        "√",
        "π",
        "=",
        "1",
        "2.5",
        "-",
        "^",
        "*",
        "**",
        "$",
        "therefore",
        "所以",
        ".",
        ",",
        "cm",
        "\\text{",
        "x",
        "the correct option is",
        "选",
    ]
)
TEXTS = st.one_of(st.text(max_size=400), st.lists(PIECES, max_size=120).map("".join))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_judge_never_raises(text):
    for problem in (CHOICE, VALUE):
        for protocol in ("choice", "value"):
            verdict = judge(text, problem, protocol=protocol)
            assert verdict.status in ("correct", "wrong", "no_answer")
            assert verdict.correct == (verdict.status == "correct")
    extract_answer(text)
    to_number(text)
    values_equal(text, "4 \\sqrt { 2 }")


@settings(max_examples=60, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=6).map("".join), st.integers(1_000, 20_000))
def test_no_pathological_time_on_repetition(chunk, repeats):
    # Repetition loops are what long-CoT models produce when they fail; the judge must stay linear on them.
    text = (chunk * repeats)[:200_000]
    start = time.perf_counter()
    judge(text, CHOICE)
    judge(text, VALUE, protocol="value")
    assert time.perf_counter() - start < 5.0, f"{len(text)} chars of {chunk!r} took too long"
