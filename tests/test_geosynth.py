"""GeoSynth: determinism, coverage, independent re-solve, distractors, variants, CLI round trip, held-out eval set."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from redstar_geo.benchmarks import get_benchmark
from redstar_geo.benchmarks.geosynth import load_geosynth
from redstar_geo.geosynth import (
    EVAL_SEED_START,
    FAMILIES,
    LEVELS,
    MAX_DEPTH,
    generate,
    generate_problem,
    problem_seed,
    verify_problem,
)
from redstar_geo.geosynth.core import Val, evaluate, root
from redstar_geo.geosynth.dataset import check_training_seeds
from redstar_geo.judge import judge, to_number, values_equal
from redstar_geo.schema import Problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample():
    return generate(2000, base_seed=0)


def test_same_seed_gives_identical_records_and_images():
    a, b = generate(40, base_seed=5), generate(40, base_seed=5)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    assert all(x.image == y.image for x, y in zip(a, b, strict=True))
    c = generate(40, base_seed=6)
    assert sum(x.image == y.image for x, y in zip(a, c, strict=True)) < 5


def test_every_family_and_level_appears(sample):
    assert len(FAMILIES) >= 12
    assert {p.metadata["family"] for p in sample} == set(FAMILIES)
    assert {(p.metadata["family"], p.metadata["depth"]) for p in sample} == {
        (f, d) for f in FAMILIES for d in range(1, MAX_DEPTH[f] + 1)
    }
    assert {p.metadata["difficulty"] for p in sample} == set(LEVELS)
    assert {p.metadata["variant"] for p in sample} == {"text-dominant", "vision-dominant"}


def test_requested_family_difficulty_and_variant_are_honoured():
    for level in LEVELS:
        p = generate_problem(level, difficulty=level)
        assert p.metadata["difficulty"] == level
    p = generate_problem(3, family="chord", variant="vision")
    assert (p.metadata["family"], p.metadata["variant"]) == ("chord", "vision-dominant")


def test_independent_resolve(sample):
    bad = {p.id: verify_problem(p) for p in sample if verify_problem(p)}
    assert bad == {}


@pytest.mark.slow
def test_independent_resolve_many_seeds():
    for p in generate(20_000, base_seed=1, language="mixed"):
        assert verify_problem(p) == [], p.id


def test_resolve_catches_a_wrong_gold_answer(sample):
    p = sample[0]
    wrong = next(letter for letter in p.letters if letter != p.answer_letter)
    bad = Problem.from_dict({**p.to_dict(), "answer_letter": wrong, "answer": p.choice_text(wrong)})
    assert any("the figure measures" in e for e in verify_problem(bad))


def test_choices_are_distinct_and_gold_is_judged_correct(sample):
    for p in sample:
        assert len(p.choices) == 4
        for i, a in enumerate(p.choices):
            assert all(not values_equal(a, b)[0] for b in p.choices[i + 1 :]), p.choices
        assert judge(f"So the answer follows. \\boxed{{{p.answer_letter}}}", p).correct
        other = next(letter for letter in p.letters if letter != p.answer_letter)
        assert not judge(f"\\boxed{{{other}}}", p).correct
        assert judge(f"\\boxed{{{p.answer}}}", p, protocol="value").correct
        assert len(p.metadata["distractors"]) == 3 and all(d["mistake"] for d in p.metadata["distractors"])


def test_steps_are_checkable_arithmetic(sample):
    for p in sample[:300]:
        steps = p.metadata["steps"]
        assert steps and all({"statement", "expr", "value"} <= set(s) for s in steps)
        assert all(abs(evaluate(s["expr"]) - s["value"]) < 1e-5 * max(1, abs(s["value"])) for s in steps)
        assert abs(steps[-1]["value"] - to_number(p.answer)) < 1e-4 * max(1, abs(steps[-1]["value"]))


def test_vision_variant_keeps_the_numbers_out_of_the_text(sample):
    vision = [p for p in sample if p.metadata["variant"] == "vision-dominant"]
    text = [p for p in sample if p.metadata["variant"] == "text-dominant"]
    assert len(vision) > 300 and len(text) > 300
    for p in vision:
        assert not re.search(r"\d", re.sub(r"∠\d", "", p.question)), p.question
    for p in text:
        assert all(g["value"] in p.question for g in p.metadata["givens"]), p.question


def test_vision_variant_draws_the_numbers():
    """The same draft in both variants: the vision diagram carries extra ink (the value labels)."""
    text = generate_problem(11, family="triangle_angles", variant="text")
    vision = generate_problem(11, family="triangle_angles", variant="vision")
    assert text.metadata["figure"] == vision.metadata["figure"]
    ink = [sum(1 for v in Image.open(io.BytesIO(p.image)).getdata() if v < 128) for p in (text, vision)]
    assert ink[1] > ink[0] + 50


def test_chinese_phrasing():
    p = generate_problem(4, language="zh")
    assert p.language == "zh" and p.question.startswith("如图") and p.question.endswith("（　）")
    en = generate_problem(4)
    assert en.choices == p.choices and en.answer_letter == p.answer_letter and en.image == p.image
    mixed = generate(300, base_seed=2, language="mixed")
    share = sum(q.language == "zh" for q in mixed) / len(mixed)
    assert 0.2 < share < 0.45


def test_images_are_sized_png():
    for p in generate(30, base_seed=3):
        img = Image.open(io.BytesIO(p.image))
        assert img.format == "PNG" and 200 <= img.width <= 400 and 200 <= img.height <= 400


def test_values_format_as_the_judge_reads_them():
    assert root(12).text == "2√3" and root(16).text == "4"
    assert Val(3, 3, plus=3).text == "3+3√3" and to_number("3+3√3") == pytest.approx(float(Val(3, 3, plus=3)))
    assert Val(__import__("fractions").Fraction(25, 3), pi=True).text == "25π/3"
    with pytest.raises(ValueError):
        evaluate("__import__('os')")


def test_training_seeds_cannot_reach_the_eval_range():
    check_training_seeds(10_000, 0)
    with pytest.raises(ValueError):
        check_training_seeds(10, 1000)
    assert problem_seed(1000, 0) >= EVAL_SEED_START


def test_eval_benchmark_is_held_out():
    bench = get_benchmark("geosynth")
    problems = load_geosynth("anything/geosynth:eval:20")
    assert len(problems) == 20 and all(p.split == "test" for p in problems)
    assert all(p.metadata["seed"] >= EVAL_SEED_START for p in problems)
    assert bench.default_data == "geosynth:eval" and bench.expected_count == 500
    assert [p.to_dict() for p in problems] == [p.to_dict() for p in load_geosynth("geosynth:eval:20")]


def test_cli_round_trip(tmp_path):
    out = tmp_path / "gs"
    cmd = [
        sys.executable,
        str(ROOT / "data_prep/geosynth.py"),
        "--n",
        "24",
        "--seed",
        "3",
        "--out",
        str(out),
        "--workers",
        "2",
        "--language",
        "mixed",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "24 problems" in run.stdout and "family:" in run.stdout and "difficulty:" in run.stdout
    problems = load_geosynth(str(out))
    assert len(problems) == 24 and len(list((out / "images").glob("*.png"))) == 24
    expected = generate(24, base_seed=3, language="mixed")
    for got, want in zip(problems, expected, strict=True):
        assert Path(got.image).read_bytes() == want.image
        assert (got.question, got.choices, got.answer_letter) == (want.question, want.choices, want.answer_letter)
        assert got.load_image().size == Image.open(io.BytesIO(want.image)).size
        assert verify_problem(got) == []
    refused = subprocess.run([*cmd[:5], "1000", *cmd[6:]], capture_output=True, text=True)
    assert refused.returncode != 0 and "reserved" in refused.stderr


def test_cli_user_errors_are_one_line_usage_errors(tmp_path):
    """An unusable output stops before generating: status 2, one ``error:`` line naming the option, no traceback."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    script = str(ROOT / "data_prep/geosynth.py")
    for flags, option in (
        (["--out", str(blocker)], "--out"),
        (["--out", str(blocker / "sub")], "--out"),
        (["--out", str(tmp_path / "gs"), "--hf_out", str(blocker)], "--hf_out"),
    ):
        run = subprocess.run([sys.executable, script, "--n", "4", *flags], capture_output=True, text=True)
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith(f"error: {option} ") and run.stderr.count("\n") == 1, run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "gs").exists()
