"""The problem families: plain functions ``family(rng, depth) -> Draft`` in the :data:`FAMILIES` registry.

``depth`` (1 to :data:`MAX_DEPTH`\\[name]) picks how many reasoning steps the problem composes; the difficulty level is
then computed from the steps (see :func:`redstar_geo.geosynth.generate.difficulty`). Each family builds real
coordinates first and states only what the coordinates satisfy; :func:`redstar_geo.geosynth.core.check_figure`
re-measures every draft. To add a family, write a function here and list it in :data:`FAMILIES`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction

from redstar_geo.geosynth.core import Draft, Figure, Given, Reject, Val, deg, num, pi_val, root, step

# ---------------------------------------------------------------------------------------------------------------
# Coordinate helpers
# ---------------------------------------------------------------------------------------------------------------


def unit(a: float) -> tuple[float, float]:
    r = math.radians(a)
    return math.cos(r), math.sin(r)


def at(p, a: float, r: float):
    """The point at distance ``r`` from ``p`` in direction ``a`` degrees."""
    u = unit(a)
    return p[0] + r * u[0], p[1] + r * u[1]


def lerp(p, q, t: float):
    return p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])


def hit(p, d, q, e):
    """Where the line through ``p`` with direction ``d`` meets the line through ``q`` with direction ``e``."""
    den = d[0] * e[1] - d[1] * e[0]
    if abs(den) < 1e-9:
        raise Reject("parallel lines do not meet")
    t = ((q[0] - p[0]) * e[1] - (q[1] - p[1]) * e[0]) / den
    return p[0] + t * d[0], p[1] + t * d[1]


def triangle(a: float, b: float, c: float = 6.0):
    """Vertices A=(0,0), B=(c,0) and C above AB with ∠A = a and ∠B = b degrees."""
    return (0.0, 0.0), (c, 0.0), hit((0.0, 0.0), unit(a), (c, 0.0), unit(180 - b))


def foot(p, a, b):
    """The foot of the perpendicular from ``p`` to line AB."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)
    return a[0] + t * dx, a[1] + t * dy


def pick(rng: random.Random, values):
    return rng.choice(list(values))


def angle_given(p, v, q, value, name=None) -> Given:
    return Given(("angle", p, v, q), deg(value), name or f"∠{p}{v}{q}")


def length_given(a, b, value) -> Given:
    return Given(("length", a, b), num(value), f"{a}{b}")


def angle_ask(name: str) -> tuple[str, str]:
    return f"the measure of {name}", f"{name}的度数"


def length_ask(name: str) -> tuple[str, str]:
    return f"the length of {name}", f"{name}的长"


def angle_mistakes(x, *extra) -> list[tuple[Val, str]]:
    """The usual wrong angles for an answer ``x``: the model's own listed mistakes first, then the generic ones."""
    generic = [
        (180 - x, "supplement instead of the angle"),
        (90 - x, "complement instead of the angle"),
        (2 * x, "doubled"),
        (x / 2, "halved"),
        (90 + x, "added a right angle"),
    ]
    return [(deg(v), why) for v, why in [*extra, *generic]]


def length_mistakes(x: Val, *extra) -> list[tuple[Val, str]]:
    generic = [
        (Val(x.coef * 2, x.rad, x.pi, plus=x.plus * 2), "doubled"),
        (Val(x.coef / 2, x.rad, x.pi, plus=x.plus / 2), "halved"),
    ]
    return [*extra, *generic]


# ---------------------------------------------------------------------------------------------------------------
# Angles: parallel lines, triangles, isosceles, bisectors
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
        one, (s1, v1) = rng.choice(list(_G_ANGLES.items()))
        two, (s2, v2) = rng.choice(list(_H_ANGLES.items()))
        value = {("R", "up"): t, ("L", "down"): t, ("L", "up"): 180 - t, ("R", "down"): 180 - t}
        x, y = value[(s1, v1)], value[(s2, v2)]
        interior = v1 == "down" and v2 == "up"
        exterior = v1 == "up" and v2 == "down"
        if (s1, v1) == (s2, v2):
            steps = [step("AB ∥ CD, so ∠2 = ∠1 (corresponding angles)", f"{x}", "corresponding angles", True)]
        elif (interior or exterior) and s1 != s2:
            kind = "alternate interior angles" if interior else "alternate exterior angles"
            steps = [step(f"AB ∥ CD, so ∠2 = ∠1 ({kind})", f"{x}", kind, True)]
        elif interior and s1 == s2:
            steps = [
                step(
                    "AB ∥ CD, so ∠1 + ∠2 = 180° (co-interior angles), ∠2 = 180° − ∠1",
                    f"180 - {x}",
                    "co-interior angles",
                    True,
                )
            ]
        else:
            steps = [
                step("AB ∥ CD, so the angle at H corresponding to ∠1 equals ∠1", f"{x}", "corresponding angles", True)
            ]
            steps.append(
                step("∠2 and that angle are vertical angles, so ∠2 = ∠1", f"{x}", "vertical angles")
                if x == y
                else step(
                    "∠2 and that angle form a straight line, so ∠2 = 180° − ∠1",
                    f"180 - {x}",
                    "angles on a straight line",
                )
            )
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
        return Draft(
            fig,
            ("AB ∥ CD, and the line EF meets AB at G and CD at H", "AB∥CD，直线EF分别交AB、CD于点G、H"),
            [angle_given(*one, x, name="∠1")],
            angle_ask("∠2"),
            ("angle", *two),
            deg(y),
            angle_mistakes(y, (180 - y, "supplement instead of the angle"), (90 - y / 2, "halved the supplement")),
            steps,
            number_names={"1": one, "2": two},
        )
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
    ]
    givens = [angle_given("A", "B", "E", a)]
    if depth == 3:
        pts["F"] = (left - 1.2, -h2)
        segments[1] = ("F", "C")
        facts.append(("collinear", "F", "D", "C"))
        givens.append(angle_given("E", "D", "F", 180 - b))
        steps.insert(
            0, step("∠CDE = 180° − ∠EDF (angles on a straight line)", f"180 - {180 - b}", "angles on a straight line")
        )
    else:
        givens.append(angle_given("C", "D", "E", b))
    steps.append(step("∠BED = ∠BEM + ∠MED", f"{a} + {b}", "angle addition"))
    s = a + b
    setup = ("AB ∥ CD and E lies between the two lines", "AB∥CD，点E在两平行线之间")
    if depth == 3:
        setup = (
            "AB ∥ CD, E lies between the two lines, and F is on the extension of CD",
            "AB∥CD，点E在两平行线之间，F在CD的延长线上",
        )
    return Draft(
        Figure(pts, segments, facts=facts),
        setup,
        givens,
        angle_ask("∠BED"),
        ("angle", "B", "E", "D"),
        deg(s),
        angle_mistakes(
            s,
            (180 - s, "supplement of the sum"),
            (abs(a - b), "difference"),
            (360 - s - 90, "subtracted from a full turn"),
        ),
        steps,
    )


def triangle_angles(rng: random.Random, depth: int) -> Draft:
    """Triangle angle sum (depth 1), the exterior angle (2), two triangles with vertical angles (3)."""
    if depth < 3:
        a, b = pick(rng, range(30, 101, 5)), pick(rng, range(30, 101, 5))
        c = 180 - a - b
        if c < 25:
            raise Reject("flat triangle")
        pa, pb, pc = triangle(a, b)
        if depth == 1:
            return Draft(
                Figure({"A": pa, "B": pb, "C": pc}, [("A", "B"), ("B", "C"), ("C", "A")]),
                ("in △ABC", "在△ABC中"),
                [angle_given("B", "A", "C", a, "∠A"), angle_given("A", "B", "C", b, "∠B")],
                angle_ask("∠C"),
                ("angle", "A", "C", "B"),
                deg(c),
                angle_mistakes(
                    c,
                    (a + b, "exterior angle instead of the interior one"),
                    (180 - a, "ignored ∠B"),
                    (abs(a - b), "difference of the given angles"),
                ),
                [step("∠C = 180° − ∠A − ∠B", f"180 - {a} - {b}", "triangle angle sum")],
            )
        pts = {"A": pa, "B": pb, "C": pc, "D": (pb[0] + 2.2, 0.0)}
        return Draft(
            Figure(pts, [("A", "D"), ("B", "C"), ("C", "A")], facts=[("collinear", "A", "B", "D")]),
            ("in △ABC, D is on the extension of AB", "在△ABC中，D为AB延长线上一点"),
            [angle_given("B", "A", "C", a, "∠A"), angle_given("A", "C", "B", c, "∠ACB")],
            angle_ask("∠CBD"),
            ("angle", "C", "B", "D"),
            deg(a + c),
            angle_mistakes(
                a + c,
                (b, "interior angle instead of the exterior one"),
                (180 - a - c, "interior angle instead of the exterior one"),
                (abs(a - c), "difference of the given angles"),
            ),
            [step("∠CBD = ∠A + ∠ACB (exterior angle of △ABC)", f"{a} + {c}", "exterior angle", True)],
        )
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
    return Draft(
        Figure(
            pts,
            [("A", "B"), ("C", "D"), ("A", "C"), ("B", "D")],
            facts=[("collinear", "A", "O", "C"), ("collinear", "B", "O", "D")],
        ),
        ("AC and BD intersect at O", "AC与BD相交于点O"),
        [
            angle_given("B", "A", "O", a, "∠A"),
            angle_given("A", "B", "O", b, "∠B"),
            angle_given("O", "C", "D", c, "∠C"),
        ],
        angle_ask("∠D"),
        ("angle", "O", "D", "C"),
        deg(d),
        angle_mistakes(d, (c, "copied ∠C"), (a + b - c, "subtracted the wrong angle"), (180 - a - b, "∠AOB instead")),
        [
            step("∠AOB = 180° − ∠A − ∠B", f"180 - {a} - {b}", "triangle angle sum"),
            step("∠COD = ∠AOB (vertical angles)", f"{theta}", "vertical angles", True),
            step("∠D = 180° − ∠C − ∠COD", f"180 - {c} - {theta}", "triangle angle sum"),
        ],
    )


def isosceles(rng: random.Random, depth: int) -> Draft:
    """AB = AC: base angles (1), an exterior angle (2), a second isosceles triangle BD = BC inside (3)."""
    a = pick(rng, range(20, 51, 2) if depth == 3 else range(30, 141, 4))
    base = (180 - a) // 2
    half = math.radians(a / 2)
    pts = {"A": (0.0, 4.0 * math.cos(half)), "B": (-4.0 * math.sin(half), 0.0), "C": (4.0 * math.sin(half), 0.0)}
    segs = [("A", "B"), ("B", "C"), ("C", "A")]
    facts = [("equal", ("A", "B"), ("A", "C"))]
    base_step = step("AB = AC, so ∠ABC = ∠ACB = (180° − ∠A) ÷ 2", f"(180 - {a}) / 2", "isosceles base angles", True)
    if depth == 1:
        if rng.random() < 0.5:
            return Draft(
                Figure(pts, segs, facts=facts),
                ("in △ABC, AB = AC", "在△ABC中，AB=AC"),
                [angle_given("B", "A", "C", a, "∠A")],
                angle_ask("∠B"),
                ("angle", "A", "B", "C"),
                deg(base),
                angle_mistakes(
                    base, (180 - a, "forgot to halve"), (a, "copied the apex angle"), (90 - a, "subtracted from 90°")
                ),
                [base_step],
            )
        return Draft(
            Figure(pts, segs, facts=facts),
            ("in △ABC, AB = AC", "在△ABC中，AB=AC"),
            [angle_given("A", "B", "C", base, "∠B")],
            angle_ask("∠A"),
            ("angle", "B", "A", "C"),
            deg(a),
            angle_mistakes(
                a, (180 - base, "one base angle only"), (base, "copied the base angle"), (90 - base, "halved the apex")
            ),
            [step("AB = AC, so ∠C = ∠B; ∠A = 180° − 2∠B", f"180 - 2 * {base}", "isosceles base angles", True)],
        )
    if depth == 2:
        pts["D"] = (pts["C"][0] + 2.0, 0.0)
        return Draft(
            Figure(pts, [("A", "B"), ("B", "D"), ("C", "A")], facts=[*facts, ("collinear", "B", "C", "D")]),
            ("in △ABC, AB = AC, and D is on the extension of BC", "在△ABC中，AB=AC，D为BC延长线上一点"),
            [angle_given("B", "A", "C", a, "∠A")],
            angle_ask("∠ACD"),
            ("angle", "A", "C", "D"),
            deg(180 - base),
            angle_mistakes(
                180 - base,
                (base, "the interior angle"),
                (180 - a, "forgot to halve"),
                (90 + a, "added the whole apex angle"),
            ),
            [base_step, step("∠ACD = 180° − ∠ACB", f"180 - {base}", "angles on a straight line")],
        )
    pc = pts["C"]
    cd = 2 * (2 * pc[0]) * math.cos(math.radians(base))
    pts["D"] = at(pc, 180 - base, cd)
    ans = base - a
    return Draft(
        Figure(
            pts, [*segs, ("B", "D")], facts=[*facts, ("equal", ("B", "D"), ("B", "C")), ("collinear", "A", "D", "C")]
        ),
        ("in △ABC, AB = AC, and D on AC satisfies BD = BC", "在△ABC中，AB=AC，点D在AC上，且BD=BC"),
        [angle_given("B", "A", "C", a, "∠A")],
        angle_ask("∠ABD"),
        ("angle", "A", "B", "D"),
        deg(ans),
        angle_mistakes(ans, (a, "∠DBC instead of ∠ABD"), (base, "∠ABC instead of ∠ABD"), (base - a / 2, "halved ∠A")),
        [
            base_step,
            step("BD = BC, so ∠BDC = ∠C", f"{base}", "isosceles base angles", True),
            step("∠DBC = 180° − 2∠C", f"180 - 2 * {base}", "triangle angle sum"),
            step("∠ABD = ∠ABC − ∠DBC", f"{base} - {180 - 2 * base}", "angle subtraction"),
        ],
    )


def angle_bisector(rng: random.Random, depth: int) -> Draft:
    """BD bisects ∠ABC: ∠ABD (1), ∠BDC by the exterior angle (2); bisectors of ∠B and ∠C meet at I: ∠BIC (3)."""
    a, c = pick(rng, range(30, 91, 5)), pick(rng, range(30, 91, 5))
    b = 180 - a - c
    if b < 30 or b % 2:
        raise Reject("angle B too small or odd")
    pa, pc, pb = triangle(a, c)  # A=(0,0), C=(6,0), B above: the bisector from B comes down onto AC
    if depth < 3:
        pd = hit(pb, _bisector_dir(pb, pa, pc), pa, (1.0, 0.0))
        pts = {"A": pa, "B": pb, "C": pc, "D": pd}
        fig = Figure(
            pts,
            [("A", "B"), ("B", "C"), ("C", "A"), ("B", "D")],
            facts=[("bisector", "A", "B", "C", "D"), ("collinear", "A", "D", "C")],
            arcs=[("A", "B", "D", ""), ("D", "B", "C", "")],
        )
        givens = [angle_given("B", "A", "C", a, "∠A"), angle_given("A", "C", "B", c, "∠C")]
        steps = [
            step("∠ABC = 180° − ∠A − ∠C", f"180 - {a} - {c}", "triangle angle sum"),
            step("BD bisects ∠ABC, so ∠ABD = ½∠ABC", f"{b} / 2", "angle bisector", True),
        ]
        setup = ("in △ABC, BD bisects ∠ABC and meets AC at D", "在△ABC中，BD平分∠ABC，交AC于点D")
        if depth == 1:
            return Draft(
                fig,
                setup,
                givens,
                angle_ask("∠ABD"),
                ("angle", "A", "B", "D"),
                deg(b // 2),
                angle_mistakes(
                    b // 2,
                    (b, "forgot to halve"),
                    ((180 - a) // 2, "halved the wrong angle"),
                    (90 - b // 2, "complement"),
                ),
                steps,
            )
        ans = a + b // 2
        steps.append(step("∠BDC = ∠A + ∠ABD (exterior angle of △ABD)", f"{a} + {b // 2}", "exterior angle", True))
        return Draft(
            fig,
            setup,
            givens,
            angle_ask("∠BDC"),
            ("angle", "B", "D", "C"),
            deg(ans),
            angle_mistakes(
                ans,
                (180 - ans, "∠ADB instead of ∠BDC"),
                (a + b, "forgot to halve ∠ABC"),
                (c + b // 2, "used ∠C instead of ∠A"),
            ),
            steps,
        )
    pi_ = hit(pb, _bisector_dir(pb, pa, pc), pc, _bisector_dir(pc, pa, pb))
    pts = {"A": pb, "B": pa, "C": pc, "I": pi_}  # rename so the apex is A: ∠BIC = 90° + ∠A/2 reads as usual
    apex = b
    ans = 90 + apex // 2
    return Draft(
        Figure(
            pts,
            [("A", "B"), ("B", "C"), ("C", "A"), ("B", "I"), ("C", "I")],
            facts=[("bisector", "A", "B", "C", "I"), ("bisector", "A", "C", "B", "I")],
            arcs=[("A", "B", "I", ""), ("I", "B", "C", ""), ("A", "C", "I", ""), ("I", "C", "B", "")],
        ),
        ("in △ABC, the bisectors of ∠ABC and ∠ACB meet at I", "在△ABC中，∠ABC与∠ACB的平分线交于点I"),
        [angle_given("B", "A", "C", apex, "∠A")],
        angle_ask("∠BIC"),
        ("angle", "B", "I", "C"),
        deg(ans),
        angle_mistakes(
            ans,
            (90 - apex // 2, "subtracted half of ∠A"),
            (180 - apex, "forgot to halve"),
            (180 - apex // 2, "halved ∠A only"),
        ),
        [
            step("∠ABC + ∠ACB = 180° − ∠A", f"180 - {apex}", "triangle angle sum"),
            step("∠IBC + ∠ICB = ½(∠ABC + ∠ACB)", f"(180 - {apex}) / 2", "angle bisector", True),
            step("∠BIC = 180° − (∠IBC + ∠ICB)", f"180 - {(180 - apex) // 2}", "triangle angle sum"),
        ],
    )


def _bisector_dir(v, p, q):
    """Direction of the bisector of ∠PVQ."""
    d1, d2 = (p[0] - v[0], p[1] - v[1]), (q[0] - v[0], q[1] - v[1])
    n1, n2 = math.hypot(*d1), math.hypot(*d2)
    return d1[0] / n1 + d2[0] / n2, d1[1] / n1 + d2[1] / n2


# ---------------------------------------------------------------------------------------------------------------
# Circles
# ---------------------------------------------------------------------------------------------------------------
R = 3.0


def inscribed_angle(rng: random.Random, depth: int) -> Draft:
    """Inscribed vs central angle (1), with the isosceles △OAB (2), a cyclic quadrilateral (3)."""
    o = (0.0, 0.0)
    setup = ("A, B and C lie on circle O", "点A、B、C在⊙O上")
    if depth < 3:
        theta = pick(rng, range(50, 161, 10) if depth == 1 else range(40, 141, 10))
        pts = {
            "O": o,
            "A": at(o, -90 - theta / 2, R),
            "B": at(o, -90 + theta / 2, R),
            "C": at(o, 90 + rng.uniform(-35, 35), R),
        }
        segs = [("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")]
        facts = [("on_circle", "O", "A", "B", "C")]
        if depth == 1:
            fig = Figure(pts, segs, [("O", "A")], facts)
            x = theta // 2
            if rng.random() < 0.5:
                return Draft(
                    fig,
                    setup,
                    [angle_given("A", "O", "B", theta)],
                    angle_ask("∠ACB"),
                    ("angle", "A", "C", "B"),
                    deg(x),
                    angle_mistakes(
                        x, (theta, "equal to the central angle"), (180 - x, "the other arc"), (90 - x, "complement")
                    ),
                    [step("∠ACB = ½∠AOB (inscribed angle theorem)", f"{theta} / 2", "inscribed angle", True)],
                )
            return Draft(
                fig,
                setup,
                [angle_given("A", "C", "B", x)],
                angle_ask("∠AOB"),
                ("angle", "A", "O", "B"),
                deg(theta),
                angle_mistakes(
                    theta,
                    (x, "equal to the inscribed angle"),
                    (x / 2, "halved instead of doubled"),
                    (180 - x, "supplement"),
                ),
                [step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True)],
            )
        x = theta // 2
        ans = 90 - x
        return Draft(
            Figure(pts, [*segs, ("A", "B")], [("O", "A")], facts),
            setup,
            [angle_given("A", "C", "B", x)],
            angle_ask("∠OAB"),
            ("angle", "O", "A", "B"),
            deg(ans),
            angle_mistakes(ans, (x, "equal to ∠ACB"), (180 - 2 * x, "∠AOB's supplement"), (90 - x / 2, "halved ∠ACB")),
            [
                step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True),
                step("OA = OB, so ∠OAB = (180° − ∠AOB) ÷ 2", f"(180 - {theta}) / 2", "isosceles base angles", True),
            ],
        )
    theta = pick(rng, range(80, 161, 10))
    pts = {
        "O": o,
        "B": at(o, -90 - theta / 2, R),
        "D": at(o, -90 + theta / 2, R),
        "C": at(o, -90 + rng.uniform(-theta / 2 + 18, theta / 2 - 18), R),
        "A": at(o, 90 + rng.uniform(-30, 30), R),
    }
    x = theta // 2
    return Draft(
        Figure(
            pts,
            [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("O", "B"), ("O", "D")],
            [("O", "A")],
            [("on_circle", "O", "A", "B", "C", "D")],
        ),
        ("quadrilateral ABCD is inscribed in circle O", "四边形ABCD内接于⊙O"),
        [angle_given("B", "O", "D", theta)],
        angle_ask("∠BCD"),
        ("angle", "B", "C", "D"),
        deg(180 - x),
        angle_mistakes(
            180 - x,
            (x, "∠BAD instead of ∠BCD"),
            (180 - theta, "supplement of the central angle"),
            (theta, "equal to the central angle"),
        ),
        [
            step("∠BAD = ½∠BOD (inscribed angle theorem)", f"{theta} / 2", "inscribed angle", True),
            step(
                "∠BCD = 180° − ∠BAD (opposite angles of a cyclic quadrilateral)",
                f"180 - {x}",
                "cyclic quadrilateral",
                True,
            ),
        ],
    )


def diameter(rng: random.Random, depth: int) -> Draft:
    """AB is a diameter: the angle in a semicircle is 90° (1), with an inscribed angle on the same arc (2)."""
    o = (0.0, 0.0)
    x = pick(rng, range(20, 71, 5))
    # ∠ABC = x puts C at central angle 2x from A
    pts = {"O": o, "A": at(o, 180, R), "B": at(o, 0, R), "C": at(o, 180 - 2 * x, R)}
    segs = [("A", "B"), ("A", "C"), ("B", "C")]
    facts = [("on_circle", "O", "A", "B", "C"), ("collinear", "A", "O", "B")]
    steps = [
        step("AB is a diameter, so ∠ACB = 90°", "90", "angle in a semicircle", True),
        step("∠BAC = 180° − ∠ACB − ∠ABC", f"180 - 90 - {x}", "triangle angle sum"),
    ]
    mistakes = angle_mistakes(
        90 - x, (x, "copied the given angle"), (180 - 2 * x, "central angle"), (90 + x, "added instead of subtracted")
    )
    if depth == 1:
        return Draft(
            Figure(pts, segs, [("O", "A")], facts),
            ("AB is a diameter of circle O and C is on the circle", "AB是⊙O的直径，点C在⊙O上"),
            [angle_given("A", "B", "C", x)],
            angle_ask("∠BAC"),
            ("angle", "B", "A", "C"),
            deg(90 - x),
            mistakes,
            steps,
        )
    pts["D"] = at(o, rng.uniform(-150, -30), R)
    if abs(pts["D"][0] - pts["C"][0]) < 0.6:
        raise Reject("D under C")
    facts[0] = ("on_circle", "O", "A", "B", "C", "D")
    steps.insert(0, step("∠ABC = ∠ADC (inscribed angles on the same arc AC)", f"{x}", "inscribed angle", True))
    return Draft(
        Figure(pts, [*segs, ("A", "D"), ("C", "D")], [("O", "A")], facts),
        ("AB is a diameter of circle O, and C, D are on the circle", "AB是⊙O的直径，点C、D在⊙O上"),
        [angle_given("A", "D", "C", x)],
        angle_ask("∠BAC"),
        ("angle", "B", "A", "C"),
        deg(90 - x),
        mistakes,
        steps,
    )


def tangent(rng: random.Random, depth: int) -> Draft:
    """A tangent is perpendicular to the radius (1); two tangents from P (2), with an inscribed angle (3)."""
    o = (0.0, 0.0)
    r = 2.2
    if depth == 1:
        x = pick(rng, range(25, 61, 5))
        p = (r / math.sin(math.radians(x)), 0.0)
        a = at(o, 90 - x, r)
        return Draft(
            Figure(
                {"O": o, "P": p, "A": a},
                [("O", "A"), ("P", "A"), ("O", "P")],
                [("O", "A")],
                [("tangent", "P", "A", "O")],
            ),
            ("PA is tangent to circle O at A", "PA与⊙O相切于点A"),
            [angle_given("A", "P", "O", x, "∠P")],
            angle_ask("∠AOP"),
            ("angle", "A", "O", "P"),
            deg(90 - x),
            angle_mistakes(90 - x, (x, "copied ∠P"), (180 - x, "supplement of ∠P"), (180 - 2 * x, "doubled ∠P")),
            [
                step("PA is tangent at A, so ∠OAP = 90°", "90", "tangent ⊥ radius", True),
                step("∠AOP = 180° − ∠OAP − ∠P", f"180 - 90 - {x}", "triangle angle sum"),
            ],
        )
    x = pick(rng, range(30, 101, 10))
    p = (r / math.sin(math.radians(x / 2)), 0.0)
    pts = {"O": o, "P": p, "A": at(o, 90 - x / 2, r), "B": at(o, -(90 - x / 2), r)}
    segs = [("P", "A"), ("P", "B"), ("O", "A"), ("O", "B")]
    facts = [("tangent", "P", "A", "O"), ("tangent", "P", "B", "O")]
    steps = [
        step("PA, PB are tangents, so ∠OAP = ∠OBP = 90°", "90", "tangent ⊥ radius", True),
        step("∠AOB = 360° − ∠OAP − ∠OBP − ∠P", f"360 - 90 - 90 - {x}", "quadrilateral angle sum"),
    ]
    setup = ("PA and PB are tangent to circle O at A and B", "PA、PB分别与⊙O相切于点A、B")
    if depth == 2:
        return Draft(
            Figure(pts, segs, [("O", "A")], facts),
            setup,
            [angle_given("A", "P", "B", x, "∠P")],
            angle_ask("∠AOB"),
            ("angle", "A", "O", "B"),
            deg(180 - x),
            angle_mistakes(
                180 - x,
                (x, "equal to ∠P"),
                (90 - x / 2, "half of ∠AOB's complement"),
                (360 - 2 * x, "subtracted ∠P twice"),
            ),
            steps,
        )
    pts["C"] = at(o, 180 + rng.uniform(-35, 35), r)
    steps.append(step("∠ACB = ½∠AOB (inscribed angle theorem)", f"(180 - {x}) / 2", "inscribed angle", True))
    ans = (180 - x) // 2
    return Draft(
        Figure(pts, [*segs, ("C", "A"), ("C", "B")], [("O", "A")], [*facts, ("on_circle", "O", "A", "B", "C")]),
        (
            "PA and PB are tangent to circle O at A and B, and C is on the circle",
            "PA、PB分别与⊙O相切于点A、B，点C在⊙O上",
        ),
        [angle_given("A", "P", "B", x, "∠P")],
        angle_ask("∠ACB"),
        ("angle", "A", "C", "B"),
        deg(ans),
        angle_mistakes(ans, (180 - x, "∠AOB instead of ∠ACB"), (x, "equal to ∠P"), (x / 2, "half of ∠P")),
        steps,
    )


TRIPLES = [(3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15), (12, 16, 20), (7, 24, 25)]


def chord(rng: random.Random, depth: int) -> Draft:
    """OC ⊥ chord AB: chord from radius and distance (1), radius from chord and distance (2), the arch (3)."""
    d, h, r = pick(rng, TRIPLES)
    if rng.random() < 0.5:
        d, h = h, d
    s = 3.0 / r  # draw every circle at the same size; lengths keep their stated values through the givens
    o = (0.0, 0.0)
    pts = {"O": o, "A": (-h * s, -d * s), "B": (h * s, -d * s), "C": (0.0, -d * s)}
    segs = [("A", "B"), ("O", "A"), ("O", "C")]
    facts = [("right", "O", "C", "B"), ("on_circle", "O", "A", "B"), ("collinear", "A", "C", "B")]
    scale = 1 / s
    if depth == 3:
        pts["D"] = (0.0, -r * s)
        segs[2] = ("O", "D")
        facts += [("collinear", "O", "C", "D"), ("on_circle", "O", "A", "D")]
    fig = Figure(pts, segs, [("O", "A")], facts)
    fig.scale = scale
    setup = ("AB is a chord of circle O and OC ⊥ AB at C", "AB是⊙O的弦，OC⊥AB于点C")
    if depth == 1:
        return Draft(
            fig,
            setup,
            [length_given("O", "A", r), length_given("O", "C", d)],
            length_ask("AB"),
            ("length", "A", "B"),
            num(2 * h),
            length_mistakes(
                num(2 * h),
                (num(h), "forgot to double AC"),
                (root(r * r + d * d, 2), "added the squares"),
                (num(r + d), "added OA and OC"),
            ),
            [
                step("AC = √(OA² − OC²)", f"sqrt({r}**2 - {d}**2)", "Pythagorean theorem", True),
                step("OC ⊥ AB bisects the chord, so AB = 2AC", f"2 * {h}", "perpendicular bisects chord", True),
            ],
        )
    if depth == 2:
        return Draft(
            fig,
            setup,
            [length_given("A", "B", 2 * h), length_given("O", "C", d)],
            ("the radius of circle O", "⊙O的半径"),
            ("length", "O", "A"),
            num(r),
            length_mistakes(
                num(r),
                (root(4 * h * h + d * d), "used AB instead of AC"),
                (num(h + d), "added AC and OC"),
                (root(abs(h * h - d * d)), "subtracted squares"),
            ),
            [
                step("OC ⊥ AB bisects the chord, so AC = AB ÷ 2", f"{2 * h} / 2", "perpendicular bisects chord", True),
                step("OA = √(AC² + OC²)", f"sqrt({h}**2 + {d}**2)", "Pythagorean theorem", True),
            ],
        )
    sag = r - d
    return Draft(
        fig,
        ("AB is a chord of circle O, and the radius OD ⊥ AB at C", "AB是⊙O的弦，半径OD⊥AB于点C"),
        [length_given("A", "B", 2 * h), length_given("C", "D", sag)],
        ("the radius of circle O", "⊙O的半径"),
        ("length", "O", "D"),
        num(r),
        length_mistakes(
            num(r),
            (num(h), "took AC as the radius"),
            (num(h + sag), "added AC and CD"),
            (root(h * h + sag * sag), "hypotenuse of AC and CD"),
        ),
        [
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
# Right triangles
# ---------------------------------------------------------------------------------------------------------------


def pythagoras(rng: random.Random, depth: int) -> Draft:
    """Right triangle: a side from a Pythagorean triple (1), an irrational hypotenuse (2), the altitude (3)."""
    if depth == 2:
        a, b = rng.sample(range(1, 8), 2)
        if math.isqrt(a * a + b * b) ** 2 == a * a + b * b or max(a, b) > 3 * min(a, b):
            raise Reject("a triple, or a sliver of a triangle")
        c = None
    else:
        a, b, c = pick(rng, TRIPLES)
        if rng.random() < 0.5:
            a, b = b, a
    s = 4.5 / max(a, b)
    pts = {"C": (0.0, 0.0), "B": (a * s, 0.0), "A": (0.0, b * s)}
    segs = [("A", "B"), ("B", "C"), ("C", "A")]
    facts = [("right", "A", "C", "B")]
    setup = ("in Rt△ABC, ∠ACB is a right angle", "在Rt△ABC中，∠ACB为直角")
    if depth == 1:
        fig = Figure(pts, segs, facts=facts)
        fig.scale = 1 / s
        if rng.random() < 0.5:
            return Draft(
                fig,
                setup,
                [length_given("B", "C", a), length_given("A", "C", b)],
                length_ask("AB"),
                ("length", "A", "B"),
                num(c),
                length_mistakes(
                    num(c),
                    (num(a + b), "added the legs"),
                    (root(abs(a * a - b * b)), "subtracted the squares"),
                    (num(a * a + b * b), "forgot the square root"),
                ),
                [step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True)],
            )
        return Draft(
            fig,
            setup,
            [length_given("A", "B", c), length_given("B", "C", a)],
            length_ask("AC"),
            ("length", "A", "C"),
            num(b),
            length_mistakes(
                num(b),
                (root(c * c + a * a), "added the squares"),
                (num(c - a), "subtracted the sides"),
                (num(c + a), "added the sides"),
            ),
            [step("AC = √(AB² − BC²)", f"sqrt({c}**2 - {a}**2)", "Pythagorean theorem", True)],
        )
    if depth == 2:
        fig = Figure(pts, segs, facts=facts)
        fig.scale = 1 / s
        ans = root(a * a + b * b)
        return Draft(
            fig,
            setup,
            [length_given("B", "C", a), length_given("A", "C", b)],
            length_ask("AB"),
            ("length", "A", "B"),
            ans,
            length_mistakes(
                ans,
                (num(a + b), "added the legs"),
                (root(abs(a * a - b * b)), "subtracted"),
                (num(a * a + b * b), "forgot the square root"),
            ),
            [step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True)],
        )
    pts["D"] = foot(pts["C"], pts["A"], pts["B"])
    fig = Figure(pts, [*segs, ("C", "D")], facts=[*facts, ("right", "C", "D", "B"), ("collinear", "A", "D", "B")])
    fig.scale = 1 / s
    ans = Val(Fraction(a * b, c))
    return Draft(
        fig,
        ("in Rt△ABC, ∠ACB is a right angle and CD ⊥ AB at D", "在Rt△ABC中，∠ACB为直角，CD⊥AB于点D"),
        [length_given("B", "C", a), length_given("A", "C", b)],
        length_ask("CD"),
        ("length", "C", "D"),
        ans,
        length_mistakes(
            ans,
            (num(Fraction(c, 2)), "the median instead of the altitude"),
            (num(Fraction(a * b, 2)), "the area instead of the altitude"),
            (num(Fraction(a * b, a + b)), "divided by the sum of the legs"),
        ),
        [
            step("AB = √(BC² + AC²)", f"sqrt({a}**2 + {b}**2)", "Pythagorean theorem", True),
            step(
                "AB · CD = BC · AC (twice the area), so CD = BC · AC ÷ AB", f"{a} * {b} / {c}", "area two ways", True
            ),
        ],
    )


def special_right(rng: random.Random, depth: int) -> Draft:
    """30°-60°-90° and 45°-45°-90° triangles (1-2); an oblique triangle split by an altitude (3)."""
    k = pick(rng, range(2, 9))
    if depth < 3:
        if rng.random() < 0.5 or depth == 2:
            pts = {"C": (0.0, 0.0), "B": (0.0, k * 1.0), "A": (k * math.sqrt(3), 0.0)}
            fig = Figure(pts, [("A", "B"), ("B", "C"), ("C", "A")], facts=[("right", "A", "C", "B")])
            setup = ("in Rt△ABC, ∠ACB is a right angle", "在Rt△ABC中，∠ACB为直角")
            givens = [angle_given("B", "A", "C", 30, "∠A"), length_given("A", "B", 2 * k)]
            if depth == 1:
                return Draft(
                    fig,
                    setup,
                    givens,
                    length_ask("BC"),
                    ("length", "B", "C"),
                    num(k),
                    length_mistakes(
                        num(k),
                        (root(3, k), "the side adjacent to 30°"),
                        (num(2 * k), "the hypotenuse"),
                        (root(2, k), "used 45° ratios"),
                    ),
                    [
                        step(
                            "The side opposite 30° is half the hypotenuse: BC = AB ÷ 2",
                            f"{2 * k} / 2",
                            "30° right triangle",
                            True,
                        )
                    ],
                )
            ans = root(3, k)
            return Draft(
                fig,
                setup,
                givens,
                length_ask("AC"),
                ("length", "A", "C"),
                ans,
                length_mistakes(
                    ans,
                    (num(k), "the side opposite 30°"),
                    (root(5, k), "added the squares"),
                    (root(2, k), "used 45° ratios"),
                ),
                [
                    step("BC = AB ÷ 2 (the side opposite 30°)", f"{2 * k} / 2", "30° right triangle", True),
                    step("AC = √(AB² − BC²)", f"sqrt({2 * k}**2 - {k}**2)", "Pythagorean theorem", True),
                ],
            )
        pts = {"C": (0.0, 0.0), "B": (0.0, k * 1.0), "A": (k * 1.0, 0.0)}
        ans = root(2, k)
        return Draft(
            Figure(
                pts,
                [("A", "B"), ("B", "C"), ("C", "A")],
                facts=[("right", "A", "C", "B"), ("equal", ("A", "C"), ("B", "C"))],
            ),
            ("in Rt△ABC, ∠ACB is a right angle and AC = BC", "在Rt△ABC中，∠ACB为直角，AC=BC"),
            [length_given("A", "C", k)],
            length_ask("AB"),
            ("length", "A", "B"),
            ans,
            length_mistakes(
                ans, (num(2 * k), "added the legs"), (root(3, k), "used 30° ratios"), (num(k), "equal to a leg")
            ),
            [step("AB = √(AC² + BC²) = AC·√2", f"sqrt({k}**2 + {k}**2)", "Pythagorean theorem", True)],
        )
    h = k
    pts = {"A": (0.0, float(h)), "D": (0.0, 0.0), "B": (-float(h), 0.0), "C": (h * math.sqrt(3), 0.0)}
    fig = Figure(
        pts,
        [("A", "B"), ("B", "C"), ("C", "A"), ("A", "D")],
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
    bc = Val(Fraction(h), 3, plus=Fraction(h))
    if rng.random() < 0.5:
        return Draft(
            fig,
            setup,
            givens,
            length_ask("BC"),
            ("length", "B", "C"),
            bc,
            length_mistakes(
                bc,
                (Val(Fraction(h), 2, plus=Fraction(h)), "used √2 for the 30° side"),
                (num(3 * h), "took CD = 2AD"),
                (root(3, 2 * h), "twice CD"),
            ),
            steps,
        )
    area = Val(Fraction(h * h, 2), 3, plus=Fraction(h * h, 2))
    steps.append(step("S△ABC = ½ · BC · AD", f"({h} + sqrt(3) * {h}) * {h} / 2", "triangle area"))
    return Draft(
        fig,
        setup,
        givens,
        ("the area of △ABC", "△ABC的面积"),
        ("area", "A", "B", "C"),
        area,
        length_mistakes(
            area,
            (Val(Fraction(h * h), 3, plus=Fraction(h * h)), "forgot the ½"),
            (Val(Fraction(h * h, 2), 2, plus=Fraction(h * h, 2)), "used √2 for the 30° side"),
            (num(2 * h * h), "took CD = 3AD"),
        ),
        steps,
    )


# ---------------------------------------------------------------------------------------------------------------
# Similarity and proportional segments
# ---------------------------------------------------------------------------------------------------------------


def similar_triangles(rng: random.Random, depth: int) -> Draft:
    """DE ∥ BC in △ABC: BC from DE (1), a proportional segment (2), areas by the square of the ratio (3)."""
    p, q = pick(rng, range(1, 6)), pick(rng, range(1, 6))
    if p == q:
        raise Reject("a midline; see the midsegment family")
    k = Fraction(p + q, p)
    ab = p + q
    phi = rng.uniform(40, 80)
    tilt = rng.uniform(-12, 12)
    # A on top, AB going down-left and AC down-right; the length of AC is what each depth pins down
    dir_b, dir_c = -90 - phi / 2 + tilt, -90 + phi / 2 + tilt
    pa = (0.0, 0.0)
    pb = at(pa, dir_b, ab)
    givens = [length_given("A", "D", p), length_given("D", "B", q)]
    if depth == 1:
        de = Fraction(round(ab * rng.uniform(0.75, 1.35) / k * 2), 2)  # DE to a half keeps the numbers GeoQA-like
        if de <= 0:
            raise Reject("DE too short")
        ac = _ray_length_to_distance(pa, dir_c, pb, float(de * k))
        givens.append(Given(("length", "D", "E"), Val(de), "DE"))
    elif depth == 2:
        ae = Fraction(pick(rng, range(2, 7)))
        ac = float(ae * k)
        givens.append(Given(("length", "A", "E"), Val(ae), "AE"))
    else:
        area = max(1, round(0.5 * p * p * rng.uniform(0.75, 1.35) * math.sin(math.radians(phi))))
        ac = float(2 * area * k / (p * math.sin(math.radians(phi))))  # S△ADE = ½·AD·AE·sin A
        givens.append(Given(("area", "A", "D", "E"), num(area), "the area of △ADE", "△ADE的面积"))
    if not 0.6 * ab <= ac <= 1.6 * ab:
        raise Reject("lopsided triangle")
    pc = at(pa, dir_c, ac)
    s = 5.0 / ab
    t = p / (p + q)
    pts = {
        n: (x * s, y * s)
        for n, (x, y) in {"A": pa, "B": pb, "C": pc, "D": lerp(pa, pb, t), "E": lerp(pa, pc, t)}.items()
    }
    fig = Figure(
        pts,
        [("A", "B"), ("A", "C"), ("B", "C"), ("D", "E")],
        facts=[("parallel", "D", "E", "B", "C"), ("collinear", "A", "D", "B"), ("collinear", "A", "E", "C")],
        scale=1 / s,
    )
    setup = ("in △ABC, D is on AB, E is on AC, and DE ∥ BC", "在△ABC中，点D、E分别在AB、AC上，DE∥BC")
    if depth == 1:
        ans = Val(de * k)
        return Draft(
            fig,
            setup,
            givens,
            length_ask("BC"),
            ("length", "B", "C"),
            ans,
            length_mistakes(
                ans,
                (Val(de * q / p), "used DB instead of AB"),
                (Val(de * (p + q) / q), "divided by DB"),
                (Val(de * p / (p + q)), "inverted the ratio"),
                (Val(de + q), "added DB"),
            ),
            [
                step("AB = AD + DB", f"{p} + {q}", "segment addition"),
                step(
                    "DE ∥ BC, so △ADE ∼ △ABC and BC = DE · AB ÷ AD",
                    f"{_frac(de)} * {p + q} / {p}",
                    "similar triangles",
                    True,
                ),
            ],
        )
    if depth == 2:
        ec = ae * q / p
        return Draft(
            fig,
            setup,
            givens,
            length_ask("EC"),
            ("length", "E", "C"),
            Val(ec),
            length_mistakes(
                Val(ec),
                (Val(ae * p / q), "inverted the ratio"),
                (Val(ae * k), "AC instead of EC"),
                (Val(ae + q - p), "added the difference"),
            ),
            [
                step(
                    "DE ∥ BC, so AD / DB = AE / EC and EC = AE · DB ÷ AD",
                    f"{_frac(ae)} * {q} / {p}",
                    "proportional segments",
                    True,
                )
            ],
        )
    ans = Val(area * (k * k - 1))
    return Draft(
        fig,
        setup,
        givens,
        ("the area of quadrilateral DBCE", "四边形DBCE的面积"),
        ("area", "D", "B", "C", "E"),
        ans,
        length_mistakes(
            ans,
            (Val(area * (k - 1)), "used the linear ratio"),
            (Val(area * k * k), "the whole triangle"),
            (Val(area * k), "area of △ABC by the linear ratio"),
        ),
        [
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


def midsegment(rng: random.Random, depth: int) -> Draft:
    """D, E are the midpoints of AB, AC: DE = ½BC (1), the perimeter of △ADE (2), the area of DBCE (3)."""
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
    pts = {"A": pa, "B": pb, "C": pc, "D": lerp(pa, pb, 0.5), "E": lerp(pa, pc, 0.5)}
    fig = Figure(
        pts,
        [("A", "B"), ("A", "C"), ("B", "C"), ("D", "E")],
        facts=[("equal", ("A", "D"), ("D", "B")), ("equal", ("A", "E"), ("E", "C"))],
    )
    setup = ("in △ABC, D and E are the midpoints of AB and AC", "在△ABC中，D、E分别是AB、AC的中点")
    if depth == 1:
        ans = Val(Fraction(bc, 2))
        return Draft(
            fig,
            setup,
            [length_given("B", "C", bc)],
            length_ask("DE"),
            ("length", "D", "E"),
            ans,
            length_mistakes(
                ans, (num(bc), "equal to BC"), (num(2 * bc), "doubled BC"), (Val(Fraction(bc, 3)), "a third of BC")
            ),
            [step("DE is a midline of △ABC, so DE = ½BC", f"{bc} / 2", "midline theorem", True)],
        )
    if depth == 2:
        ans = Val(Fraction(ab + ac + bc, 2))
        return Draft(
            fig,
            setup,
            [length_given("A", "B", ab), length_given("A", "C", ac), length_given("B", "C", bc)],
            ("the perimeter of △ADE", "△ADE的周长"),
            ("perimeter", "A", "D", "E"),
            ans,
            length_mistakes(
                ans,
                (num(ab + ac + bc), "the perimeter of △ABC"),
                (Val(Fraction(ab + ac, 2) + bc), "kept DE = BC"),
                (Val(Fraction(ab + ac + bc, 4)), "quartered"),
            ),
            [
                step("DE = ½BC (midline)", f"{bc} / 2", "midline theorem", True),
                step("AD = ½AB", f"{ab} / 2", "midpoint"),
                step("AE = ½AC", f"{ac} / 2", "midpoint"),
                step("Perimeter of △ADE = AD + AE + DE", f"{ab} / 2 + {ac} / 2 + {bc} / 2", "perimeter"),
            ],
        )
    total = pick(rng, range(4, 41, 4))
    s = math.sqrt(total / (0.5 * bc * ay))  # rescale so the drawn area is the stated one
    fig = Figure({n: (x * s, y * s) for n, (x, y) in pts.items()}, fig.segments, facts=fig.facts)
    ans = num(Fraction(3 * total, 4))
    return Draft(
        fig,
        setup,
        [Given(("area", "A", "B", "C"), num(total), "the area of △ABC", "△ABC的面积")],
        ("the area of quadrilateral DBCE", "四边形DBCE的面积"),
        ("area", "D", "B", "C", "E"),
        ans,
        length_mistakes(
            ans, (num(Fraction(total, 2)), "used the linear ratio"), (num(Fraction(total, 4)), "the area of △ADE")
        ),
        [
            step("DE ∥ BC and DE = ½BC (midline)", "1 / 2", "midline theorem", True),
            step(
                "△ADE ∼ △ABC with ratio ½, so S△ADE = ¼ S△ABC", f"{total} / 4", "similar triangles: area ratio", True
            ),
            step("S(DBCE) = S△ABC − S△ADE", f"{total} - {total} / 4", "area subtraction"),
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# Areas and perimeters
# ---------------------------------------------------------------------------------------------------------------


def polygon_area(rng: random.Random, depth: int) -> Draft:
    """Rectangle or triangle area (1), parallelogram with a 30°/45°/60° angle (2), rhombus perimeter (3)."""
    if depth == 1:
        if rng.random() < 0.5:
            a, b = pick(rng, range(3, 13)), pick(rng, range(2, 9))
            if a == b:
                raise Reject("a square")
            pts = {"A": (0.0, float(b)), "B": (0.0, 0.0), "C": (float(a), 0.0), "D": (float(a), float(b))}
            fig = Figure(
                pts,
                [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")],
                facts=[("right", "A", "B", "C"), ("right", "B", "C", "D"), ("right", "C", "D", "A")],
            )
            fig.scale = 1.0
            if rng.random() < 0.5:
                return Draft(
                    fig,
                    ("ABCD is a rectangle", "四边形ABCD是矩形"),
                    [length_given("B", "C", a), length_given("A", "B", b)],
                    ("the area of rectangle ABCD", "矩形ABCD的面积"),
                    ("area", "A", "B", "C", "D"),
                    num(a * b),
                    length_mistakes(
                        num(a * b),
                        (num(2 * (a + b)), "the perimeter"),
                        (num(a + b), "added the sides"),
                        (num(Fraction(a * b, 2)), "halved"),
                    ),
                    [step("S = BC · AB", f"{a} * {b}", "rectangle area")],
                )
            return Draft(
                fig,
                ("ABCD is a rectangle", "四边形ABCD是矩形"),
                [length_given("B", "C", a), length_given("A", "B", b)],
                ("the perimeter of rectangle ABCD", "矩形ABCD的周长"),
                ("perimeter", "A", "B", "C", "D"),
                num(2 * (a + b)),
                length_mistakes(
                    num(2 * (a + b)),
                    (num(a * b), "the area"),
                    (num(a + b), "half the perimeter"),
                    (num(4 * a), "four times the longer side"),
                ),
                [step("C = 2(BC + AB)", f"2 * ({a} + {b})", "rectangle perimeter")],
            )
        base, hgt = pick(rng, range(4, 13)), pick(rng, range(3, 10))
        dx = rng.uniform(0.25, 0.75) * base
        pts = {"B": (0.0, 0.0), "C": (float(base), 0.0), "A": (dx, float(hgt)), "D": (dx, 0.0)}
        fig = Figure(
            pts,
            [("A", "B"), ("B", "C"), ("C", "A"), ("A", "D")],
            facts=[("right", "A", "D", "C"), ("collinear", "B", "D", "C")],
        )
        ans = Val(Fraction(base * hgt, 2))
        return Draft(
            fig,
            ("in △ABC, AD ⊥ BC at D", "在△ABC中，AD⊥BC于点D"),
            [length_given("B", "C", base), length_given("A", "D", hgt)],
            ("the area of △ABC", "△ABC的面积"),
            ("area", "A", "B", "C"),
            ans,
            length_mistakes(
                ans,
                (num(base * hgt), "forgot the ½"),
                (num(base + hgt), "added"),
                (Val(Fraction(base * hgt, 4)), "halved twice"),
            ),
            [step("S = ½ · BC · AD", f"{base} * {hgt} / 2", "triangle area")],
        )
    if depth == 2:
        a, b = pick(rng, range(4, 11)), pick(rng, range(2, 8))
        ang = pick(rng, (30, 45, 60))
        pa = (0.0, 0.0)
        pd = at(pa, ang, b)
        pts = {"A": pa, "B": (float(a), 0.0), "D": pd, "C": (pd[0] + a, pd[1])}
        fig = Figure(
            pts,
            [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")],
            facts=[("parallel", "A", "B", "D", "C"), ("parallel", "A", "D", "B", "C")],
        )
        height = {30: num(Fraction(b, 2)), 45: root(2, Fraction(b, 2)), 60: root(3, Fraction(b, 2))}[ang]
        ans = Val(height.coef * a, height.rad)
        hexpr = {30: f"{b} / 2", 45: f"{b} * sqrt(2) / 2", 60: f"{b} * sqrt(3) / 2"}[ang]
        rule = "30° right triangle" if ang == 30 else "special right triangle"
        return Draft(
            fig,
            ("ABCD is a parallelogram", "四边形ABCD是平行四边形"),
            [length_given("A", "B", a), length_given("A", "D", b), angle_given("B", "A", "D", ang, "∠A")],
            ("the area of parallelogram ABCD", "平行四边形ABCD的面积"),
            ("area", "A", "B", "C", "D"),
            ans,
            length_mistakes(
                ans,
                (num(a * b), "used the slanted side as the height"),
                (Val(ans.coef / 2, ans.rad), "the triangle's area"),
                (num(2 * (a + b)), "the perimeter"),
            ),
            [
                step(f"The height from D to AB is AD · sin{ang}°", hexpr, rule, True),
                step("S = AB · height", f"{a} * {hexpr}", "parallelogram area"),
            ],
        )
    p, q, c = pick(rng, TRIPLES)
    s = 4.0 / max(p, q)
    pts = {"O": (0.0, 0.0), "A": (-p * s, 0.0), "C": (p * s, 0.0), "B": (0.0, q * s), "D": (0.0, -q * s)}
    fig = Figure(
        pts,
        [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("A", "C"), ("B", "D")],
        facts=[("equal", ("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")), ("right", "A", "O", "B")],
    )
    fig.scale = 1 / s
    return Draft(
        fig,
        ("the diagonals of rhombus ABCD meet at O", "菱形ABCD的对角线交于点O"),
        [length_given("A", "C", 2 * p), length_given("B", "D", 2 * q)],
        ("the perimeter of rhombus ABCD", "菱形ABCD的周长"),
        ("perimeter", "A", "B", "C", "D"),
        num(4 * c),
        length_mistakes(
            num(4 * c),
            (num(2 * p * q), "the area"),
            (num(4 * (p + q)), "added half-diagonals"),
            (num(c), "one side only"),
            (num(8 * c), "used the full diagonals"),
        ),
        [
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


def circle_measure(rng: random.Random, depth: int) -> Draft:
    """Circle area/circumference (1), sector area or arc length (2), arc length from an inscribed angle (3)."""
    r = pick(rng, range(2, 11))
    s = 3.0 / r
    o = (0.0, 0.0)
    if depth == 1:
        a = at(o, rng.uniform(-60, 60), R)
        fig = Figure({"O": o, "A": a}, [("O", "A")], [("O", "A")])
        fig.scale = 1 / s
        if rng.random() < 0.5:
            return Draft(
                fig,
                ("OA is a radius of circle O", "OA是⊙O的半径"),
                [length_given("O", "A", r)],
                ("the area of circle O", "⊙O的面积"),
                ("circle_area", "O", "A"),
                pi_val(r * r),
                length_mistakes(
                    pi_val(r * r),
                    (pi_val(2 * r), "the circumference"),
                    (pi_val(4 * r * r), "used the diameter as the radius"),
                    (pi_val(r), "πr"),
                ),
                [step("S = π · OA²", f"pi * {r}**2", "circle area")],
            )
        return Draft(
            fig,
            ("OA is a radius of circle O", "OA是⊙O的半径"),
            [length_given("O", "A", r)],
            ("the circumference of circle O", "⊙O的周长"),
            ("circumference", "O", "A"),
            pi_val(2 * r),
            length_mistakes(
                pi_val(2 * r),
                (pi_val(r * r), "the area"),
                (pi_val(r), "πr"),
                (pi_val(4 * r), "used the diameter as the radius"),
            ),
            [step("C = 2π · OA", f"2 * pi * {r}", "circumference")],
        )
    if depth == 2:
        theta = pick(rng, (30, 36, 40, 45, 60, 72, 90, 120, 135, 150))
        start = rng.uniform(-100, 100 - theta)
        pts = {"O": o, "A": at(o, start, R), "B": at(o, start + theta, R)}
        fig = Figure(pts, [("O", "A"), ("O", "B")], [("O", "A")])
        fig.scale = 1 / s
        givens = [length_given("O", "A", r), angle_given("A", "O", "B", theta)]
        area, arc = pi_val(Fraction(theta * r * r, 360)), pi_val(Fraction(theta * 2 * r, 360))
        setup = ("OA and OB are radii of circle O", "OA、OB是⊙O的半径")
        if rng.random() < 0.5:
            return Draft(
                fig,
                setup,
                givens,
                ("the area of sector AOB", "扇形AOB的面积"),
                ("sector_area", "O", "A", "B"),
                area,
                length_mistakes(
                    area,
                    (arc, "the arc length"),
                    (pi_val(r * r), "the whole circle"),
                    (pi_val(Fraction(theta * r * r, 180)), "divided by 180° instead of 360°"),
                ),
                [step("S = ∠AOB/360° · π · OA²", f"{theta} / 360 * pi * {r}**2", "sector area", True)],
            )
        return Draft(
            fig,
            setup,
            givens,
            ("the length of arc AB", "弧AB的长"),
            ("arc_length", "O", "A", "B"),
            arc,
            length_mistakes(
                arc,
                (area, "the sector area"),
                (pi_val(2 * r), "the whole circumference"),
                (pi_val(Fraction(theta * r, 360)), "used πr instead of 2πr"),
            ),
            [step("l = ∠AOB/360° · 2π · OA", f"{theta} / 360 * 2 * pi * {r}", "arc length", True)],
        )
    x = pick(rng, (20, 25, 30, 35, 40, 45, 50, 60, 70))
    pts = {"O": o, "A": at(o, -90 - x, R), "B": at(o, -90 + x, R), "C": at(o, 90 + rng.uniform(-30, 30), R)}
    fig = Figure(
        pts, [("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")], [("O", "A")], [("on_circle", "O", "A", "B", "C")]
    )
    fig.scale = 1 / s
    arc = pi_val(Fraction(2 * x * 2 * r, 360))
    return Draft(
        fig,
        ("A, B and C lie on circle O", "点A、B、C在⊙O上"),
        [length_given("O", "A", r), angle_given("A", "C", "B", x)],
        ("the length of the minor arc AB", "劣弧AB的长"),
        ("arc_length", "O", "A", "B"),
        arc,
        length_mistakes(
            arc,
            (pi_val(Fraction(x * 2 * r, 360)), "used ∠ACB as the central angle"),
            (pi_val(Fraction(2 * x * r * r, 360)), "the sector area"),
            (pi_val(2 * r - Fraction(2 * x * 2 * r, 360)), "the major arc"),
        ),
        [
            step("∠AOB = 2∠ACB (inscribed angle theorem)", f"2 * {x}", "inscribed angle", True),
            step("l = ∠AOB/360° · 2π · OA", f"{2 * x} / 360 * 2 * pi * {r}", "arc length", True),
        ],
    )


Family = Callable[[random.Random, int], Draft]

FAMILIES: dict[str, Family] = {
    "parallel_lines": parallel_lines,
    "triangle_angles": triangle_angles,
    "isosceles": isosceles,
    "angle_bisector": angle_bisector,
    "inscribed_angle": inscribed_angle,
    "diameter": diameter,
    "tangent": tangent,
    "chord": chord,
    "pythagoras": pythagoras,
    "special_right": special_right,
    "similar_triangles": similar_triangles,
    "midsegment": midsegment,
    "polygon_area": polygon_area,
    "circle_measure": circle_measure,
}
MAX_DEPTH = {name: 2 if name == "diameter" else 3 for name in FAMILIES}
