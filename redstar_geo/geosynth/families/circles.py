"""Circle families: inscribed and central angles, diameters, tangents, chords, and circle and sector measures.

Each family is ``family(rng, depth) -> Draft`` and hands each depth to one builder; a builder draws from ``rng`` in
a fixed order, so one seed always gives one problem. Every circle with a stated radius is drawn with radius
:data:`DRAWN_RADIUS`; the figure's ``scale`` carries the stated lengths.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

from redstar_geo.geosynth.core import Draft, Figure, Reject, num, pi_val, root, step
from redstar_geo.geosynth.families.shared import (
    TRIPLES,
    angle_draft,
    angle_given,
    at,
    length_ask,
    length_given,
    measure_draft,
    pick,
)

DRAWN_RADIUS = 3.0
_CENTER = (0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# Inscribed and central angles
# ---------------------------------------------------------------------------------------------------------------
_ABC_ON_CIRCLE = ("A, B and C lie on circle O", "点A、B、C在⊙O上")


def inscribed_angle(rng: random.Random, depth: int) -> Draft:
    """Inscribed vs central angle (1), with the isosceles △OAB (2), a cyclic quadrilateral (3)."""
    if depth == 1:
        return _inscribed_or_central(rng)
    if depth == 2:
        return _inscribed_then_isosceles(rng)
    return _cyclic_quadrilateral(rng)


def _inscribed_triangle(rng: random.Random, central_angles: range):
    """A central angle ∠AOB drawn from ``central_angles``, with C on the far arc; the points, sides and facts."""
    theta = pick(rng, central_angles)
    pts = {
        "O": _CENTER,
        "A": at(_CENTER, -90 - theta / 2, DRAWN_RADIUS),
        "B": at(_CENTER, -90 + theta / 2, DRAWN_RADIUS),
        "C": at(_CENTER, 90 + rng.uniform(-35, 35), DRAWN_RADIUS),
    }
    segments = [("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")]
    return theta, pts, segments, [("on_circle", "O", "A", "B", "C")]


def _inscribed_or_central(rng: random.Random) -> Draft:
    """Depth 1: ∠ACB from ∠AOB, or ∠AOB from ∠ACB."""
    theta, pts, segments, facts = _inscribed_triangle(rng, range(50, 161, 10))
    fig = Figure(pts, segments=segments, circles=[("O", "A")], facts=facts)
    x = theta // 2
    if rng.random() < 0.5:
        return angle_draft(
            figure=fig,
            setup=_ABC_ON_CIRCLE,
            givens=[angle_given("A", "O", "B", theta)],
            asked=("A", "C", "B"),
            value=x,
            mistakes=[(theta, "equal to the central angle"), (180 - x, "the other arc"), (90 - x, "complement")],
            steps=[step("∠ACB = ½∠AOB (inscribed angle theorem)", f"{theta} / 2", "inscribed angle", True)],
        )
    return angle_draft(
        figure=fig,
        setup=_ABC_ON_CIRCLE,
        givens=[angle_given("A", "C", "B", x)],
        asked=("A", "O", "B"),
        value=theta,
        mistakes=[
            (x, "equal to the inscribed angle"),
            (x / 2, "halved instead of doubled"),
            (180 - x, "supplement"),
        ],
        steps=[step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True)],
    )


def _inscribed_then_isosceles(rng: random.Random) -> Draft:
    """Depth 2: ∠OAB from ∠ACB, through ∠AOB and the isosceles △OAB."""
    theta, pts, segments, facts = _inscribed_triangle(rng, range(40, 141, 10))
    x = theta // 2
    ans = 90 - x
    return angle_draft(
        figure=Figure(pts, segments=[*segments, ("A", "B")], circles=[("O", "A")], facts=facts),
        setup=_ABC_ON_CIRCLE,
        givens=[angle_given("A", "C", "B", x)],
        asked=("O", "A", "B"),
        value=ans,
        mistakes=[(x, "equal to ∠ACB"), (180 - 2 * x, "∠AOB's supplement"), (90 - x / 2, "halved ∠ACB")],
        steps=[
            step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True),
            step("OA = OB, so ∠OAB = (180° − ∠AOB) ÷ 2", f"(180 - {theta}) / 2", "isosceles base angles", True),
        ],
    )


def _cyclic_quadrilateral(rng: random.Random) -> Draft:
    """Depth 3: ∠BCD in the cyclic quadrilateral ABCD from the central angle ∠BOD."""
    theta = pick(rng, range(80, 161, 10))
    pts = {
        "O": _CENTER,
        "B": at(_CENTER, -90 - theta / 2, DRAWN_RADIUS),
        "D": at(_CENTER, -90 + theta / 2, DRAWN_RADIUS),
        "C": at(_CENTER, -90 + rng.uniform(-theta / 2 + 18, theta / 2 - 18), DRAWN_RADIUS),
        "A": at(_CENTER, 90 + rng.uniform(-30, 30), DRAWN_RADIUS),
    }
    x = theta // 2
    return angle_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("O", "B"), ("O", "D")],
            circles=[("O", "A")],
            facts=[("on_circle", "O", "A", "B", "C", "D")],
        ),
        setup=("quadrilateral ABCD is inscribed in circle O", "四边形ABCD内接于⊙O"),
        givens=[angle_given("B", "O", "D", theta)],
        asked=("B", "C", "D"),
        value=180 - x,
        mistakes=[
            (x, "∠BAD instead of ∠BCD"),
            (180 - theta, "supplement of the central angle"),
            (theta, "equal to the central angle"),
        ],
        steps=[
            step("∠BAD = ½∠BOD (inscribed angle theorem)", f"{theta} / 2", "inscribed angle", True),
            step(
                "∠BCD = 180° − ∠BAD (opposite angles of a cyclic quadrilateral)",
                f"180 - {x}",
                "cyclic quadrilateral",
                True,
            ),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Diameters
# ---------------------------------------------------------------------------------------------------------------
def diameter(rng: random.Random, depth: int) -> Draft:
    """AB is a diameter: the angle in a semicircle is 90° (1), with an inscribed angle on the same arc (2)."""
    if depth == 1:
        return _angle_in_semicircle(rng)
    return _semicircle_same_arc(rng)


def _semicircle_triangle(rng: random.Random):
    """∠ABC = x with C on the circle over the diameter AB: x, the points, sides, facts and the steps to ∠BAC."""
    x = pick(rng, range(20, 71, 5))
    # ∠ABC = x puts C at central angle 2x from A
    pts = {
        "O": _CENTER,
        "A": at(_CENTER, 180, DRAWN_RADIUS),
        "B": at(_CENTER, 0, DRAWN_RADIUS),
        "C": at(_CENTER, 180 - 2 * x, DRAWN_RADIUS),
    }
    segments = [("A", "B"), ("A", "C"), ("B", "C")]
    facts = [("on_circle", "O", "A", "B", "C"), ("collinear", "A", "O", "B")]
    steps = [
        step("AB is a diameter, so ∠ACB = 90°", "90", "angle in a semicircle", True),
        step("∠BAC = 180° − ∠ACB − ∠ABC", f"180 - 90 - {x}", "triangle angle sum"),
    ]
    return x, pts, segments, facts, steps


def _semicircle_mistakes(x: int) -> list[tuple[int, str]]:
    """Wrong values for ∠BAC = 90° − ``x``."""
    return [(x, "copied the given angle"), (180 - 2 * x, "central angle"), (90 + x, "added instead of subtracted")]


def _angle_in_semicircle(rng: random.Random) -> Draft:
    """Depth 1: ∠BAC from ∠ABC, with ∠ACB = 90°."""
    x, pts, segments, facts, steps = _semicircle_triangle(rng)
    return angle_draft(
        figure=Figure(pts, segments=segments, circles=[("O", "A")], facts=facts),
        setup=("AB is a diameter of circle O and C is on the circle", "AB是⊙O的直径，点C在⊙O上"),
        givens=[angle_given("A", "B", "C", x)],
        asked=("B", "A", "C"),
        value=90 - x,
        mistakes=_semicircle_mistakes(x),
        steps=steps,
    )


def _semicircle_same_arc(rng: random.Random) -> Draft:
    """Depth 2: ∠ADC is given instead of ∠ABC; both stand on the arc AC."""
    x, pts, segments, facts, steps = _semicircle_triangle(rng)
    pts["D"] = at(_CENTER, rng.uniform(-150, -30), DRAWN_RADIUS)
    if abs(pts["D"][0] - pts["C"][0]) < 0.6:
        raise Reject("D under C")
    facts[0] = ("on_circle", "O", "A", "B", "C", "D")
    steps.insert(0, step("∠ABC = ∠ADC (inscribed angles on the same arc AC)", f"{x}", "inscribed angle", True))
    return angle_draft(
        figure=Figure(pts, segments=[*segments, ("A", "D"), ("C", "D")], circles=[("O", "A")], facts=facts),
        setup=("AB is a diameter of circle O, and C, D are on the circle", "AB是⊙O的直径，点C、D在⊙O上"),
        givens=[angle_given("A", "D", "C", x)],
        asked=("B", "A", "C"),
        value=90 - x,
        mistakes=_semicircle_mistakes(x),
        steps=steps,
    )


# ---------------------------------------------------------------------------------------------------------------
# Tangents
# ---------------------------------------------------------------------------------------------------------------
_TANGENT_RADIUS = 2.2  # smaller than DRAWN_RADIUS: the tangents' point P must fit beside the circle


def tangent(rng: random.Random, depth: int) -> Draft:
    """A tangent is perpendicular to the radius (1); two tangents from P (2), with an inscribed angle (3)."""
    if depth == 1:
        return _tangent_radius(rng)
    if depth == 2:
        return _two_tangents_central(rng)
    return _two_tangents_inscribed(rng)


def _tangent_radius(rng: random.Random) -> Draft:
    """Depth 1: ∠AOP from ∠P, with ∠OAP = 90°."""
    r = _TANGENT_RADIUS
    x = pick(rng, range(25, 61, 5))
    p = (r / math.sin(math.radians(x)), 0.0)
    a = at(_CENTER, 90 - x, r)
    return angle_draft(
        figure=Figure(
            {"O": _CENTER, "P": p, "A": a},
            segments=[("O", "A"), ("P", "A"), ("O", "P")],
            circles=[("O", "A")],
            facts=[("tangent", "P", "A", "O")],
        ),
        setup=("PA is tangent to circle O at A", "PA与⊙O相切于点A"),
        givens=[angle_given("A", "P", "O", x, "∠P")],
        asked=("A", "O", "P"),
        value=90 - x,
        mistakes=[(x, "copied ∠P"), (180 - x, "supplement of ∠P"), (180 - 2 * x, "doubled ∠P")],
        steps=[
            step("PA is tangent at A, so ∠OAP = 90°", "90", "tangent ⊥ radius", True),
            step("∠AOP = 180° − ∠OAP − ∠P", f"180 - 90 - {x}", "triangle angle sum"),
        ],
    )


def _two_tangents(rng: random.Random):
    """PA and PB tangent at A and B with ∠P = x: x, the points, sides, facts and the steps to ∠AOB."""
    r = _TANGENT_RADIUS
    x = pick(rng, range(30, 101, 10))
    p = (r / math.sin(math.radians(x / 2)), 0.0)
    pts = {"O": _CENTER, "P": p, "A": at(_CENTER, 90 - x / 2, r), "B": at(_CENTER, -(90 - x / 2), r)}
    segments = [("P", "A"), ("P", "B"), ("O", "A"), ("O", "B")]
    facts = [("tangent", "P", "A", "O"), ("tangent", "P", "B", "O")]
    steps = [
        step("PA, PB are tangents, so ∠OAP = ∠OBP = 90°", "90", "tangent ⊥ radius", True),
        step("∠AOB = 360° − ∠OAP − ∠OBP − ∠P", f"360 - 90 - 90 - {x}", "quadrilateral angle sum"),
    ]
    return x, pts, segments, facts, steps


def _two_tangents_central(rng: random.Random) -> Draft:
    """Depth 2: ∠AOB from ∠P in the quadrilateral PAOB."""
    x, pts, segments, facts, steps = _two_tangents(rng)
    return angle_draft(
        figure=Figure(pts, segments=segments, circles=[("O", "A")], facts=facts),
        setup=("PA and PB are tangent to circle O at A and B", "PA、PB分别与⊙O相切于点A、B"),
        givens=[angle_given("A", "P", "B", x, "∠P")],
        asked=("A", "O", "B"),
        value=180 - x,
        mistakes=[
            (x, "equal to ∠P"),
            (90 - x / 2, "half of ∠AOB's complement"),
            (360 - 2 * x, "subtracted ∠P twice"),
        ],
        steps=steps,
    )


def _two_tangents_inscribed(rng: random.Random) -> Draft:
    """Depth 3: ∠ACB, C on the far arc, half of ∠AOB."""
    x, pts, segments, facts, steps = _two_tangents(rng)
    pts["C"] = at(_CENTER, 180 + rng.uniform(-35, 35), _TANGENT_RADIUS)
    steps.append(step("∠ACB = ½∠AOB (inscribed angle theorem)", f"(180 - {x}) / 2", "inscribed angle", True))
    ans = (180 - x) // 2
    return angle_draft(
        figure=Figure(
            pts,
            segments=[*segments, ("C", "A"), ("C", "B")],
            circles=[("O", "A")],
            facts=[*facts, ("on_circle", "O", "A", "B", "C")],
        ),
        setup=(
            "PA and PB are tangent to circle O at A and B, and C is on the circle",
            "PA、PB分别与⊙O相切于点A、B，点C在⊙O上",
        ),
        givens=[angle_given("A", "P", "B", x, "∠P")],
        asked=("A", "C", "B"),
        value=ans,
        mistakes=[(180 - x, "∠AOB instead of ∠ACB"), (x, "equal to ∠P"), (x / 2, "half of ∠P")],
        steps=steps,
    )


# ---------------------------------------------------------------------------------------------------------------
# Chords
# ---------------------------------------------------------------------------------------------------------------
_CHORD_SETUP = ("AB is a chord of circle O and OC ⊥ AB at C", "AB是⊙O的弦，OC⊥AB于点C")
_RADIUS_ASK = ("the radius of circle O", "⊙O的半径")


def chord(rng: random.Random, depth: int) -> Draft:
    """OC ⊥ chord AB: chord from radius and distance (1), radius from chord and distance (2), the arch (3)."""
    if depth == 1:
        return _chord_from_radius(rng)
    if depth == 2:
        return _radius_from_chord(rng)
    return _radius_from_arch(rng)


def _chord_figure(rng: random.Random, *, through_arc: bool):
    """A chord AB at distance d from O, half-length h, radius r (a Pythagorean triple, legs in either order): d, h,
    r and the figure. ``through_arc`` extends OC to the radius OD that meets the arc at D."""
    d, h, r = pick(rng, TRIPLES)
    if rng.random() < 0.5:
        d, h = h, d
    s = DRAWN_RADIUS / r
    pts = {"O": _CENTER, "A": (-h * s, -d * s), "B": (h * s, -d * s), "C": (0.0, -d * s)}
    segments = [("A", "B"), ("O", "A"), ("O", "C")]
    facts = [("right", "O", "C", "B"), ("on_circle", "O", "A", "B"), ("collinear", "A", "C", "B")]
    if through_arc:
        pts["D"] = (0.0, -r * s)
        segments[2] = ("O", "D")
        facts += [("collinear", "O", "C", "D"), ("on_circle", "O", "A", "D")]
    return (d, h, r), Figure(pts, segments=segments, circles=[("O", "A")], facts=facts, scale=1 / s)


def _chord_from_radius(rng: random.Random) -> Draft:
    """Depth 1: AB from OA and OC."""
    (d, h, r), fig = _chord_figure(rng, through_arc=False)
    return measure_draft(
        figure=fig,
        setup=_CHORD_SETUP,
        givens=[length_given("O", "A", r), length_given("O", "C", d)],
        ask=length_ask("AB"),
        target=("length", "A", "B"),
        answer=num(2 * h),
        mistakes=[
            (num(h), "forgot to double AC"),
            (root(r * r + d * d, 2), "added the squares"),
            (num(r + d), "added OA and OC"),
        ],
        steps=[
            step("AC = √(OA² − OC²)", f"sqrt({r}**2 - {d}**2)", "Pythagorean theorem", True),
            step("OC ⊥ AB bisects the chord, so AB = 2AC", f"2 * {h}", "perpendicular bisects chord", True),
        ],
    )


def _radius_from_chord(rng: random.Random) -> Draft:
    """Depth 2: the radius from AB and OC."""
    (d, h, r), fig = _chord_figure(rng, through_arc=False)
    return measure_draft(
        figure=fig,
        setup=_CHORD_SETUP,
        givens=[length_given("A", "B", 2 * h), length_given("O", "C", d)],
        ask=_RADIUS_ASK,
        target=("length", "O", "A"),
        answer=num(r),
        mistakes=[
            (root(4 * h * h + d * d), "used AB instead of AC"),
            (num(h + d), "added AC and OC"),
            (root(abs(h * h - d * d)), "subtracted squares"),
        ],
        steps=[
            step("OC ⊥ AB bisects the chord, so AC = AB ÷ 2", f"{2 * h} / 2", "perpendicular bisects chord", True),
            step("OA = √(AC² + OC²)", f"sqrt({h}**2 + {d}**2)", "Pythagorean theorem", True),
        ],
    )


def _radius_from_arch(rng: random.Random) -> Draft:
    """Depth 3: the radius from the chord AB and the arch height CD."""
    (d, h, r), fig = _chord_figure(rng, through_arc=True)
    sag = r - d
    return measure_draft(
        figure=fig,
        setup=("AB is a chord of circle O, and the radius OD ⊥ AB at C", "AB是⊙O的弦，半径OD⊥AB于点C"),
        givens=[length_given("A", "B", 2 * h), length_given("C", "D", sag)],
        ask=_RADIUS_ASK,
        target=("length", "O", "D"),
        answer=num(r),
        mistakes=[
            (num(h), "took AC as the radius"),
            (num(h + sag), "added AC and CD"),
            (root(h * h + sag * sag), "hypotenuse of AC and CD"),
        ],
        steps=[
            step("AC = AB ÷ 2", f"{2 * h} / 2", "perpendicular bisects chord", True),
            step(
                "OA² = AC² + (OA − CD)², so OA = (AC² + CD²) ÷ (2CD)",
                f"({h}**2 + {sag}**2) / (2 * {sag})",
                "Pythagorean theorem",
                True,
            ),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Circle and sector measures
# ---------------------------------------------------------------------------------------------------------------
_RADII = range(2, 11)


def circle_measure(rng: random.Random, depth: int) -> Draft:
    """Circle area/circumference (1), sector area or arc length (2), arc length from an inscribed angle (3)."""
    if depth == 1:
        return _circle_area_or_circumference(rng)
    if depth == 2:
        return _sector_area_or_arc(rng)
    return _arc_from_inscribed_angle(rng)


def _circle_area_or_circumference(rng: random.Random) -> Draft:
    """Depth 1: the area or the circumference from the radius OA."""
    r = pick(rng, _RADII)
    s = DRAWN_RADIUS / r
    a = at(_CENTER, rng.uniform(-60, 60), DRAWN_RADIUS)
    fig = Figure({"O": _CENTER, "A": a}, segments=[("O", "A")], circles=[("O", "A")], scale=1 / s)
    setup = ("OA is a radius of circle O", "OA是⊙O的半径")
    if rng.random() < 0.5:
        return measure_draft(
            figure=fig,
            setup=setup,
            givens=[length_given("O", "A", r)],
            ask=("the area of circle O", "⊙O的面积"),
            target=("circle_area", "O", "A"),
            answer=pi_val(r * r),
            mistakes=[
                (pi_val(2 * r), "the circumference"),
                (pi_val(4 * r * r), "used the diameter as the radius"),
                (pi_val(r), "πr"),
            ],
            steps=[step("S = π · OA²", f"pi * {r}**2", "circle area")],
        )
    return measure_draft(
        figure=fig,
        setup=setup,
        givens=[length_given("O", "A", r)],
        ask=("the circumference of circle O", "⊙O的周长"),
        target=("circumference", "O", "A"),
        answer=pi_val(2 * r),
        mistakes=[
            (pi_val(r * r), "the area"),
            (pi_val(r), "πr"),
            (pi_val(4 * r), "used the diameter as the radius"),
        ],
        steps=[step("C = 2π · OA", f"2 * pi * {r}", "circumference")],
    )


def _sector_area_or_arc(rng: random.Random) -> Draft:
    """Depth 2: the area of sector AOB or the length of arc AB from the radius and ∠AOB."""
    r = pick(rng, _RADII)
    s = DRAWN_RADIUS / r
    theta = pick(rng, (30, 36, 40, 45, 60, 72, 90, 120, 135, 150))
    start = rng.uniform(-100, 100 - theta)
    pts = {"O": _CENTER, "A": at(_CENTER, start, DRAWN_RADIUS), "B": at(_CENTER, start + theta, DRAWN_RADIUS)}
    fig = Figure(pts, segments=[("O", "A"), ("O", "B")], circles=[("O", "A")], scale=1 / s)
    givens = [length_given("O", "A", r), angle_given("A", "O", "B", theta)]
    area, arc = pi_val(Fraction(theta * r * r, 360)), pi_val(Fraction(theta * 2 * r, 360))
    setup = ("OA and OB are radii of circle O", "OA、OB是⊙O的半径")
    if rng.random() < 0.5:
        return measure_draft(
            figure=fig,
            setup=setup,
            givens=givens,
            ask=("the area of sector AOB", "扇形AOB的面积"),
            target=("sector_area", "O", "A", "B"),
            answer=area,
            mistakes=[
                (arc, "the arc length"),
                (pi_val(r * r), "the whole circle"),
                (pi_val(Fraction(theta * r * r, 180)), "divided by 180° instead of 360°"),
            ],
            steps=[step("S = ∠AOB/360° · π · OA²", f"{theta} / 360 * pi * {r}**2", "sector area", True)],
        )
    return measure_draft(
        figure=fig,
        setup=setup,
        givens=givens,
        ask=("the length of arc AB", "弧AB的长"),
        target=("arc_length", "O", "A", "B"),
        answer=arc,
        mistakes=[
            (area, "the sector area"),
            (pi_val(2 * r), "the whole circumference"),
            (pi_val(Fraction(theta * r, 360)), "used πr instead of 2πr"),
        ],
        steps=[step("l = ∠AOB/360° · 2π · OA", f"{theta} / 360 * 2 * pi * {r}", "arc length", True)],
    )


def _arc_from_inscribed_angle(rng: random.Random) -> Draft:
    """Depth 3: the minor arc AB from the radius and the inscribed angle ∠ACB."""
    r = pick(rng, _RADII)
    s = DRAWN_RADIUS / r
    x = pick(rng, (20, 25, 30, 35, 40, 45, 50, 60, 70))
    pts = {
        "O": _CENTER,
        "A": at(_CENTER, -90 - x, DRAWN_RADIUS),
        "B": at(_CENTER, -90 + x, DRAWN_RADIUS),
        "C": at(_CENTER, 90 + rng.uniform(-30, 30), DRAWN_RADIUS),
    }
    fig = Figure(
        pts,
        segments=[("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")],
        circles=[("O", "A")],
        facts=[("on_circle", "O", "A", "B", "C")],
        scale=1 / s,
    )
    arc = pi_val(Fraction(2 * x * 2 * r, 360))
    return measure_draft(
        figure=fig,
        setup=("A, B and C lie on circle O", "点A、B、C在⊙O上"),
        givens=[length_given("O", "A", r), angle_given("A", "C", "B", x)],
        ask=("the length of the minor arc AB", "劣弧AB的长"),
        target=("arc_length", "O", "A", "B"),
        answer=arc,
        mistakes=[
            (pi_val(Fraction(x * 2 * r, 360)), "used ∠ACB as the central angle"),
            (pi_val(Fraction(2 * x * r * r, 360)), "the sector area"),
            (pi_val(2 * r - Fraction(2 * x * 2 * r, 360)), "the major arc"),
        ],
        steps=[
            step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True),
            step("l = ∠AOB/360° · 2π · OA", f"{2 * x} / 360 * 2 * pi * {r}", "arc length", True),
        ],
    )
