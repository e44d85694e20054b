"""Right-triangle families: the Pythagorean theorem and the 30°-60°-90° and 45°-45°-90° triangles.

Each family is ``family(rng, depth) -> Draft`` and hands each depth to one builder; a builder draws from ``rng`` in
a fixed order, so one seed always gives one problem.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

from redstar_geo.geosynth.core import Draft, Figure, Reject, Val, num, root, step
from redstar_geo.geosynth.families.shared import (
    TRIPLES,
    angle_given,
    foot,
    length_ask,
    length_given,
    measure_draft,
    pick,
)

_RIGHT_AT_C = ("in Rt△ABC, ∠ACB is a right angle", "在Rt△ABC中，∠ACB为直角")
_SIDES = (("A", "B"), ("B", "C"), ("C", "A"))


# ---------------------------------------------------------------------------------------------------------------
# Pythagoras
# ---------------------------------------------------------------------------------------------------------------
def pythagoras(rng: random.Random, depth: int) -> Draft:
    """Right triangle: a side from a Pythagorean triple (1), an irrational hypotenuse (2), the altitude (3)."""
    if depth == 1:
        return _triple_side(rng)
    if depth == 2:
        return _irrational_hypotenuse(rng)
    return _altitude_to_hypotenuse(rng)


def _triple_legs(rng: random.Random) -> tuple[int, int, int]:
    """Legs BC = a, AC = b (in either order) and hypotenuse c of a Pythagorean triple."""
    a, b, c = pick(rng, TRIPLES)
    if rng.random() < 0.5:
        a, b = b, a
    return a, b, c


def _right_triangle_points(a: int, b: int) -> tuple[float, dict]:
    """The drawing scale s (the longer leg drawn 4.5 long) and the points C=(0,0), B=(a·s,0), A=(0,b·s)."""
    s = 4.5 / max(a, b)
    return s, {"C": (0.0, 0.0), "B": (a * s, 0.0), "A": (0.0, b * s)}


def _triple_side(rng: random.Random) -> Draft:
    """Depth 1: the hypotenuse from the legs, or a leg from the hypotenuse and the other leg."""
    a, b, c = _triple_legs(rng)
    s, pts = _right_triangle_points(a, b)
    fig = Figure(pts, segments=[*_SIDES], facts=[("right", "A", "C", "B")], scale=1 / s)
    if rng.random() < 0.5:
        return measure_draft(
            figure=fig,
            setup=_RIGHT_AT_C,
            givens=[length_given("B", "C", a), length_given("A", "C", b)],
            ask=length_ask("AB"),
            target=("length", "A", "B"),
            answer=num(c),
            mistakes=[
                (num(a + b), "added the legs"),
                (root(abs(a * a - b * b)), "subtracted the squares"),
                (num(a * a + b * b), "forgot the square root"),
            ],
            steps=[step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True)],
        )
    return measure_draft(
        figure=fig,
        setup=_RIGHT_AT_C,
        givens=[length_given("A", "B", c), length_given("B", "C", a)],
        ask=length_ask("AC"),
        target=("length", "A", "C"),
        answer=num(b),
        mistakes=[
            (root(c * c + a * a), "added the squares"),
            (num(c - a), "subtracted the sides"),
            (num(c + a), "added the sides"),
        ],
        steps=[step("AC = √(AB² − BC²)", f"sqrt({c}**2 - {a}**2)", "Pythagorean theorem", True)],
    )


def _irrational_hypotenuse(rng: random.Random) -> Draft:
    """Depth 2: whole legs that are no triple, so AB is a surd."""
    a, b = rng.sample(range(1, 8), 2)
    if math.isqrt(a * a + b * b) ** 2 == a * a + b * b or max(a, b) > 3 * min(a, b):
        raise Reject("a triple, or a sliver of a triangle")
    s, pts = _right_triangle_points(a, b)
    ans = root(a * a + b * b)
    return measure_draft(
        figure=Figure(pts, segments=[*_SIDES], facts=[("right", "A", "C", "B")], scale=1 / s),
        setup=_RIGHT_AT_C,
        givens=[length_given("B", "C", a), length_given("A", "C", b)],
        ask=length_ask("AB"),
        target=("length", "A", "B"),
        answer=ans,
        mistakes=[
            (num(a + b), "added the legs"),
            (root(abs(a * a - b * b)), "subtracted"),
            (num(a * a + b * b), "forgot the square root"),
        ],
        steps=[step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True)],
    )


def _altitude_to_hypotenuse(rng: random.Random) -> Draft:
    """Depth 3: the altitude CD from the legs, through the hypotenuse and the area counted two ways."""
    a, b, c = _triple_legs(rng)
    s, pts = _right_triangle_points(a, b)
    pts["D"] = foot(pts["C"], pts["A"], pts["B"])
    ans = Val(Fraction(a * b, c))
    return measure_draft(
        figure=Figure(
            pts,
            segments=[*_SIDES, ("C", "D")],
            facts=[("right", "A", "C", "B"), ("right", "C", "D", "B"), ("collinear", "A", "D", "B")],
            scale=1 / s,
        ),
        setup=("in Rt△ABC, ∠ACB is a right angle and CD ⊥ AB at D", "在Rt△ABC中，∠ACB为直角，CD⊥AB于点D"),
        givens=[length_given("B", "C", a), length_given("A", "C", b)],
        ask=length_ask("CD"),
        target=("length", "C", "D"),
        answer=ans,
        mistakes=[
            (num(Fraction(c, 2)), "the median instead of the altitude"),
            (num(Fraction(a * b, 2)), "the area instead of the altitude"),
            (num(Fraction(a * b, a + b)), "divided by the sum of the legs"),
        ],
        steps=[
            step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True),
            step(
                "AB · CD = BC · AC (twice the area), so CD = BC · AC ÷ AB", f"{a} * {b} / {c}", "area two ways", True
            ),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Special right triangles
# ---------------------------------------------------------------------------------------------------------------
_SPECIAL_LEGS = range(2, 9)


def special_right(rng: random.Random, depth: int) -> Draft:
    """30°-60°-90° and 45°-45°-90° triangles (1-2); an oblique triangle split by an altitude (3)."""
    if depth == 1:
        return _short_leg_or_isosceles_hypotenuse(rng)
    if depth == 2:
        return _thirty_sixty_long_leg(rng)
    return _split_oblique_triangle(rng)


def _thirty_sixty(k: int) -> tuple[Figure, list]:
    """The 30°-60°-90° triangle with BC = ``k`` opposite ∠A = 30°, and its givens ∠A and AB."""
    pts = {"C": (0.0, 0.0), "B": (0.0, k * 1.0), "A": (k * math.sqrt(3), 0.0)}
    fig = Figure(pts, segments=[*_SIDES], facts=[("right", "A", "C", "B")])
    return fig, [angle_given("B", "A", "C", 30, "∠A"), length_given("A", "B", 2 * k)]


def _short_leg_or_isosceles_hypotenuse(rng: random.Random) -> Draft:
    """Depth 1: the leg opposite 30° (half the hypotenuse), or the hypotenuse of an isosceles right triangle."""
    k = pick(rng, _SPECIAL_LEGS)
    if rng.random() < 0.5:
        fig, givens = _thirty_sixty(k)
        return measure_draft(
            figure=fig,
            setup=_RIGHT_AT_C,
            givens=givens,
            ask=length_ask("BC"),
            target=("length", "B", "C"),
            answer=num(k),
            mistakes=[
                (root(3, k), "the side adjacent to 30°"),
                (num(2 * k), "the hypotenuse"),
                (root(2, k), "used 45° ratios"),
            ],
            steps=[
                step(
                    "The side opposite 30° is half the hypotenuse: BC = AB ÷ 2",
                    f"{2 * k} / 2",
                    "30° right triangle",
                    True,
                )
            ],
        )
    pts = {"C": (0.0, 0.0), "B": (0.0, k * 1.0), "A": (k * 1.0, 0.0)}
    ans = root(2, k)
    return measure_draft(
        figure=Figure(pts, segments=[*_SIDES], facts=[("right", "A", "C", "B"), ("equal", ("A", "C"), ("B", "C"))]),
        setup=("in Rt△ABC, ∠ACB is a right angle and AC = BC", "在Rt△ABC中，∠ACB为直角，AC=BC"),
        givens=[length_given("A", "C", k)],
        ask=length_ask("AB"),
        target=("length", "A", "B"),
        answer=ans,
        mistakes=[(num(2 * k), "added the legs"), (root(3, k), "used 30° ratios"), (num(k), "equal to a leg")],
        steps=[step("AB = √(AC² + BC²) = AC·√2", f"sqrt({k}**2 + {k}**2)", "Pythagorean theorem", True)],
    )


def _thirty_sixty_long_leg(rng: random.Random) -> Draft:
    """Depth 2: the leg AC adjacent to 30°, through the short leg and Pythagoras."""
    k = pick(rng, _SPECIAL_LEGS)
    rng.random()  # depth 1's coin between the two triangles; drawn here too so existing seeds keep their problems
    fig, givens = _thirty_sixty(k)
    ans = root(3, k)
    return measure_draft(
        figure=fig,
        setup=_RIGHT_AT_C,
        givens=givens,
        ask=length_ask("AC"),
        target=("length", "A", "C"),
        answer=ans,
        mistakes=[
            (num(k), "the side opposite 30°"),
            (root(5, k), "added the squares"),
            (root(2, k), "used 45° ratios"),
        ],
        steps=[
            step("BC = AB ÷ 2 (the side opposite 30°)", f"{2 * k} / 2", "30° right triangle", True),
            step("AC = √(AB² − BC²)", f"sqrt({2 * k}**2 - {k}**2)", "Pythagorean theorem", True),
        ],
    )


def _split_oblique_triangle(rng: random.Random) -> Draft:
    """Depth 3: ∠B = 45°, ∠C = 30° and the altitude AD = h: BC = h + √3·h, or the area of △ABC."""
    h = pick(rng, _SPECIAL_LEGS)
    pts = {"A": (0.0, float(h)), "D": (0.0, 0.0), "B": (-float(h), 0.0), "C": (h * math.sqrt(3), 0.0)}
    fig = Figure(
        pts,
        segments=[*_SIDES, ("A", "D")],
        facts=[("right", "A", "D", "C"), ("collinear", "B", "D", "C")],
    )
    setup = ("in △ABC, AD ⊥ BC at D", "在△ABC中，AD⊥BC于点D")
    givens = [angle_given("A", "B", "C", 45, "∠B"), angle_given("A", "C", "B", 30, "∠C"), length_given("A", "D", h)]
    steps = [
        step("∠B = 45°, so BD = AD", f"{h}", "45° right triangle", True),
        step("∠C = 30°, so AC = 2AD", f"2 * {h}", "30° right triangle", True),
        step("CD = √(AC² − AD²)", f"sqrt({2 * h}**2 - {h}**2)", "Pythagorean theorem", True),
        step("BC = BD + CD", f"{h} + sqrt(3) * {h}", "segment addition"),
    ]
    if rng.random() < 0.5:
        bc = Val(Fraction(h), 3, plus=Fraction(h))
        return measure_draft(
            figure=fig,
            setup=setup,
            givens=givens,
            ask=length_ask("BC"),
            target=("length", "B", "C"),
            answer=bc,
            mistakes=[
                (Val(Fraction(h), 2, plus=Fraction(h)), "used √2 for the 30° side"),
                (num(3 * h), "took CD = 2AD"),
                (root(3, 2 * h), "twice CD"),
            ],
            steps=steps,
        )
    area = Val(Fraction(h * h, 2), 3, plus=Fraction(h * h, 2))
    steps.append(step("S△ABC = ½ · BC · AD", f"({h} + sqrt(3) * {h}) * {h} / 2", "triangle area"))
    return measure_draft(
        figure=fig,
        setup=setup,
        givens=givens,
        ask=("the area of △ABC", "△ABC的面积"),
        target=("area", "A", "B", "C"),
        answer=area,
        mistakes=[
            (Val(Fraction(h * h), 3, plus=Fraction(h * h)), "forgot the ½"),
            (Val(Fraction(h * h, 2), 2, plus=Fraction(h * h, 2)), "used √2 for the 30° side"),
            (num(2 * h * h), "took CD = 3AD"),
        ],
        steps=steps,
    )
