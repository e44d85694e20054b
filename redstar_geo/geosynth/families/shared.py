"""What the family modules share: coordinate helpers, givens and asks, generic wrong answers, and the two draft
builders :func:`angle_draft` and :func:`measure_draft` that every family returns through.

Usage (inside a family module)::

    from redstar_geo.geosynth.families.shared import angle_draft, angle_given, pick, triangle

    a, b = pick(rng, range(30, 101, 5)), pick(rng, range(30, 101, 5))
    pa, pb, pc = triangle(a, b)
    return angle_draft(
        figure=Figure({"A": pa, "B": pb, "C": pc}, segments=[("A", "B"), ("B", "C"), ("C", "A")]),
        setup=("in △ABC", "在△ABC中"),
        givens=[angle_given("B", "A", "C", a, "∠A"), angle_given("A", "B", "C", b, "∠B")],
        asked=("A", "C", "B"),
        name="∠C",
        value=180 - a - b,
        mistakes=[(a + b, "exterior angle instead of the interior one")],
        steps=[step("∠C = 180° − ∠A − ∠B", f"180 - {a} - {b}", "triangle angle sum")],
    )
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from redstar_geo.geosynth.core import Draft, Figure, Given, Reject, Val, deg, num

# The side lengths of the right triangles whose answers come out whole (chords, Pythagoras, rhombus diagonals).
TRIPLES = [(3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15), (12, 16, 20), (7, 24, 25)]


# ---------------------------------------------------------------------------------------------------------------
# Coordinates
# ---------------------------------------------------------------------------------------------------------------
def unit(a: float) -> tuple[float, float]:
    """The unit vector at ``a`` degrees."""
    r = math.radians(a)
    return math.cos(r), math.sin(r)


def at(p, a: float, r: float):
    """The point at distance ``r`` from ``p`` in direction ``a`` degrees."""
    u = unit(a)
    return p[0] + r * u[0], p[1] + r * u[1]


def lerp(p, q, t: float):
    """The point a fraction ``t`` of the way from ``p`` to ``q``."""
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
    """One of ``values`` (any iterable), drawn with ``rng.choice``."""
    return rng.choice(list(values))


# ---------------------------------------------------------------------------------------------------------------
# Givens, asks and the usual wrong answers
# ---------------------------------------------------------------------------------------------------------------
def angle_given(p, v, q, value, name=None) -> Given:
    """∠PVQ = ``value`` degrees, called ``name`` in the text (default ``∠PVQ``)."""
    return Given(("angle", p, v, q), deg(value), name or f"∠{p}{v}{q}")


def length_given(a, b, value) -> Given:
    """AB = ``value``."""
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
    """The listed wrong values first, then ``x`` doubled and halved."""
    generic = [
        (Val(x.coef * 2, x.rad, x.pi, plus=x.plus * 2), "doubled"),
        (Val(x.coef / 2, x.rad, x.pi, plus=x.plus / 2), "halved"),
    ]
    return [*extra, *generic]


# ---------------------------------------------------------------------------------------------------------------
# Drafts
# ---------------------------------------------------------------------------------------------------------------
def angle_draft(
    *,
    figure: Figure,
    setup: tuple[str, str],
    givens: list[Given],
    asked: tuple[str, str, str],
    value,
    mistakes: Sequence[tuple[float, str]],
    steps: list[dict],
    name: str | None = None,
    number_names: dict[str, tuple[str, str, str]] | None = None,
) -> Draft:
    """A draft asking for the angle ``asked`` (three point names, the vertex in the middle), which measures ``value``
    degrees and is called ``name`` in the text (default ``∠`` + the three names). ``mistakes`` are (wrong value in
    degrees, why), most plausible first; the generic wrong angles of :func:`angle_mistakes` follow them."""
    return Draft(
        figure=figure,
        setup=setup,
        givens=givens,
        ask=angle_ask(name or "∠" + "".join(asked)),
        target=("angle", *asked),
        answer=deg(value),
        distractors=angle_mistakes(value, *mistakes),
        steps=steps,
        number_names=number_names or {},
    )


def measure_draft(
    *,
    figure: Figure,
    setup: tuple[str, str],
    givens: list[Given],
    ask: tuple[str, str],
    target: tuple,
    answer: Val,
    mistakes: Sequence[tuple[Val, str]],
    steps: list[dict],
) -> Draft:
    """A draft asking for a length, area, perimeter or arc: ``ask`` is its (English, Chinese) wording, ``target`` the
    measurement (see :func:`redstar_geo.geosynth.core.measure`). ``mistakes`` are (wrong value, why), most plausible
    first; ``answer`` doubled and halved follow them."""
    return Draft(
        figure=figure,
        setup=setup,
        givens=givens,
        ask=ask,
        target=target,
        answer=answer,
        distractors=length_mistakes(answer, *mistakes),
        steps=steps,
    )
