"""Similarity families: a line parallel to a side (similar triangles, proportional segments, area ratios) and the
midsegment.

Each family is ``family(rng, depth) -> Draft`` and hands each depth to one builder; a builder draws from ``rng`` in
a fixed order, so one seed always gives one problem.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

from redstar_geo.geosynth.core import Draft, Figure, Given, Reject, Val, num, step
from redstar_geo.geosynth.families.shared import at, length_ask, length_given, lerp, measure_draft, pick, unit

_QUADRILATERAL_DBCE = ("the area of quadrilateral DBCE", "四边形DBCE的面积")


# ---------------------------------------------------------------------------------------------------------------
# Similar triangles: DE ∥ BC
# ---------------------------------------------------------------------------------------------------------------
_PARALLEL_SETUP = ("in △ABC, D is on AB, E is on AC, and DE ∥ BC", "在△ABC中，点D、E分别在AB、AC上，DE∥BC")


def similar_triangles(rng: random.Random, depth: int) -> Draft:
    """DE ∥ BC in △ABC: BC from DE (1), a proportional segment (2), areas by the square of the ratio (3)."""
    if depth == 1:
        return _side_from_parallel(rng)
    if depth == 2:
        return _proportional_segment(rng)
    return _area_by_ratio_squared(rng)


def _wedge(rng: random.Random):
    """What every depth draws first: AD = p and DB = q (p ≠ q), the angle ``phi`` at A, the direction of AC, and A
    and B; AB goes down-left from A and AC down-right, its length left for the depth to pin down."""
    p, q = pick(rng, range(1, 6)), pick(rng, range(1, 6))
    if p == q:
        raise Reject("a midline; see the midsegment family")
    phi = rng.uniform(40, 80)
    tilt = rng.uniform(-12, 12)
    dir_b, dir_c = -90 - phi / 2 + tilt, -90 + phi / 2 + tilt
    pa = (0.0, 0.0)
    pb = at(pa, dir_b, p + q)
    return (p, q), phi, dir_c, (pa, pb)


def _parallel_figure(p: int, q: int, pa, pb, dir_c: float, ac: float) -> Figure:
    """△ABC with AC = ``ac`` along ``dir_c`` and DE ∥ BC cutting AB at AD : DB = p : q, drawn with AB 5 long."""
    ab = p + q
    if not 0.6 * ab <= ac <= 1.6 * ab:
        raise Reject("lopsided triangle")
    pc = at(pa, dir_c, ac)
    s = 5.0 / ab
    t = p / (p + q)
    pts = {
        n: (x * s, y * s)
        for n, (x, y) in {"A": pa, "B": pb, "C": pc, "D": lerp(pa, pb, t), "E": lerp(pa, pc, t)}.items()
    }
    return Figure(
        pts,
        segments=[("A", "B"), ("A", "C"), ("B", "C"), ("D", "E")],
        facts=[("parallel", "D", "E", "B", "C"), ("collinear", "A", "D", "B"), ("collinear", "A", "E", "C")],
        scale=1 / s,
    )


def _side_from_parallel(rng: random.Random) -> Draft:
    """Depth 1: BC from DE and AB/AD."""
    (p, q), _, dir_c, (pa, pb) = _wedge(rng)
    k = Fraction(p + q, p)
    de = Fraction(round((p + q) * rng.uniform(0.75, 1.35) / k * 2), 2)  # DE to a half keeps the numbers GeoQA-like
    if de <= 0:
        raise Reject("DE too short")
    ac = _ray_length_to_distance(pa, dir_c, pb, float(de * k))
    ans = Val(de * k)
    return measure_draft(
        figure=_parallel_figure(p, q, pa, pb, dir_c, ac),
        setup=_PARALLEL_SETUP,
        givens=[length_given("A", "D", p), length_given("D", "B", q), Given(("length", "D", "E"), Val(de), "DE")],
        ask=length_ask("BC"),
        target=("length", "B", "C"),
        answer=ans,
        mistakes=[
            (Val(de * q / p), "used DB instead of AB"),
            (Val(de * (p + q) / q), "divided by DB"),
            (Val(de * p / (p + q)), "inverted the ratio"),
            (Val(de + q), "added DB"),
        ],
        steps=[
            step("AB = AD + DB", f"{p} + {q}", "segment addition"),
            step(
                "DE ∥ BC, so △ADE ∼ △ABC and BC = DE · AB ÷ AD",
                f"{_frac(de)} * {p + q} / {p}",
                "similar triangles",
                True,
            ),
        ],
    )


def _proportional_segment(rng: random.Random) -> Draft:
    """Depth 2: EC from AE, AD and DB."""
    (p, q), _, dir_c, (pa, pb) = _wedge(rng)
    k = Fraction(p + q, p)
    ae = Fraction(pick(rng, range(2, 7)))
    ac = float(ae * k)
    ec = ae * q / p
    return measure_draft(
        figure=_parallel_figure(p, q, pa, pb, dir_c, ac),
        setup=_PARALLEL_SETUP,
        givens=[length_given("A", "D", p), length_given("D", "B", q), Given(("length", "A", "E"), Val(ae), "AE")],
        ask=length_ask("EC"),
        target=("length", "E", "C"),
        answer=Val(ec),
        mistakes=[
            (Val(ae * p / q), "inverted the ratio"),
            (Val(ae * k), "AC instead of EC"),
            (Val(ae + q - p), "added the difference"),
        ],
        steps=[
            step(
                "DE ∥ BC, so AD / DB = AE / EC and EC = AE · DB ÷ AD",
                f"{_frac(ae)} * {q} / {p}",
                "proportional segments",
                True,
            )
        ],
    )


def _area_by_ratio_squared(rng: random.Random) -> Draft:
    """Depth 3: the area of DBCE from the area of △ADE and the square of the ratio AB/AD."""
    (p, q), phi, dir_c, (pa, pb) = _wedge(rng)
    k = Fraction(p + q, p)
    area = max(1, round(0.5 * p * p * rng.uniform(0.75, 1.35) * math.sin(math.radians(phi))))
    ac = float(2 * area * k / (p * math.sin(math.radians(phi))))  # S△ADE = ½·AD·AE·sin A
    ans = Val(area * (k * k - 1))
    return measure_draft(
        figure=_parallel_figure(p, q, pa, pb, dir_c, ac),
        setup=_PARALLEL_SETUP,
        givens=[
            length_given("A", "D", p),
            length_given("D", "B", q),
            Given(("area", "A", "D", "E"), num(area), "the area of △ADE", "△ADE的面积"),
        ],
        ask=_QUADRILATERAL_DBCE,
        target=("area", "D", "B", "C", "E"),
        answer=ans,
        mistakes=[
            (Val(area * (k - 1)), "used the linear ratio"),
            (Val(area * k * k), "the whole triangle"),
            (Val(area * k), "area of △ABC by the linear ratio"),
        ],
        steps=[
            step("AB = AD + DB", f"{p} + {q}", "segment addition"),
            step(
                "△ADE ∼ △ABC with ratio AB/AD, so S△ABC = S△ADE · (AB/AD)²",
                f"{area} * ({p + q} / {p})**2",
                "similar triangles: area ratio",
                True,
            ),
            step("S(DBCE) = S△ABC − S△ADE", f"{area} * ({p + q} / {p})**2 - {area}", "area subtraction"),
        ],
    )


def _frac(x) -> str:
    """``x`` as step arithmetic: ``3`` or ``(7 / 2)``."""
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"({x.numerator} / {x.denominator})"


def _ray_length_to_distance(a, direction: float, b, target: float) -> float:
    """How far along the ray from ``a`` in ``direction`` the point X with |BX| = ``target`` lies (the farther one)."""
    u = unit(direction)
    wx, wy = a[0] - b[0], a[1] - b[1]
    bb = 2 * (u[0] * wx + u[1] * wy)
    disc = bb * bb - 4 * (wx * wx + wy * wy - target * target)
    if disc <= 0:
        raise Reject("no such point")
    return (-bb + math.sqrt(disc)) / 2


# ---------------------------------------------------------------------------------------------------------------
# Midsegments
# ---------------------------------------------------------------------------------------------------------------
_MIDPOINTS_SETUP = ("in △ABC, D and E are the midpoints of AB and AC", "在△ABC中，D、E分别是AB、AC的中点")
_MIDSEGMENT_SEGMENTS = (("A", "B"), ("A", "C"), ("B", "C"), ("D", "E"))
_MIDPOINT_FACTS = (("equal", ("A", "D"), ("D", "B")), ("equal", ("A", "E"), ("E", "C")))


def midsegment(rng: random.Random, depth: int) -> Draft:
    """D, E are the midpoints of AB, AC: DE = ½BC (1), the perimeter of △ADE (2), the area of DBCE (3)."""
    if depth == 1:
        return _midsegment_length(rng)
    if depth == 2:
        return _half_perimeter(rng)
    return _trapezoid_area(rng)


def _midpoint_triangle(rng: random.Random):
    """Whole sides AB, AC, BC of a triangle that is not flat, the height of A over BC, and the points A, B, C, D, E
    (B=(0,0), C=(BC,0), D and E the midpoints of AB and AC)."""
    ab, ac = pick(rng, range(4, 13)), pick(rng, range(4, 13))
    lo, hi = abs(ab - ac) + 2, ab + ac - 2
    if lo > hi:
        raise Reject("no triangle")
    bc = pick(rng, range(lo, hi + 1))
    # place by the three sides: B=(0,0), C=(bc,0), A from the law of cosines
    ax = (ab * ab + bc * bc - ac * ac) / (2 * bc)
    ay = math.sqrt(max(ab * ab - ax * ax, 0.0))
    if ay < 0.35 * bc:
        raise Reject("flat")
    pa, pb, pc = (ax, ay), (0.0, 0.0), (float(bc), 0.0)
    return (ab, ac, bc), ay, {"A": pa, "B": pb, "C": pc, "D": lerp(pa, pb, 0.5), "E": lerp(pa, pc, 0.5)}


def _midsegment_figure(pts: dict) -> Figure:
    return Figure(pts, segments=[*_MIDSEGMENT_SEGMENTS], facts=[*_MIDPOINT_FACTS])


def _midsegment_length(rng: random.Random) -> Draft:
    """Depth 1: DE from BC."""
    (_, _, bc), _, pts = _midpoint_triangle(rng)
    return measure_draft(
        figure=_midsegment_figure(pts),
        setup=_MIDPOINTS_SETUP,
        givens=[length_given("B", "C", bc)],
        ask=length_ask("DE"),
        target=("length", "D", "E"),
        answer=Val(Fraction(bc, 2)),
        mistakes=[(num(bc), "equal to BC"), (num(2 * bc), "doubled BC"), (Val(Fraction(bc, 3)), "a third of BC")],
        steps=[step("DE is a midline of △ABC, so DE = ½BC", f"{bc} / 2", "midline theorem", True)],
    )


def _half_perimeter(rng: random.Random) -> Draft:
    """Depth 2: the perimeter of △ADE, half that of △ABC."""
    (ab, ac, bc), _, pts = _midpoint_triangle(rng)
    return measure_draft(
        figure=_midsegment_figure(pts),
        setup=_MIDPOINTS_SETUP,
        givens=[length_given("A", "B", ab), length_given("A", "C", ac), length_given("B", "C", bc)],
        ask=("the perimeter of △ADE", "△ADE的周长"),
        target=("perimeter", "A", "D", "E"),
        answer=Val(Fraction(ab + ac + bc, 2)),
        mistakes=[
            (num(ab + ac + bc), "the perimeter of △ABC"),
            (Val(Fraction(ab + ac, 2) + bc), "kept DE = BC"),
            (Val(Fraction(ab + ac + bc, 4)), "quartered"),
        ],
        steps=[
            step("DE = ½BC (midline)", f"{bc} / 2", "midline theorem", True),
            step("AD = ½AB", f"{ab} / 2", "midpoint"),
            step("AE = ½AC", f"{ac} / 2", "midpoint"),
            step("Perimeter of △ADE = AD + AE + DE", f"{ab} / 2 + {ac} / 2 + {bc} / 2", "perimeter"),
        ],
    )


def _trapezoid_area(rng: random.Random) -> Draft:
    """Depth 3: the area of DBCE, three quarters of △ABC's; the triangle is rescaled so its drawn area is the
    stated one."""
    (_, _, bc), ay, pts = _midpoint_triangle(rng)
    total = pick(rng, range(4, 41, 4))
    s = math.sqrt(total / (0.5 * bc * ay))
    ans = num(Fraction(3 * total, 4))
    return measure_draft(
        figure=_midsegment_figure({n: (x * s, y * s) for n, (x, y) in pts.items()}),
        setup=_MIDPOINTS_SETUP,
        givens=[Given(("area", "A", "B", "C"), num(total), "the area of △ABC", "△ABC的面积")],
        ask=_QUADRILATERAL_DBCE,
        target=("area", "D", "B", "C", "E"),
        answer=ans,
        mistakes=[(num(Fraction(total, 2)), "used the linear ratio"), (num(Fraction(total, 4)), "the area of △ADE")],
        steps=[
            step("DE ∥ BC and DE = ½BC (midline)", "1 / 2", "midline theorem", True),
            step(
                "△ADE ∼ △ABC with ratio ½, so S△ADE = ¼ S△ABC", f"{total} / 4", "similar triangles: area ratio", True
            ),
            step("S(DBCE) = S△ABC − S△ADE", f"{total} - {total} / 4", "area subtraction"),
        ],
    )
