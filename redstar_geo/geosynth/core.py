"""GeoSynth's building blocks: exact answer values, checked solution steps, figures, and the independent re-solve.

A family (see :mod:`redstar_geo.geosynth.families`) builds a :class:`Draft`: a :class:`Figure` of named points with
real coordinates, the facts it asserts (parallel, equal, right angle, ...), the given measurements, the asked
measurement, the exact answer, candidate distractors and the solution steps. :func:`check_figure` then measures the
figure itself (angles and lengths from the coordinates, never the family's formula) and rejects any draft whose
facts, givens, steps or answer disagree with the drawing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from redstar_geo.judge import evaluate_expression

Pt = tuple[float, float]
# Coordinates are rounded before anything uses them, so a last-ulp difference between two machines' libm cannot
# change a stored record or a rendered pixel.
COORD_DIGITS = 6
ANGLE_TOL = 1e-3  # degrees; coordinates carry 1e-6 rounding
REL_TOL = 1e-4


class Reject(Exception):
    """A draft that cannot be used (degenerate, unreadable, inconsistent); the generator retries with the same rng."""


# ---------------------------------------------------------------------------------------------------------------
# Exact values
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Val:
    """An exact value ``coef · √rad · π^pi`` with a unit ("°" for angles), written as GeoQA choices are: ``40°``,
    ``4√3``, ``25π/3``, ``7.5``, ``3+3√3`` (via ``plus``)."""

    coef: Fraction
    rad: int = 1
    pi: bool = False
    unit: str = ""
    plus: Fraction = Fraction(0)  # a rational part added in front: 3+3√3

    def __float__(self) -> float:
        return float(self.plus) + float(self.coef) * math.sqrt(self.rad) * (math.pi if self.pi else 1.0)

    @property
    def text(self) -> str:
        tail = (f"√{self.rad}" if self.rad != 1 else "") + ("π" if self.pi else "")
        num, den = self.coef.numerator, self.coef.denominator
        if not tail:
            return _rational(self.coef + self.plus) + self.unit
        lead = {1: "", -1: "-"}.get(num, str(num))
        body = lead + tail + (f"/{den}" if den != 1 else "")
        if self.plus:
            body = _rational(self.plus) + ("" if body.startswith("-") else "+") + body
        return body + self.unit


def _rational(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    den = x.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:  # a terminating decimal reads as GeoQA writes it: 7.5, not 15/2
        return f"{float(x):.6f}".rstrip("0").rstrip(".")
    return f"{x.numerator}/{x.denominator}"


def deg(x) -> Val:
    return Val(Fraction(x), unit="°")


def num(x) -> Val:
    return Val(Fraction(x))


def root(n, coef=1) -> Val:
    """``coef · √n`` with the square factors of ``n`` (an int or Fraction) pulled out: root(12) is 2√3."""
    n, coef = Fraction(n), Fraction(coef)
    if n < 0:
        raise Reject(f"square root of {n}")
    # √(p/q) = √(pq)/q
    rad, coef = n.numerator * n.denominator, coef / n.denominator
    k = 2
    while k * k <= rad:
        while rad % (k * k) == 0:
            rad //= k * k
            coef *= k
        k += 1
    return Val(coef, rad) if rad else Val(Fraction(0))


def pi_val(coef) -> Val:
    return Val(Fraction(coef), pi=True)


# ---------------------------------------------------------------------------------------------------------------
# Solution steps: arithmetic that a checker can re-evaluate
# ---------------------------------------------------------------------------------------------------------------
def evaluate(expr: str) -> float:
    """The value of a step's arithmetic (numbers, + - * / **, ``sqrt(...)``, ``pi``), read by the answer judge's own
    parser; anything else is a ValueError."""
    value = evaluate_expression(expr)
    if value is None:
        raise ValueError(f"not plain arithmetic: {expr!r}")
    return value


def _clean(v: float) -> int | float:
    return int(round(v)) if abs(v - round(v)) < 1e-9 else round(v, 6)


def step(statement: str, expr: str, rule: str, theorem: bool = False) -> dict:
    """One solution step: ``statement`` in words/symbols, ``expr`` the arithmetic it asserts, its ``value``.

    ``theorem`` marks a step that applies a geometric fact (inscribed angle, Pythagoras, similarity) rather than
    plain arithmetic; it weighs double in the difficulty level.
    """
    return {
        "statement": statement,
        "expr": expr,
        "value": _clean(evaluate(expr)),
        "rule": rule,
        "weight": 2 if theorem else 1,
    }


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ANGLE_TOL)


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Figure:
    """A diagram in math coordinates (y up). Points whose name starts with ``_`` are drawn but not labelled.

    ``facts`` are asserted and checked against the coordinates, and drawn as marks: ``("parallel", A, B, C, D)``,
    ``("equal", (A, B), (C, D), ...)``, ``("right", A, V, B)``, ``("on_circle", O, A, ...)``,
    ``("collinear", A, B, C)``, ``("tangent", P, A, O)``, ``("bisector", A, V, B, D)`` (VD halves ∠AVB).
    ``arcs`` are angle marks ``(P, V, Q, label)``; ``lengths`` are length labels ``(A, B, label)``.
    """

    points: dict[str, Pt]
    segments: list[tuple[str, str]] = field(default_factory=list)
    circles: list[tuple[str, str]] = field(default_factory=list)  # (center, a point on the circle)
    facts: list[tuple] = field(default_factory=list)
    arcs: list[tuple[str, str, str, str]] = field(default_factory=list)
    lengths: list[tuple[str, str, str]] = field(default_factory=list)
    scale: float = 1.0  # stated length per coordinate unit, so every circle and triangle can be drawn at one size

    def __post_init__(self) -> None:
        self.points = {
            k: (round(x, COORD_DIGITS) + 0.0, round(y, COORD_DIGITS) + 0.0) for k, (x, y) in self.points.items()
        }


@dataclass
class Given:
    """A given measurement: ``measure`` (see :func:`measure`), its value, its name in the text (``∠1``, ``OA``)."""

    measure: tuple
    value: Val
    name: str
    zh_name: str | None = None  # only where Chinese words differ: 面积 for an area

    @property
    def drawable(self) -> bool:
        return self.measure[0] in ("angle", "length") and self.value.rad == 1 and not self.value.pi


@dataclass
class Draft:
    """What a family returns; :mod:`redstar_geo.geosynth.generate` turns it into a :class:`Problem`."""

    figure: Figure
    setup: tuple[str, str]  # (English, Chinese) structure of the figure, no numbers
    givens: list[Given]
    ask: tuple[str, str]  # ("the measure of ∠ACB", "∠ACB的度数")
    target: tuple  # the asked measurement
    answer: Val
    distractors: list[tuple[Val, str]]  # (value, the mistake it models), most plausible first
    steps: list[dict]
    number_names: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # "1" -> the angle ∠1 names


def _sub(a: Pt, b: Pt) -> Pt:
    return a[0] - b[0], a[1] - b[1]


def dist(a: Pt, b: Pt) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def angle_at(a: Pt, v: Pt, b: Pt) -> float:
    """∠AVB in degrees, 0-180."""
    ux, uy = _sub(a, v)
    wx, wy = _sub(b, v)
    return math.degrees(abs(math.atan2(ux * wy - uy * wx, ux * wx + uy * wy)))


def polygon_area(pts: list[Pt]) -> float:
    return abs(sum(pts[i][0] * pts[i - 1][1] - pts[i - 1][0] * pts[i][1] for i in range(len(pts)))) / 2


def measure(fig: Figure, m: tuple) -> float:
    """Measure ``m`` on the figure's coordinates: ``("angle", A, V, B)`` (degrees), ``("length", A, B)``,
    ``("area", A, B, C, ...)``, ``("perimeter", A, B, C, ...)``, ``("sector_area", O, A, B)`` and
    ``("arc_length", O, A, B)`` (the minor arc AB about O), ``("circle_area", O, A)`` and
    ``("circumference", O, A)`` (the circle about O through A)."""
    kind, names = m[0], m[1:]
    pts = [fig.points[n] for n in names]
    k = fig.scale
    if kind == "angle":
        return angle_at(*pts)
    if kind == "length":
        return k * dist(*pts)
    if kind == "area":
        return k * k * polygon_area(pts)
    if kind == "perimeter":
        return k * sum(dist(pts[i - 1], pts[i]) for i in range(len(pts)))
    if kind in ("sector_area", "arc_length"):
        r, theta = k * dist(pts[0], pts[1]), math.radians(angle_at(pts[1], pts[0], pts[2]))
        return r * r * theta / 2 if kind == "sector_area" else r * theta
    if kind == "circle_area":
        return math.pi * (k * dist(*pts)) ** 2
    if kind == "circumference":
        return 2 * math.pi * k * dist(*pts)
    raise ValueError(f"unknown measurement {kind!r}")


def _collinear(a: Pt, b: Pt, c: Pt) -> bool:
    (ux, uy), (wx, wy) = _sub(b, a), _sub(c, a)
    return abs(ux * wy - uy * wx) <= 1e-4 * max(1.0, math.hypot(ux, uy) * math.hypot(wx, wy))


def check_fact(fig: Figure, fact: tuple) -> bool:
    """Whether the coordinates satisfy one asserted fact (see :class:`Figure`)."""
    p = fig.points
    kind = fact[0]
    if kind == "parallel":
        a, b, c, d = (p[n] for n in fact[1:])
        (ux, uy), (wx, wy) = _sub(b, a), _sub(d, c)
        return abs(ux * wy - uy * wx) <= 1e-4 * math.hypot(ux, uy) * math.hypot(wx, wy)
    if kind == "equal":
        lengths = [dist(p[x], p[y]) for x, y in fact[1:]]
        return all(math.isclose(v, lengths[0], rel_tol=REL_TOL) for v in lengths)
    if kind == "right":
        return close(angle_at(p[fact[1]], p[fact[2]], p[fact[3]]), 90)
    if kind == "on_circle":
        r = [dist(p[fact[1]], p[n]) for n in fact[2:]]
        return all(math.isclose(v, r[0], rel_tol=REL_TOL) for v in r)
    if kind == "collinear":
        return _collinear(*(p[n] for n in fact[1:]))
    if kind == "tangent":
        return close(angle_at(p[fact[1]], p[fact[2]], p[fact[3]]), 90)
    if kind == "bisector":
        a, v, b, d = (p[n] for n in fact[1:])
        return close(angle_at(a, v, d), angle_at(d, v, b)) and close(angle_at(a, v, d) * 2, angle_at(a, v, b))
    raise ValueError(f"unknown fact {kind!r}")


def check_figure(
    fig: Figure, givens: list[tuple[tuple, float]], target: tuple, answer: float, steps: list[dict]
) -> list[str]:
    """Every disagreement between the figure's coordinates and what the problem states, as messages; [] when none.

    This is the independent re-solve: the answer is measured on the coordinates, not taken from the template.
    """
    errors = []
    for fact in fig.facts:
        if not check_fact(fig, tuple(fact)):
            errors.append(f"fact {fact} does not hold in the figure")
    for m, value in givens:
        got = measure(fig, tuple(m))
        if not close(got, value):
            errors.append(f"given {m} = {value} but the figure measures {got:.6g}")
    got = measure(fig, tuple(target))
    if not close(got, answer):
        errors.append(f"answer {answer:.6g} but the figure measures {target} = {got:.6g}")
    for s in steps:
        try:
            v = evaluate(s["expr"])
        except (ValueError, SyntaxError, ZeroDivisionError) as exc:
            errors.append(f"step {s['statement']!r}: {exc}")
            continue
        if not close(v, s["value"]):
            errors.append(f"step {s['statement']!r}: {s['expr']} = {v:.6g}, not {s['value']}")
    if not steps or not close(steps[-1]["value"], answer):
        errors.append("the last step does not reach the answer")
    return errors
