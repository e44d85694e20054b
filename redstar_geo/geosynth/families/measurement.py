"""Measurement families: areas and perimeters of rectangles, triangles, parallelograms and rhombi.

Each family is ``family(rng, depth) -> Draft`` and hands each depth to one builder; a builder draws from ``rng`` in
a fixed order, so one seed always gives one problem. (Circle and sector measures are in
:mod:`redstar_geo.geosynth.families.circles`.)
"""

from __future__ import annotations

import random
from fractions import Fraction

from redstar_geo.geosynth.core import Draft, Figure, Reject, Val, num, root, step
from redstar_geo.geosynth.families.shared import TRIPLES, angle_given, at, length_given, measure_draft, pick

_QUADRILATERAL_SIDES = (("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"))


def polygon_measure(rng: random.Random, depth: int) -> Draft:
    """Rectangle or triangle area (1), parallelogram with a 30°/45°/60° angle (2), rhombus perimeter (3).

    Registered as the ``polygon_area`` family; not to be confused with :func:`redstar_geo.geosynth.core.polygon_area`,
    which measures a polygon's area from its coordinates."""
    if depth == 1:
        return _rectangle(rng) if rng.random() < 0.5 else _triangle_area(rng)
    if depth == 2:
        return _parallelogram_area(rng)
    return _rhombus_perimeter(rng)


def _rectangle(rng: random.Random) -> Draft:
    """Depth 1, half the time: the area or the perimeter of a rectangle from its sides."""
    a, b = pick(rng, range(3, 13)), pick(rng, range(2, 9))
    if a == b:
        raise Reject("a square")
    pts = {"A": (0.0, float(b)), "B": (0.0, 0.0), "C": (float(a), 0.0), "D": (float(a), float(b))}
    fig = Figure(
        pts,
        segments=[*_QUADRILATERAL_SIDES],
        facts=[("right", "A", "B", "C"), ("right", "B", "C", "D"), ("right", "C", "D", "A")],
    )
    setup = ("ABCD is a rectangle", "四边形ABCD是矩形")
    givens = [length_given("B", "C", a), length_given("A", "B", b)]
    if rng.random() < 0.5:
        return measure_draft(
            figure=fig,
            setup=setup,
            givens=givens,
            ask=("the area of rectangle ABCD", "矩形ABCD的面积"),
            target=("area", "A", "B", "C", "D"),
            answer=num(a * b),
            mistakes=[
                (num(2 * (a + b)), "the perimeter"),
                (num(a + b), "added the sides"),
                (num(Fraction(a * b, 2)), "halved"),
            ],
            steps=[step("S = BC · AB", f"{a} * {b}", "rectangle area")],
        )
    return measure_draft(
        figure=fig,
        setup=setup,
        givens=givens,
        ask=("the perimeter of rectangle ABCD", "矩形ABCD的周长"),
        target=("perimeter", "A", "B", "C", "D"),
        answer=num(2 * (a + b)),
        mistakes=[
            (num(a * b), "the area"),
            (num(a + b), "half the perimeter"),
            (num(4 * a), "four times the longer side"),
        ],
        steps=[step("C = 2(BC + AB)", f"2 * ({a} + {b})", "rectangle perimeter")],
    )


def _triangle_area(rng: random.Random) -> Draft:
    """Depth 1, the other half: a triangle's area from a side and the altitude onto it."""
    base, hgt = pick(rng, range(4, 13)), pick(rng, range(3, 10))
    dx = rng.uniform(0.25, 0.75) * base
    pts = {"B": (0.0, 0.0), "C": (float(base), 0.0), "A": (dx, float(hgt)), "D": (dx, 0.0)}
    ans = Val(Fraction(base * hgt, 2))
    return measure_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("B", "C"), ("C", "A"), ("A", "D")],
            facts=[("right", "A", "D", "C"), ("collinear", "B", "D", "C")],
        ),
        setup=("in △ABC, AD ⊥ BC at D", "在△ABC中，AD⊥BC于点D"),
        givens=[length_given("B", "C", base), length_given("A", "D", hgt)],
        ask=("the area of △ABC", "△ABC的面积"),
        target=("area", "A", "B", "C"),
        answer=ans,
        mistakes=[
            (num(base * hgt), "forgot the ½"),
            (num(base + hgt), "added"),
            (Val(Fraction(base * hgt, 4)), "halved twice"),
        ],
        steps=[step("S = ½ · BC · AD", f"{base} * {hgt} / 2", "triangle area")],
    )


def _parallelogram_area(rng: random.Random) -> Draft:
    """Depth 2: a parallelogram's area from its sides and a 30°, 45° or 60° angle."""
    a, b = pick(rng, range(4, 11)), pick(rng, range(2, 8))
    ang = pick(rng, (30, 45, 60))
    pa = (0.0, 0.0)
    pd = at(pa, ang, b)
    pts = {"A": pa, "B": (float(a), 0.0), "D": pd, "C": (pd[0] + a, pd[1])}
    height = {30: num(Fraction(b, 2)), 45: root(2, Fraction(b, 2)), 60: root(3, Fraction(b, 2))}[ang]
    ans = Val(height.coef * a, height.rad)
    hexpr = {30: f"{b} / 2", 45: f"{b} * sqrt(2) / 2", 60: f"{b} * sqrt(3) / 2"}[ang]
    rule = "30° right triangle" if ang == 30 else "special right triangle"
    return measure_draft(
        figure=Figure(
            pts,
            segments=[*_QUADRILATERAL_SIDES],
            facts=[("parallel", "A", "B", "D", "C"), ("parallel", "A", "D", "B", "C")],
        ),
        setup=("ABCD is a parallelogram", "四边形ABCD是平行四边形"),
        givens=[length_given("A", "B", a), length_given("A", "D", b), angle_given("B", "A", "D", ang, "∠A")],
        ask=("the area of parallelogram ABCD", "平行四边形ABCD的面积"),
        target=("area", "A", "B", "C", "D"),
        answer=ans,
        mistakes=[
            (num(a * b), "used the slanted side as the height"),
            (Val(ans.coef / 2, ans.rad), "the triangle's area"),
            (num(2 * (a + b)), "the perimeter"),
        ],
        steps=[
            step(f"The height from D to AB is AD · sin{ang}°", hexpr, rule, True),
            step("S = AB · height", f"{a} * {hexpr}", "parallelogram area"),
        ],
    )


def _rhombus_perimeter(rng: random.Random) -> Draft:
    """Depth 3: a rhombus's perimeter from its diagonals (half-diagonals from a Pythagorean triple)."""
    p, q, c = pick(rng, TRIPLES)
    s = 4.0 / max(p, q)
    pts = {"O": (0.0, 0.0), "A": (-p * s, 0.0), "C": (p * s, 0.0), "B": (0.0, q * s), "D": (0.0, -q * s)}
    return measure_draft(
        figure=Figure(
            pts,
            segments=[*_QUADRILATERAL_SIDES, ("A", "C"), ("B", "D")],
            facts=[("equal", ("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")), ("right", "A", "O", "B")],
            scale=1 / s,
        ),
        setup=("the diagonals of rhombus ABCD meet at O", "菱形ABCD的对角线交于点O"),
        givens=[length_given("A", "C", 2 * p), length_given("B", "D", 2 * q)],
        ask=("the perimeter of rhombus ABCD", "菱形ABCD的周长"),
        target=("perimeter", "A", "B", "C", "D"),
        answer=num(4 * c),
        mistakes=[
            (num(2 * p * q), "the area"),
            (num(4 * (p + q)), "added half-diagonals"),
            (num(c), "one side only"),
            (num(8 * c), "used the full diagonals"),
        ],
        steps=[
            step(
                "The diagonals bisect each other at right angles: AO = AC ÷ 2",
                f"{2 * p} / 2",
                "rhombus diagonals",
                True,
            ),
            step("BO = BD ÷ 2", f"{2 * q} / 2", "rhombus diagonals"),
            step("AB = √(AO² + BO²)", f"sqrt({p}**2 + {q}**2)", "Pythagorean theorem", True),
            step("Perimeter = 4AB", f"4 * {c}", "rhombus perimeter"),
        ],
    )
