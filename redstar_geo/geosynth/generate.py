"""Turn family drafts into verified :class:`~redstar_geo.schema.Problem` records, deterministically by seed.

Usage::

    from redstar_geo.geosynth import generate_problem, generate, verify_problem

    p = generate_problem(seed=7)                                  # one problem, image as PNG bytes
    p = generate_problem(seed=7, family="chord", difficulty=4, variant="vision", language="zh")
    problems = generate(100, base_seed=0)                         # problem i uses seed problem_seed(0, i)
    verify_problem(p)                                             # [] : re-solved from the stored coordinates

Problem ``i`` of a set uses seed ``base_seed * 1_000_003 + i``. Seeds from :data:`EVAL_SEED_START` (10**9) on are
reserved for the held-out ``geosynth`` benchmark (:data:`EVAL_BASE_SEED`); training data must stay below.
"""

from __future__ import annotations

import math
import random
import re

from redstar_geo.geosynth.core import Draft, Figure, Reject, Val, check_figure
from redstar_geo.geosynth.families import FAMILIES, MAX_DEPTH
from redstar_geo.geosynth.render import render
from redstar_geo.judge import to_number, values_equal
from redstar_geo.schema import LETTERS, Problem

SEED_STRIDE = 1_000_003
EVAL_SEED_START = 10**9
EVAL_BASE_SEED = 1000  # first eval problem seed: 1000 * 1_000_003 >= 10**9
VARIANTS = {"text": "text-dominant", "vision": "vision-dominant"}
VISION_SHARE = 0.4
ZH_SHARE = 1 / 3  # language="mixed": about MathVista-GEO's share of Chinese
LEVELS = tuple(range(1, 10))
MAX_TRIES = 400


def problem_seed(base_seed: int, index: int) -> int:
    """The seed of problem ``index`` in the set generated from ``base_seed``."""
    return base_seed * SEED_STRIDE + index


def difficulty_level(steps: list[dict], variant: str) -> int:
    """1-9: the steps' weights (2 for a theorem, 1 for arithmetic), plus 1 when the numbers must be read off the
    diagram."""
    return max(1, min(9, sum(s["weight"] for s in steps) + (variant == "vision")))


def _given_text(g, value: str, zh: bool) -> str:
    if zh:
        return f"{g.zh_name}为{value}" if g.zh_name else f"{g.name}={value}"
    return f"{g.name} is {value}" if g.name.startswith("the ") else f"{g.name} = {value}"


def _join_en(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def question_text(draft: Draft, variant: str, zh: bool) -> str:
    """GeoQA-style wording: "As shown in the figure, <setup>. If <givens>, then <ask> is ( )"."""
    setup, ask = draft.setup[zh], draft.ask[zh]
    if zh:
        if variant == "vision":
            return f"如图，{setup}，根据图中标注的数据，{ask}为（　）"
        return (
            f"如图，{setup}，若{'，'.join(_given_text(g, g.value.text, True) for g in draft.givens)}，则{ask}为（　）"
        )
    # "in △ABC" is no sentence of its own: the condition continues it after a comma
    clause = setup.startswith("in ")
    head = f"As shown in the figure, {setup}" + (", " if clause else ". ")
    if variant == "vision":
        return head + ("from" if clause else "From") + f" the values marked in the figure, {ask} is ( )"
    givens = _join_en([_given_text(g, g.value.text, False) for g in draft.givens])
    return head + ("if" if clause else "If") + f" {givens}, then {ask} is ( )"


def _number_label(name: str) -> str | None:
    m = re.fullmatch(r"∠(\d)", name)
    return m.group(1) if m else None


def _decorate(draft: Draft, variant: str) -> Figure:
    """The figure with the marks this variant shows: number names (∠1) always, values only in the vision variant."""
    fig = draft.figure
    arcs, lengths = list(fig.arcs), list(fig.lengths)
    for g in draft.givens:
        if g.measure[0] == "angle":
            label = g.value.text if variant == "vision" else _number_label(g.name)
            if label is not None:
                arcs.append((*g.measure[1:], label))
        elif g.measure[0] == "length" and variant == "vision":
            lengths.append((*g.measure[1:], g.value.text))
    for number, angle in draft.number_names.items():
        if not any(g.name == f"∠{number}" for g in draft.givens) or variant == "text":
            if not any(a[:3] == angle for a in arcs):
                arcs.append((*angle, number))
    return Figure(fig.points, fig.segments, fig.circles, fig.facts, arcs, lengths, fig.scale)


def _pick_distractors(draft: Draft) -> list[tuple[Val, str]]:
    angle = draft.target[0] == "angle"
    chosen: list[tuple[Val, str]] = []
    for val, why in draft.distractors:
        v = float(val)
        if not math.isfinite(v) or v <= 0 or (angle and v >= 180) or len(val.text) > 12:
            continue
        if angle and v != int(v) and float(draft.answer) == int(float(draft.answer)):
            continue  # 17.5° beside whole-degree choices gives itself away
        if any(values_equal(val.text, other.text)[0] for other in [draft.answer, *(c for c, _ in chosen)]):
            continue
        chosen.append((val, why))
        if len(chosen) == 3:
            return chosen
    raise Reject("fewer than three distinct plausible distractors")


def _build(
    draft: Draft, family: str, depth: int, variant: str, language: str, seed: int, rng: random.Random, pid: str
) -> Problem:
    givens = [(g.measure, float(g.value)) for g in draft.givens]
    errors = check_figure(draft.figure, givens, draft.target, float(draft.answer), draft.steps)
    if errors:
        raise Reject("; ".join(errors))
    distractors = _pick_distractors(draft)
    fig = _decorate(draft, variant)
    png = render(fig)
    options = [(draft.answer, None), *distractors]
    rng.shuffle(options)
    gold = next(i for i, (_, why) in enumerate(options) if why is None)
    zh = language == "zh"
    metadata = {
        "family": family,
        "depth": depth,
        "difficulty": difficulty_level(draft.steps, variant),
        "variant": VARIANTS[variant],
        "seed": seed,
        "steps": draft.steps,
        "givens": [{"measure": list(g.measure), "name": g.name, "value": g.value.text} for g in draft.givens],
        "target": list(draft.target),
        "distractors": [{"value": v.text, "mistake": why} for v, why in distractors],
        "figure": {
            "points": {k: list(v) for k, v in fig.points.items()},
            "scale": fig.scale,
            "facts": [list(f) for f in fig.facts],
        },
    }
    return Problem(
        id=pid,
        source="geosynth",
        question=question_text(draft, variant, zh),
        split="train",
        choices=[v.text for v, _ in options],
        answer_letter=LETTERS[gold],
        answer=draft.answer.text,
        answer_type="choice",
        language=language,
        image=png,
        metadata=metadata,
    )


def generate_problem(
    seed: int,
    *,
    family: str | None = None,
    difficulty: int | None = None,
    variant: str | None = None,
    language: str = "en",
    pid: str | None = None,
) -> Problem:
    """One verified problem from ``seed``; ``family``/``difficulty``/``variant`` ("text" or "vision") fix what is
    otherwise drawn at random, ``language`` is "en", "zh" or "mixed" (one in three Chinese)."""
    if family is not None and family not in FAMILIES:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    if difficulty is not None and difficulty not in LEVELS:
        raise ValueError(f"difficulty must be 1-9, got {difficulty!r}")
    if language not in ("en", "zh", "mixed"):
        raise ValueError(f"language must be en, zh or mixed, got {language!r}")
    rng = random.Random(seed)
    if language == "mixed":
        language = "zh" if rng.random() < ZH_SHARE else "en"
    names = sorted(FAMILIES)
    last = None
    # The family is drawn once, so families that reject more drafts are not under-represented; a requested
    # difficulty that a family may not reach draws it again on every try.
    fam = family or rng.choice(names)
    for _ in range(MAX_TRIES * (4 if difficulty else 1)):
        if family is None and difficulty is not None:
            fam = rng.choice(names)
        depth = rng.randint(1, MAX_DEPTH[fam])
        var = variant or ("vision" if rng.random() < VISION_SHARE else "text")
        try:
            draft = FAMILIES[fam](rng, depth)
            if var == "vision" and not all(g.drawable for g in draft.givens):
                if variant == "vision":
                    raise Reject("a given cannot be drawn")
                var = "text"
            if difficulty is not None and difficulty_level(draft.steps, var) != difficulty:
                raise Reject("other difficulty")
            return _build(draft, fam, depth, var, language, seed, rng, pid or f"geosynth-{seed}")
        except Reject as exc:
            last = exc
    raise RuntimeError(
        f"seed {seed}: no problem after {MAX_TRIES} tries (family={family}, difficulty={difficulty}, "
        f"variant={variant}); last rejection: {last}"
    )


def generate(n: int, base_seed: int = 0, **kwargs) -> list[Problem]:
    """``n`` problems, problem ``i`` from seed :func:`problem_seed` (base_seed, i); kwargs go to generate_problem."""
    return [generate_problem(problem_seed(base_seed, i), **kwargs) for i in range(n)]


def verify_problem(problem: Problem) -> list[str]:
    """Re-solve a GeoSynth problem from the coordinates stored in its metadata; every disagreement as a message.

    Checks the asserted facts, each given value, the steps' arithmetic, the gold choice's *displayed* value against
    the measured answer, and that the four choices are distinct values.
    """
    meta = problem.metadata
    fig = Figure(
        {k: tuple(v) for k, v in meta["figure"]["points"].items()},
        facts=meta["figure"]["facts"],
        scale=meta["figure"]["scale"],
    )
    givens = []
    for g in meta["givens"]:
        value = to_number(g["value"])
        if value is None:
            return [f"given {g['name']} = {g['value']!r} is not a number"]
        givens.append((g["measure"], value))
    answer = to_number(problem.choice_text(problem.answer_letter))
    if answer is None:
        return [f"gold choice {problem.answer_letter} = {problem.answer!r} is not a number"]
    errors = check_figure(fig, givens, meta["target"], answer, meta["steps"])
    for i, a in enumerate(problem.choices):
        for b in problem.choices[i + 1 :]:
            if values_equal(a, b)[0]:
                errors.append(f"choices {a!r} and {b!r} are the same value")
    return errors
