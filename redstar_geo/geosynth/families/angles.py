"""Angle families: parallel lines cut by a transversal, triangle angle sums and exterior angles, isosceles triangles,
angle bisectors.

Each family is ``family(rng, depth) -> Draft`` and hands each depth to one builder; a builder draws from ``rng`` in
a fixed order, so one seed always gives one problem.
"""

from __future__ import annotations

import math
import random

from redstar_geo.geosynth.core import Draft, Figure, Reject, step
from redstar_geo.geosynth.families.shared import angle_draft, angle_given, at, hit, pick, triangle

# ---------------------------------------------------------------------------------------------------------------
# Parallel lines
# ---------------------------------------------------------------------------------------------------------------
# The eight angles a transversal EF makes with AB (at G) and CD (at H): (side of EF, above/below the line).
_G_ANGLES = {
    ("E", "G", "B"): ("R", "up"),
    ("A", "G", "E"): ("L", "up"),
    ("A", "G", "H"): ("L", "down"),
    ("B", "G", "H"): ("R", "down"),
}
_H_ANGLES = {
    ("G", "H", "D"): ("R", "up"),
    ("C", "H", "G"): ("L", "up"),
    ("C", "H", "F"): ("L", "down"),
    ("D", "H", "F"): ("R", "down"),
}


def parallel_lines(rng: random.Random, depth: int) -> Draft:
    """AB ∥ CD cut by a transversal (∠1 -> ∠2); at depth 2-3 the "zigzag" ∠BED = ∠ABE + ∠CDE."""
    if depth == 1:
        return _transversal(rng)
    return _zigzag(rng, given_on_extension=depth == 3)


def _transversal(rng: random.Random) -> Draft:
    """Depth 1: ∠1 at G and ∠2 at H, any pair of the eight angles; ∠2 from ∠1 in one or two steps."""
    t = pick(rng, [a for a in range(35, 146, 5) if abs(a - 90) >= 15])
    g = (0.0, 2.6)
    h = at(g, t + 180, 2.6 / math.sin(math.radians(t)))
    lo, hi = min(g[0], h[0]), max(g[0], h[0])
    pts = {
        "G": g,
        "H": h,
        "E": at(g, t, 1.4),
        "F": at(h, t + 180, 1.4),
        "A": (lo - 2.4, 2.6),
        "B": (hi + 2.4, 2.6),
        "C": (lo - 2.4, 0.0),
        "D": (hi + 2.4, 0.0),
    }
    one, place_1 = rng.choice(list(_G_ANGLES.items()))
    two, place_2 = rng.choice(list(_H_ANGLES.items()))
    value = {("R", "up"): t, ("L", "down"): t, ("L", "up"): 180 - t, ("R", "down"): 180 - t}
    x, y = value[place_1], value[place_2]
    fig = Figure(
        pts,
        segments=[("A", "B"), ("C", "D"), ("E", "F")],
        facts=[
            ("parallel", "A", "B", "C", "D"),
            ("collinear", "E", "G", "H"),
            ("collinear", "E", "H", "F"),
            ("collinear", "A", "G", "B"),
            ("collinear", "C", "H", "D"),
        ],
    )
    return angle_draft(
        figure=fig,
        setup=("AB ∥ CD, and the line EF meets AB at G and CD at H", "AB∥CD，直线EF分别交AB、CD于点G、H"),
        givens=[angle_given(*one, x, name="∠1")],
        asked=two,
        name="∠2",
        value=y,
        mistakes=[(180 - y, "supplement instead of the angle"), (90 - y / 2, "halved the supplement")],
        steps=_transversal_steps(place_1, place_2, x, y),
        number_names={"1": one, "2": two},
    )


def _transversal_steps(place_1: tuple[str, str], place_2: tuple[str, str], x: int, y: int) -> list[dict]:
    """From ∠1 = ``x`` to ∠2 = ``y``, given where each lies: (side of EF, above/below its parallel line)."""
    (side_1, half_1), (side_2, half_2) = place_1, place_2
    interior = half_1 == "down" and half_2 == "up"
    exterior = half_1 == "up" and half_2 == "down"
    if place_1 == place_2:
        return [step("AB ∥ CD, so ∠2 = ∠1 (corresponding angles)", f"{x}", "corresponding angles", True)]
    if (interior or exterior) and side_1 != side_2:
        kind = "alternate interior angles" if interior else "alternate exterior angles"
        return [step(f"AB ∥ CD, so ∠2 = ∠1 ({kind})", f"{x}", kind, True)]
    if interior and side_1 == side_2:
        return [
            step(
                "AB ∥ CD, so ∠1 + ∠2 = 180° (co-interior angles), ∠2 = 180° − ∠1",
                f"180 - {x}",
                "co-interior angles",
                True,
            )
        ]
    corresponding = step(
        "AB ∥ CD, so the angle at H corresponding to ∠1 equals ∠1", f"{x}", "corresponding angles", True
    )
    if x == y:
        return [corresponding, step("∠2 and that angle are vertical angles, so ∠2 = ∠1", f"{x}", "vertical angles")]
    return [
        corresponding,
        step("∠2 and that angle form a straight line, so ∠2 = 180° − ∠1", f"180 - {x}", "angles on a straight line"),
    ]


def _zigzag(rng: random.Random, *, given_on_extension: bool) -> Draft:
    """Depth 2: E between AB ∥ CD, ∠BED from ∠ABE and ∠CDE. Depth 3 (``given_on_extension``): ∠EDF is given
    instead of ∠CDE, F on the extension of CD."""
    a, b = pick(rng, range(20, 71, 5)), pick(rng, range(20, 71, 5))
    h1, h2 = rng.uniform(1.6, 2.4), rng.uniform(1.6, 2.4)
    e = (0.0, 0.0)
    bp, dp = (-h1 / math.tan(math.radians(a)), h1), (-h2 / math.tan(math.radians(b)), -h2)
    left = min(bp[0], dp[0])
    pts = {"E": e, "B": bp, "D": dp, "A": (2.0, h1), "C": (2.0, -h2)}
    segments = [("B", "A"), ("D", "C"), ("B", "E"), ("E", "D")]
    facts = [("parallel", "A", "B", "C", "D")]
    steps = [
        step(
            "Draw EM ∥ AB through E; then EM ∥ CD too, and ∠BEM = ∠ABE (alternate interior angles)",
            f"{a}",
            "alternate interior angles",
            True,
        ),
        step("∠MED = ∠CDE (alternate interior angles)", f"{b}", "alternate interior angles", True),
        step("∠BED = ∠BEM + ∠MED", f"{a} + {b}", "angle addition"),
    ]
    givens = [angle_given("A", "B", "E", a)]
    setup = ("AB ∥ CD and E lies between the two lines", "AB∥CD，点E在两平行线之间")
    if given_on_extension:
        pts["F"] = (left - 1.2, -h2)
        segments[1] = ("F", "C")
        facts.append(("collinear", "F", "D", "C"))
        givens.append(angle_given("E", "D", "F", 180 - b))
        steps.insert(
            0, step("∠CDE = 180° − ∠EDF (angles on a straight line)", f"180 - {180 - b}", "angles on a straight line")
        )
        setup = (
            "AB ∥ CD, E lies between the two lines, and F is on the extension of CD",
            "AB∥CD，点E在两平行线之间，F在CD的延长线上",
        )
    else:
        givens.append(angle_given("C", "D", "E", b))
    s = a + b
    return angle_draft(
        figure=Figure(pts, segments=segments, facts=facts),
        setup=setup,
        givens=givens,
        asked=("B", "E", "D"),
        value=s,
        mistakes=[
            (180 - s, "supplement of the sum"),
            (abs(a - b), "difference"),
            (360 - s - 90, "subtracted from a full turn"),
        ],
        steps=steps,
    )


# ---------------------------------------------------------------------------------------------------------------
# Triangle angle sums and exterior angles
# ---------------------------------------------------------------------------------------------------------------
def triangle_angles(rng: random.Random, depth: int) -> Draft:
    """Triangle angle sum (depth 1), the exterior angle (2), two triangles with vertical angles (3)."""
    if depth == 1:
        return _angle_sum(rng)
    if depth == 2:
        return _exterior_angle(rng)
    return _vertical_angle_triangles(rng)


def _random_triangle(rng: random.Random):
    """The angles ∠A, ∠B (multiples of 5°) and ∠C of a triangle that is not flat, and its vertices (see
    :func:`~redstar_geo.geosynth.families.shared.triangle`)."""
    a, b = pick(rng, range(30, 101, 5)), pick(rng, range(30, 101, 5))
    c = 180 - a - b
    if c < 25:
        raise Reject("flat triangle")
    return (a, b, c), triangle(a, b)


def _angle_sum(rng: random.Random) -> Draft:
    """Depth 1: ∠C from ∠A and ∠B."""
    (a, b, c), (pa, pb, pc) = _random_triangle(rng)
    return angle_draft(
        figure=Figure({"A": pa, "B": pb, "C": pc}, segments=[("A", "B"), ("B", "C"), ("C", "A")]),
        setup=("in △ABC", "在△ABC中"),
        givens=[angle_given("B", "A", "C", a, "∠A"), angle_given("A", "B", "C", b, "∠B")],
        asked=("A", "C", "B"),
        name="∠C",
        value=c,
        mistakes=[
            (a + b, "exterior angle instead of the interior one"),
            (180 - a, "ignored ∠B"),
            (abs(a - b), "difference of the given angles"),
        ],
        steps=[step("∠C = 180° − ∠A − ∠B", f"180 - {a} - {b}", "triangle angle sum")],
    )


def _exterior_angle(rng: random.Random) -> Draft:
    """Depth 2: the exterior angle ∠CBD from the two remote interior angles."""
    (a, b, c), (pa, pb, pc) = _random_triangle(rng)
    pts = {"A": pa, "B": pb, "C": pc, "D": (pb[0] + 2.2, 0.0)}
    return angle_draft(
        figure=Figure(pts, segments=[("A", "D"), ("B", "C"), ("C", "A")], facts=[("collinear", "A", "B", "D")]),
        setup=("in △ABC, D is on the extension of AB", "在△ABC中，D为AB延长线上一点"),
        givens=[angle_given("B", "A", "C", a, "∠A"), angle_given("A", "C", "B", c, "∠ACB")],
        asked=("C", "B", "D"),
        value=a + c,
        mistakes=[
            (b, "interior angle instead of the exterior one"),
            (180 - a - c, "interior angle instead of the exterior one"),
            (abs(a - c), "difference of the given angles"),
        ],
        steps=[step("∠CBD = ∠A + ∠ACB (exterior angle of △ABC)", f"{a} + {c}", "exterior angle", True)],
    )


def _vertical_angle_triangles(rng: random.Random) -> Draft:
    """Depth 3: AC and BD cross at O; ∠D from △AOB's angles through the vertical angles at O."""
    theta = pick(rng, range(40, 111, 5))
    a, c = pick(rng, range(30, 81, 5)), pick(rng, range(30, 81, 5))
    if 180 - theta - a < 25 or 180 - theta - c < 25 or a == c:
        raise Reject("flat triangle")
    b, d = 180 - theta - a, 180 - theta - c
    o = (0.0, 0.0)
    oa, oc = 3.0, 2.6
    ob = oa * math.sin(math.radians(a)) / math.sin(math.radians(b))
    od = oc * math.sin(math.radians(c)) / math.sin(math.radians(d))
    pts = {
        "O": o,
        "A": at(o, 90 + theta / 2, oa),
        "B": at(o, 90 - theta / 2, ob),
        "C": at(o, 270 + theta / 2, oc),
        "D": at(o, 270 - theta / 2, od),
    }
    return angle_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("C", "D"), ("A", "C"), ("B", "D")],
            facts=[("collinear", "A", "O", "C"), ("collinear", "B", "O", "D")],
        ),
        setup=("AC and BD intersect at O", "AC与BD相交于点O"),
        givens=[
            angle_given("B", "A", "O", a, "∠A"),
            angle_given("A", "B", "O", b, "∠B"),
            angle_given("O", "C", "D", c, "∠C"),
        ],
        asked=("O", "D", "C"),
        name="∠D",
        value=d,
        mistakes=[(c, "copied ∠C"), (a + b - c, "subtracted the wrong angle"), (180 - a - b, "∠AOB instead")],
        steps=[
            step("∠AOB = 180° − ∠A − ∠B", f"180 - {a} - {b}", "triangle angle sum"),
            step("∠COD = ∠AOB (vertical angles)", f"{theta}", "vertical angles", True),
            step("∠D = 180° − ∠C − ∠COD", f"180 - {c} - {theta}", "triangle angle sum"),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Isosceles triangles
# ---------------------------------------------------------------------------------------------------------------
_ISOSCELES_SETUP = ("in △ABC, AB = AC", "在△ABC中，AB=AC")


def isosceles(rng: random.Random, depth: int) -> Draft:
    """AB = AC: base angles (1), an exterior angle (2), a second isosceles triangle BD = BC inside (3)."""
    if depth == 1:
        return _base_or_apex_angle(rng)
    if depth == 2:
        return _exterior_base_angle(rng)
    return _isosceles_inside(rng)


def _isosceles_points(apex: int) -> dict:
    """A above the base BC, AB = AC = 4, ∠A = ``apex`` degrees."""
    half = math.radians(apex / 2)
    return {"A": (0.0, 4.0 * math.cos(half)), "B": (-4.0 * math.sin(half), 0.0), "C": (4.0 * math.sin(half), 0.0)}


def _base_angle_step(apex: int) -> dict:
    return step("AB = AC, so ∠ABC = ∠ACB = (180° − ∠A) ÷ 2", f"(180 - {apex}) / 2", "isosceles base angles", True)


def _base_or_apex_angle(rng: random.Random) -> Draft:
    """Depth 1: a base angle from the apex angle, or the apex angle from a base angle."""
    a = pick(rng, range(30, 141, 4))
    base = (180 - a) // 2
    fig = Figure(
        _isosceles_points(a), segments=[("A", "B"), ("B", "C"), ("C", "A")], facts=[("equal", ("A", "B"), ("A", "C"))]
    )
    if rng.random() < 0.5:
        return angle_draft(
            figure=fig,
            setup=_ISOSCELES_SETUP,
            givens=[angle_given("B", "A", "C", a, "∠A")],
            asked=("A", "B", "C"),
            name="∠B",
            value=base,
            mistakes=[(180 - a, "forgot to halve"), (a, "copied the apex angle"), (90 - a, "subtracted from 90°")],
            steps=[_base_angle_step(a)],
        )
    return angle_draft(
        figure=fig,
        setup=_ISOSCELES_SETUP,
        givens=[angle_given("A", "B", "C", base, "∠B")],
        asked=("B", "A", "C"),
        name="∠A",
        value=a,
        mistakes=[
            (180 - base, "one base angle only"),
            (base, "copied the base angle"),
            (90 - base, "halved the apex"),
        ],
        steps=[step("AB = AC, so ∠C = ∠B; ∠A = 180° − 2∠B", f"180 - 2 * {base}", "isosceles base angles", True)],
    )


def _exterior_base_angle(rng: random.Random) -> Draft:
    """Depth 2: the exterior angle ∠ACD at the base, D on the extension of BC."""
    a = pick(rng, range(30, 141, 4))
    base = (180 - a) // 2
    pts = _isosceles_points(a)
    pts["D"] = (pts["C"][0] + 2.0, 0.0)
    return angle_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("B", "D"), ("C", "A")],
            facts=[("equal", ("A", "B"), ("A", "C")), ("collinear", "B", "C", "D")],
        ),
        setup=("in △ABC, AB = AC, and D is on the extension of BC", "在△ABC中，AB=AC，D为BC延长线上一点"),
        givens=[angle_given("B", "A", "C", a, "∠A")],
        asked=("A", "C", "D"),
        value=180 - base,
        mistakes=[
            (base, "the interior angle"),
            (180 - a, "forgot to halve"),
            (90 + a, "added the whole apex angle"),
        ],
        steps=[_base_angle_step(a), step("∠ACD = 180° − ∠ACB", f"180 - {base}", "angles on a straight line")],
    )


def _isosceles_inside(rng: random.Random) -> Draft:
    """Depth 3: D on AC with BD = BC, a second isosceles triangle; ∠ABD = ∠ABC − ∠DBC."""
    a = pick(rng, range(20, 51, 2))
    base = (180 - a) // 2
    pts = _isosceles_points(a)
    pc = pts["C"]
    cd = 2 * (2 * pc[0]) * math.cos(math.radians(base))
    pts["D"] = at(pc, 180 - base, cd)
    ans = base - a
    return angle_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("B", "C"), ("C", "A"), ("B", "D")],
            facts=[
                ("equal", ("A", "B"), ("A", "C")),
                ("equal", ("B", "D"), ("B", "C")),
                ("collinear", "A", "D", "C"),
            ],
        ),
        setup=("in △ABC, AB = AC, and D on AC satisfies BD = BC", "在△ABC中，AB=AC，点D在AC上，且BD=BC"),
        givens=[angle_given("B", "A", "C", a, "∠A")],
        asked=("A", "B", "D"),
        value=ans,
        mistakes=[(a, "∠DBC instead of ∠ABD"), (base, "∠ABC instead of ∠ABD"), (base - a / 2, "halved ∠A")],
        steps=[
            _base_angle_step(a),
            step("BD = BC, so ∠BDC = ∠C", f"{base}", "isosceles base angles", True),
            step("∠DBC = 180° − 2∠C", f"180 - 2 * {base}", "triangle angle sum"),
            step("∠ABD = ∠ABC − ∠DBC", f"{base} - {180 - 2 * base}", "angle subtraction"),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Angle bisectors
# ---------------------------------------------------------------------------------------------------------------
def angle_bisector(rng: random.Random, depth: int) -> Draft:
    """BD bisects ∠ABC: ∠ABD (1), ∠BDC by the exterior angle (2); bisectors of ∠B and ∠C meet at I: ∠BIC (3)."""
    if depth == 1:
        return _half_angle(rng)
    if depth == 2:
        return _bisector_exterior_angle(rng)
    return _incenter_angle(rng)


def _bisector_direction(v, p, q):
    """Direction of the bisector of ∠PVQ."""
    d1, d2 = (p[0] - v[0], p[1] - v[1]), (q[0] - v[0], q[1] - v[1])
    n1, n2 = math.hypot(*d1), math.hypot(*d2)
    return d1[0] / n1 + d2[0] / n2, d1[1] / n1 + d2[1] / n2


def _bisectable_triangle(rng: random.Random):
    """Angles a, b, c at A, B, C with an even ∠B of at least 30°, and the vertices A=(0,0), C=(6,0), B above."""
    a, c = pick(rng, range(30, 91, 5)), pick(rng, range(30, 91, 5))
    b = 180 - a - c
    if b < 30 or b % 2:
        raise Reject("angle B too small or odd")
    pa, pc, pb = triangle(a, c)  # the bisector from B comes down onto AC
    return (a, b, c), (pa, pb, pc)


def _bisector_to_side(rng: random.Random):
    """What depths 1 and 2 share: the triangle's angles, its figure with BD bisecting ∠ABC down to AC, the given
    ∠A and ∠C, and the steps to ∠ABD."""
    (a, b, c), (pa, pb, pc) = _bisectable_triangle(rng)
    pd = hit(pb, _bisector_direction(pb, pa, pc), pa, (1.0, 0.0))
    fig = Figure(
        {"A": pa, "B": pb, "C": pc, "D": pd},
        segments=[("A", "B"), ("B", "C"), ("C", "A"), ("B", "D")],
        facts=[("bisector", "A", "B", "C", "D"), ("collinear", "A", "D", "C")],
        arcs=[("A", "B", "D", ""), ("D", "B", "C", "")],
    )
    givens = [angle_given("B", "A", "C", a, "∠A"), angle_given("A", "C", "B", c, "∠C")]
    steps = [
        step("∠ABC = 180° − ∠A − ∠C", f"180 - {a} - {c}", "triangle angle sum"),
        step("BD bisects ∠ABC, so ∠ABD = ½∠ABC", f"{b} / 2", "angle bisector", True),
    ]
    return (a, b, c), fig, givens, steps


_BISECTOR_SETUP = ("in △ABC, BD bisects ∠ABC and meets AC at D", "在△ABC中，BD平分∠ABC，交AC于点D")


def _half_angle(rng: random.Random) -> Draft:
    """Depth 1: ∠ABD, half of ∠ABC from the angle sum."""
    (a, b, _), fig, givens, steps = _bisector_to_side(rng)
    return angle_draft(
        figure=fig,
        setup=_BISECTOR_SETUP,
        givens=givens,
        asked=("A", "B", "D"),
        value=b // 2,
        mistakes=[(b, "forgot to halve"), ((180 - a) // 2, "halved the wrong angle"), (90 - b // 2, "complement")],
        steps=steps,
    )


def _bisector_exterior_angle(rng: random.Random) -> Draft:
    """Depth 2: ∠BDC, the exterior angle of △ABD."""
    (a, b, c), fig, givens, steps = _bisector_to_side(rng)
    ans = a + b // 2
    steps.append(step("∠BDC = ∠A + ∠ABD (exterior angle of △ABD)", f"{a} + {b // 2}", "exterior angle", True))
    return angle_draft(
        figure=fig,
        setup=_BISECTOR_SETUP,
        givens=givens,
        asked=("B", "D", "C"),
        value=ans,
        mistakes=[
            (180 - ans, "∠ADB instead of ∠BDC"),
            (a + b, "forgot to halve ∠ABC"),
            (c + b // 2, "used ∠C instead of ∠A"),
        ],
        steps=steps,
    )


def _incenter_angle(rng: random.Random) -> Draft:
    """Depth 3: the bisectors of ∠B and ∠C meet at I; ∠BIC = 90° + ½∠A."""
    (_, apex, _), (pa, pb, pc) = _bisectable_triangle(rng)
    pi_ = hit(pb, _bisector_direction(pb, pa, pc), pc, _bisector_direction(pc, pa, pb))
    pts = {"A": pb, "B": pa, "C": pc, "I": pi_}  # rename so the apex is A: ∠BIC = 90° + ∠A/2 reads as usual
    ans = 90 + apex // 2
    return angle_draft(
        figure=Figure(
            pts,
            segments=[("A", "B"), ("B", "C"), ("C", "A"), ("B", "I"), ("C", "I")],
            facts=[("bisector", "A", "B", "C", "I"), ("bisector", "A", "C", "B", "I")],
            arcs=[("A", "B", "I", ""), ("I", "B", "C", ""), ("A", "C", "I", ""), ("I", "C", "B", "")],
        ),
        setup=("in △ABC, the bisectors of ∠ABC and ∠ACB meet at I", "在△ABC中，∠ABC与∠ACB的平分线交于点I"),
        givens=[angle_given("B", "A", "C", apex, "∠A")],
        asked=("B", "I", "C"),
        value=ans,
        mistakes=[
            (90 - apex // 2, "subtracted half of ∠A"),
            (180 - apex, "forgot to halve"),
            (180 - apex // 2, "halved ∠A only"),
        ],
        steps=[
            step("∠ABC + ∠ACB = 180° − ∠A", f"180 - {apex}", "triangle angle sum"),
            step("∠IBC + ∠ICB = ½(∠ABC + ∠ACB)", f"(180 - {apex}) / 2", "angle bisector", True),
            step("∠BIC = 180° − (∠IBC + ∠ICB)", f"180 - {(180 - apex) // 2}", "triangle angle sum"),
        ],
    )
