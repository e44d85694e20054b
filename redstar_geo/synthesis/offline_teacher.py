"""The offline teacher: Long-CoT traces in a slow-thinking model's style, written from GeoSynth's checked solutions.

It stands in for a real slow-thinking teacher (QvQ-72B, QwQ) on a machine with no model: every GeoSynth problem
carries its solution steps (rule, arithmetic, value) and the mistakes its distractors model, so a trace can be
written that restates the problem, plans, works each step with its arithmetic, re-checks, sometimes takes a second
route or eliminates choices, and answers. Failures are planted at configurable rates, the way real teachers fail
(a distractor's mistake followed through, an uncorrected slip, a repetition loop, a language switch, no answer, a cut
at the length limit, an answer in the wrong form), and the planted label is recorded so the verifier
(:func:`redstar_geo.verify.verify_trace`) can be measured against it::

    from redstar_geo.geosynth import generate_problem
    from redstar_geo.synthesis.offline_teacher import OfflineTeacher, OfflineTeacherConfig

    teacher = OfflineTeacher(OfflineTeacherConfig(seed=0))
    problem = generate_problem(seed=3, language="zh")
    trace = teacher.sample(problem, sample_index=0)          # a TeacherTrace
    trace.text            # "<think>\\n好的，这是一道几何题：……\\n</think>\\n\\n……故选B，答案为 \\\\boxed{B}。"
    trace.planted         # None for a good trace, else one of FAILURE_KINDS
    trace.finish_reason   # "stop", or "length" (truncated traces, repetition loops)
    teacher.sample(problem, 1, protocol="value").text        # ... **答案：** \\\\boxed{25°}

    # only truncations, 20% of traces at difficulty 5 (more on harder problems)
    OfflineTeacher(OfflineTeacherConfig(failure_rates={"truncated": 0.2}))
    # the thinking apart, as a server's reasoning_content
    OfflineTeacher(OfflineTeacherConfig(separate_reasoning=True)).sample(problem, 0).reasoning

The same ``(config.seed, problem.id, sample_index)`` always gives the same trace; other sample indices give other
wordings (templates, which checks are made, how much working is shown). Every explicit calculation in a good trace
is right (exact arithmetic over rationals, square roots and π); the only wrong ones are a planted
``arithmetic_slip`` and, in about one good trace in ten, a slip the trace corrects at once.
"""

from __future__ import annotations

import ast
import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from redstar_geo.judge import to_number
from redstar_geo.schema import Problem

FAILURE_KINDS = (
    "wrong_answer",
    "arithmetic_slip",
    "repetition_loop",
    "language_switch",
    "no_final_answer",
    "truncated",
    "wrong_format",
)
DEFAULT_FAILURE_RATE = 0.04
MAX_TOTAL_RATE = 0.9
PROTOCOL_NAMES = ("choice", "value")
# Good traces are lengthened with re-checks to between MIN_CHARS and 1.7 times it (thinking and answer together);
# Chinese ones, about a token a character, run out of distinct re-checks sooner and stay shorter in characters.
MIN_CHARS = 1_500
# Repetition loops run until a max-tokens cut somewhere in this range of characters.
LOOP_CHARS = (6_000, 12_000)
FIXED_SLIP_SHARE = 0.1  # good traces that make a slip and correct it at once
# After a planted slip, no correction word for this many characters (a verifier may take one as the correction).
CALM_CHARS = 300
# Words that read as a trace going back over a calculation: after a planted slip, none of them for CALM_CHARS (an
# "内错角", alternate angles, is geometry, not a correction).
_CORRECTION_WORDS = re.compile(
    r"(?i)\b(?:wait|actually|hmm+|no|nope|oops|wrong|mistakes?|mistaken|incorrect|miscalculat\w*|correction|"
    r"should\s+(?:be|have\s+been)|recalculat\w*|recomput\w*|re-?check\w*|double-check\w*|hold\s+on|"
    r"not\s+(?:right|correct)|verif\w*|check\w*|redo|again|reconsider\w*)\b"
    r"|不对|(?<![内外])错(?!角)|等等|等一下|不是|更正|纠正|应该是|应为|应是|重新|重算|验算|验证|检查|核对|嗯|再想"
)
# Templates the calm window avoids: the correction words and anything that reads as a doubt.
_DOUBT_WORDS = re.compile(_CORRECTION_WORDS.pattern + r"|错|\?|？")
# Words a final-answer extractor keys on: a trace that plants "no final answer" must not use them anywhere.
_ANSWER_WORDS = re.compile(r"(?i)answer|option|choice|choos|select|pick|go with|correct|选|答")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _default_rates() -> dict[str, float]:
    return dict.fromkeys(FAILURE_KINDS, DEFAULT_FAILURE_RATE)


@dataclass
class OfflineTeacherConfig:
    """How the offline teacher writes and how often it fails.

    ``failure_rates`` maps a kind of :data:`FAILURE_KINDS` to its probability at average difficulty (5); kinds left
    out never happen. A problem of difficulty ``d`` fails with ``rate * (1 + difficulty_slope * (d - 5))`` (clipped to
    [0, 1]; when the kinds together exceed 1 they are scaled down to sum to 1). ``think_tags``: the trace is
    ``<think>\\n…\\n</think>\\n\\n<answer section>`` as QwQ, QvQ and R1 write it; False: one plain text.
    ``separate_reasoning``: the thinking comes back in :attr:`TeacherTrace.reasoning` (as a server's
    ``reasoning_content``) and only the answer section in ``text``. ``min_chars``: good traces are lengthened with
    re-checks to between ``min_chars`` and 1.7 times it, as QwQ keeps re-checking easy problems; 0 leaves them as
    long as their working (a few hundred characters: short enough for a tiny model on a CPU to learn and generate).
    """

    failure_rates: dict[str, float] = field(default_factory=_default_rates)
    difficulty_slope: float = 0.15
    seed: int = 0
    think_tags: bool = True
    separate_reasoning: bool = False
    min_chars: int = MIN_CHARS

    def __post_init__(self) -> None:
        if not isinstance(self.failure_rates, dict):
            raise ValueError(
                f"failure_rates must be a dict from a failure kind to a probability, got "
                f"{type(self.failure_rates).__name__}; e.g. {{'truncated': 0.05}}"
            )
        unknown = sorted(str(k) for k in self.failure_rates if k not in FAILURE_KINDS)
        if unknown:
            raise ValueError(f"unknown failure kinds {unknown} in failure_rates; use only {', '.join(FAILURE_KINDS)}")
        for kind, rate in self.failure_rates.items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
                raise ValueError(f"failure_rates[{kind!r}] = {rate!r} is not a probability; give a number in [0, 1]")
        total = sum(self.failure_rates.values())
        if total > MAX_TOTAL_RATE + 1e-12:
            raise ValueError(
                f"failure rates sum to {total:.3g}, more than {MAX_TOTAL_RATE}: at least "
                f"{1 - MAX_TOTAL_RATE:.0%} of traces must be good; lower some of the rates"
            )
        if isinstance(self.difficulty_slope, bool) or not isinstance(self.difficulty_slope, (int, float)):
            raise ValueError(f"difficulty_slope must be a number, got {self.difficulty_slope!r}")
        if not math.isfinite(self.difficulty_slope) or self.difficulty_slope < 0:
            raise ValueError(
                f"difficulty_slope must be finite and >= 0 (0: every difficulty fails alike), "
                f"got {self.difficulty_slope!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if isinstance(self.min_chars, bool) or not isinstance(self.min_chars, int) or self.min_chars < 0:
            raise ValueError(f"min_chars must be an int >= 0 (0: no lengthening), got {self.min_chars!r}")

    def rates_at(self, difficulty: int) -> dict[str, float]:
        """The probability of each failure kind for a problem of ``difficulty`` (1-9)."""
        scale = 1.0 + self.difficulty_slope * (difficulty - 5)
        rates = {k: min(1.0, max(0.0, self.failure_rates.get(k, 0.0) * scale)) for k in FAILURE_KINDS}
        total = sum(rates.values())
        if total > 1.0:  # a hard problem with high rates: the kinds keep their proportions
            rates = {k: r / total for k, r in rates.items()}
        return rates


@dataclass
class TeacherTrace:
    """One sampled trace. ``planted`` is the failure deliberately put in (None: a good trace); ``finish_reason`` is
    what a server would report ("length" for a cut at max tokens); ``n_tokens`` an estimate of the completion's
    tokens (a Han character ~1, other text ~3 characters each)."""

    text: str
    reasoning: str | None
    planted: str | None
    finish_reason: str
    n_tokens: int

    @property
    def full_text(self) -> str:
        """The whole completion as one string: the reasoning put back inside ``<think>`` tags when it came apart."""
        if self.reasoning is None:
            return self.text
        if self.finish_reason == "length" and not self.text:  # cut off while still thinking
            return f"<think>\n{self.reasoning}"
        return f"<think>\n{self.reasoning}\n</think>\n\n{self.text}"


def estimate_tokens(text: str) -> int:
    """About how many tokens a Qwen-style tokenizer makes of ``text``: one per Han character, one per three other
    characters."""
    han = len(_HAN.findall(text))
    return han + (len(text) - han + 2) // 3


# ---------------------------------------------------------------------------------------------------------------
# Exact numbers: sums of coef · √rad · π^k, so the trace can write 8√3 and 9π/4 and every written equation is exact
# ---------------------------------------------------------------------------------------------------------------
def _square_free(n: int) -> tuple[int, int]:
    """``(k, m)`` with ``n = k² · m`` and ``m`` square-free."""
    k, m, f = 1, n, 2
    while f * f <= m:
        while m % (f * f) == 0:
            m //= f * f
            k *= f
        f += 1
    return k, m


class _Num:
    """An exact value (``terms``: ``{(radicand, power of π): coefficient}``) or, where exactness is lost, a float."""

    __slots__ = ("terms", "approx")

    def __init__(self, terms: dict[tuple[int, int], Fraction] | None = None, approx: float | None = None):
        self.terms = None if terms is None else {b: c for b, c in terms.items() if c != 0}
        self.approx = approx

    @classmethod
    def of(cls, q) -> _Num:
        return cls({(1, 0): Fraction(q)})

    @property
    def exact(self) -> bool:
        return self.terms is not None

    def __float__(self) -> float:
        if self.terms is None:
            return float(self.approx)
        return float(sum(float(c) * math.sqrt(r) * math.pi**p for (r, p), c in self.terms.items()))

    @property
    def rational(self) -> Fraction | None:
        if self.terms is None or any(b != (1, 0) for b in self.terms):
            return None
        return self.terms.get((1, 0), Fraction(0))

    def same(self, other: _Num) -> bool:
        return math.isclose(float(self), float(other), rel_tol=1e-9, abs_tol=1e-9)


def _n_add(a: _Num, b: _Num, sign: int = 1) -> _Num:
    if a.exact and b.exact:
        terms = dict(a.terms)
        for basis, c in b.terms.items():
            terms[basis] = terms.get(basis, Fraction(0)) + sign * c
        return _Num(terms)
    return _Num(approx=float(a) + sign * float(b))


def _n_mul(a: _Num, b: _Num) -> _Num:
    if a.exact and b.exact:
        terms: dict[tuple[int, int], Fraction] = {}
        for (r1, p1), c1 in a.terms.items():
            for (r2, p2), c2 in b.terms.items():
                if p1 + p2 > 2:
                    return _Num(approx=float(a) * float(b))
                k, m = _square_free(r1 * r2)
                terms[(m, p1 + p2)] = terms.get((m, p1 + p2), Fraction(0)) + c1 * c2 * k
        return _Num(terms)
    return _Num(approx=float(a) * float(b))


def _n_div(a: _Num, b: _Num) -> _Num:
    if a.exact and b.exact and len(b.terms) == 1:
        (((r, p), c),) = b.terms.items()
        if all(p1 >= p for (_, p1) in a.terms):
            terms: dict[tuple[int, int], Fraction] = {}
            for (r1, p1), c1 in a.terms.items():
                k, m = _square_free(r1 * r)  # a / (c√r) = a·√r / (c·r)
                terms[(m, p1 - p)] = terms.get((m, p1 - p), Fraction(0)) + c1 * k / (c * r)
            return _Num(terms)
    return _Num(approx=float(a) / float(b))


def _n_sqrt(a: _Num) -> _Num:
    q = a.rational
    if q is not None and q >= 0:
        k, m = _square_free(q.numerator * q.denominator)  # √(n/d) = √(nd)/d
        return _Num({(m, 0): Fraction(k, q.denominator)})
    return _Num(approx=math.sqrt(float(a)))


def _n_pow(a: _Num, b: _Num) -> _Num:
    q = b.rational
    if q is not None and q.denominator == 1 and 0 <= q <= 6:
        out = _Num.of(1)
        for _ in range(int(q)):
            out = _n_mul(out, a)
        return out
    return _Num(approx=float(a) ** float(b))


def _rational_text(q: Fraction) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    den = q.denominator
    for f in (2, 5):
        while den % f == 0:
            den //= f
    if den == 1 and q.denominator <= 10_000:  # a terminating decimal reads as GeoQA writes it: 17.5, not 35/2
        return f"{float(q):.6f}".rstrip("0").rstrip(".")
    return f"{q.numerator}/{q.denominator}"


def _term_text(c: Fraction, r: int, p: int) -> str:
    tail = (f"√{r}" if r != 1 else "") + {0: "", 1: "π", 2: "π²"}[p]
    if not tail:
        return _rational_text(c)
    num, den = c.numerator, c.denominator
    lead = {1: "", -1: "-"}.get(num, str(num))
    return lead + tail + (f"/{den}" if den != 1 else "")


def _num_text(n: _Num, deg: bool = False) -> str:
    """``25°``, ``17.5``, ``8√3``, ``9π/4``, ``3 + 3√3``; an inexact value to two decimals."""
    if not n.exact:
        return f"{float(n):.2f}" + ("°" if deg else "")
    if not n.terms:
        return "0" + ("°" if deg else "")
    parts = sorted(n.terms.items(), key=lambda t: (t[0][1], t[0][0]))
    out = ""
    for i, ((r, p), c) in enumerate(parts):
        text = _term_text(abs(c) if i else c, r, p)
        out = text if not i else f"{out} {'+' if c > 0 else '−'} {text}"
    return out + ("°" if deg and n.rational is not None else "")


def _approx_text(n: _Num, deg: bool = False) -> str:
    return f"{float(n):.2f}".rstrip("0").rstrip(".") + ("°" if deg else "")


# ---------------------------------------------------------------------------------------------------------------
# Expression trees: a step's Python expression parsed, reduced one layer at a time, and written as math
# ---------------------------------------------------------------------------------------------------------------
# A node is ("n", _Num) or (op, child, ...) with op in + - * / ^ sqrt neg.
Node = tuple
_PI = _Num({(1, 1): Fraction(1)})
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}


def _leaf(n: _Num) -> Node:
    return ("n", n)


def _parse(expr: str) -> Node:
    def walk(node) -> Node:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            return _leaf(_Num.of(Fraction(str(node.value))))
        if isinstance(node, ast.Name) and node.id == "pi":
            return _leaf(_PI)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return (_OPS[type(node.op)], walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ("neg", walk(node.operand))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return walk(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt":
            if len(node.args) == 1 and not node.keywords:
                return ("sqrt", walk(node.args[0]))
        raise ValueError(f"not plain arithmetic: {ast.dump(node)[:80]}")

    return walk(ast.parse(expr, mode="eval"))


def _apply(op: str, args: list[_Num]) -> _Num:
    if op == "+":
        return _n_add(args[0], args[1])
    if op == "-":
        return _n_add(args[0], args[1], -1)
    if op == "*":
        return _n_mul(args[0], args[1])
    if op == "/":
        return _n_div(args[0], args[1])
    if op == "^":
        return _n_pow(args[0], args[1])
    if op == "sqrt":
        return _n_sqrt(args[0])
    return _n_mul(args[0], _Num.of(-1))  # neg


def _value(node: Node) -> _Num:
    if node[0] == "n":
        return node[1]
    return _apply(node[0], [_value(c) for c in node[1:]])


def _reduce(node: Node) -> Node:
    """One layer of working: every operation whose operands are already numbers is carried out."""
    if node[0] == "n":
        return node
    if all(c[0] == "n" for c in node[1:]):
        return _leaf(_apply(node[0], [c[1] for c in node[1:]]))
    return (node[0], *(_reduce(c) for c in node[1:]))


def _states(node: Node) -> list[Node]:
    out = [node]
    while out[-1][0] != "n":
        out.append(_reduce(out[-1]))
    return out


def _is_leaf(node: Node) -> bool:
    return node[0] == "n"


def _leaf_prec(n: _Num) -> int:
    """How tightly a written number binds: 17 and 2.5 are atoms; 8√3, 9π/4, 1/3 are products; 3 + 3√3 is a sum."""
    if not n.exact:
        return 5 if float(n) >= 0 else 3
    if len(n.terms) > 1:
        return 1
    if not n.terms:
        return 5
    (((r, p), c),) = n.terms.items()
    if c < 0:
        return 3
    if r == 1 and p == 0:
        return 5 if "/" not in _rational_text(c) else 2
    return 2 if (c != 1 or r != 1 or p != 1) else 5


_SUPER = {2: "²", 3: "³"}


def _render(node: Node, deg: bool = False) -> tuple[str, int]:
    """``(text, precedence)`` of a tree written as math: ``180° − 65° − 90°``, ``√(16² − 8²)``, ``5 × 7 ÷ 2``.

    Degree signs go on the angles (terms of sums and differences, the dividend, the multiplied angle), not on
    counts and divisors: ``(180° − 40°) ÷ 2``, ``2 × 35°``."""
    op = node[0]
    if op == "n":
        return _num_text(node[1], deg), _leaf_prec(node[1])
    if op in ("+", "-"):
        left, _ = _render(node[1], deg)
        right, rp = _render(node[2], deg)
        if rp <= 1:
            right = f"({right})"
        return f"{left} {'+' if op == '+' else '−'} {right}", 1
    if op in ("*", "/"):
        a, b = node[1], node[2]
        if op == "*":
            small = [
                _is_leaf(c) and c[1].rational is not None and abs(c[1].rational) <= 4 and c[1].rational != 0
                for c in (a, b)
            ]
            left_deg, right_deg = (False, deg) if small[0] and not small[1] else (deg, False)
        else:
            left_deg, right_deg = deg, False
        left, lp = _render(a, left_deg)
        right, rp = _render(b, right_deg)
        if lp < 2:
            left = f"({left})"
        if rp < 2 or (op == "/" and rp == 2):
            right = f"({right})"
        return f"{left} {'×' if op == '*' else '÷'} {right}", 2
    if op == "^":
        base, bp = _render(node[1], False)
        exp = node[2][1].rational if _is_leaf(node[2]) else None
        if bp < 5:
            base = f"({base})"
        if exp is not None and exp in _SUPER:
            return base + _SUPER[int(exp)], 4
        return f"{base}^{_render(node[2])[0]}", 4
    if op == "sqrt":
        inner, ip = _render(node[1], False)
        return (f"√{inner}" if _is_leaf(node[1]) and ip == 5 else f"√({inner})"), 5
    inner, ip = _render(node[1], deg)
    return ("−" + (inner if ip >= 3 else f"({inner})")), 3


def _text(node: Node, deg: bool = False) -> str:
    return _render(node, deg)[0]


def _has_inexact(node: Node) -> bool:
    if node[0] == "n":
        return not node[1].exact
    return any(_has_inexact(c) for c in node[1:])


def _substitute(node: Node, old_tree: Node, old: _Num, new: _Num) -> Node:
    """``node`` with every occurrence of an earlier step's result (its number, or its whole expression written out
    again) replaced by that step's new result: a mistake carried forward."""
    if node == old_tree:
        return _leaf(new)
    if node[0] == "n":
        return _leaf(new) if node[1].same(old) else node
    try:
        if _value(node).same(old):  # the earlier result written another way: "sqrt(3) * 3" for CD = 3√3
            return _leaf(new)
    except (ZeroDivisionError, OverflowError, ValueError):
        pass
    return (node[0], *(_substitute(c, old_tree, old, new) for c in node[1:]))


# ---------------------------------------------------------------------------------------------------------------
# Words: rules, facts and step statements in both languages
# ---------------------------------------------------------------------------------------------------------------
# rule -> (English name, English reason, Chinese name, Chinese reason)
_RULES: dict[str, tuple[str, str, str, str]] = {
    "triangle angle sum": (
        "the triangle angle sum",
        "the angles of a triangle add up to 180°",
        "三角形内角和定理",
        "三角形的内角和为180°",
    ),
    "Pythagorean theorem": (
        "the Pythagorean theorem",
        "in a right triangle the square of the hypotenuse is the sum of the squares of the legs",
        "勾股定理",
        "直角三角形两直角边的平方和等于斜边的平方",
    ),
    "inscribed angle": (
        "the inscribed angle theorem",
        "an inscribed angle is half the central angle on the same arc",
        "圆周角定理",
        "同弧所对的圆周角等于它所对圆心角的一半",
    ),
    "alternate interior angles": (
        "alternate interior angles",
        "parallel lines make equal alternate interior angles",
        "内错角相等",
        "两直线平行，内错角相等",
    ),
    "alternate exterior angles": (
        "alternate exterior angles",
        "parallel lines make equal alternate exterior angles",
        "外错角相等",
        "两直线平行，外错角相等",
    ),
    "corresponding angles": (
        "corresponding angles",
        "parallel lines make equal corresponding angles",
        "同位角相等",
        "两直线平行，同位角相等",
    ),
    "co-interior angles": (
        "co-interior angles",
        "co-interior angles between parallel lines add up to 180°",
        "同旁内角互补",
        "两直线平行，同旁内角互补",
    ),
    "segment addition": (
        "segment addition",
        "the whole segment is the sum of its parts",
        "线段的和差",
        "整条线段等于各部分之和",
    ),
    "isosceles base angles": (
        "the isosceles base angles",
        "the base angles of an isosceles triangle are equal",
        "等腰三角形的性质",
        "等腰三角形的两个底角相等",
    ),
    "30° right triangle": (
        "the 30-60-90 triangle",
        "in a right triangle the side opposite 30° is half the hypotenuse",
        "含30°角的直角三角形的性质",
        "直角三角形中30°角所对的直角边等于斜边的一半",
    ),
    "45° right triangle": (
        "the isosceles right triangle",
        "a right triangle with a 45° angle has equal legs",
        "等腰直角三角形的性质",
        "有一个角是45°的直角三角形两条直角边相等",
    ),
    "special right triangle": (
        "the special right triangle ratios",
        "the sides of a special right triangle have fixed ratios",
        "特殊直角三角形的边角关系",
        "特殊直角三角形的三边成固定比例",
    ),
    "perpendicular bisects chord": (
        "the perpendicular-chord property",
        "the perpendicular from the center to a chord bisects the chord",
        "垂径定理",
        "垂直于弦的直径平分这条弦",
    ),
    "angle in a semicircle": (
        "the angle in a semicircle",
        "an angle inscribed in a semicircle is a right angle",
        "直径所对的圆周角是直角",
        "直径所对的圆周角是90°",
    ),
    "tangent ⊥ radius": (
        "the tangent-radius property",
        "a tangent is perpendicular to the radius at the point of contact",
        "切线的性质",
        "圆的切线垂直于过切点的半径",
    ),
    "midline theorem": (
        "the midline theorem",
        "the segment joining two midpoints is parallel to the third side and half as long",
        "三角形中位线定理",
        "三角形的中位线平行于第三边并且等于第三边的一半",
    ),
    "midpoint": ("the midpoint", "a midpoint cuts a segment in half", "中点的定义", "中点把线段分成相等的两段"),
    "angle bisector": (
        "the angle bisector",
        "a bisector cuts the angle into two equal halves",
        "角平分线的定义",
        "角平分线把角分成相等的两部分",
    ),
    "angle addition": (
        "angle addition",
        "the whole angle is the sum of its parts",
        "角的和差",
        "整个角等于各部分之和",
    ),
    "angle subtraction": (
        "angle subtraction",
        "the part is the whole angle minus the other part",
        "角的和差",
        "部分角等于整个角减去另一部分",
    ),
    "similar triangles: area ratio": (
        "the area ratio of similar triangles",
        "the areas of similar triangles are in the ratio of the squares of corresponding sides",
        "相似三角形的面积比",
        "相似三角形的面积比等于相似比的平方",
    ),
    "similar triangles": (
        "similar triangles",
        "corresponding sides of similar triangles are proportional",
        "相似三角形的性质",
        "相似三角形的对应边成比例",
    ),
    "proportional segments": (
        "proportional segments",
        "a line parallel to one side cuts the other two sides proportionally",
        "平行线分线段成比例定理",
        "平行于三角形一边的直线截其他两边，所得的对应线段成比例",
    ),
    "area subtraction": (
        "area subtraction",
        "the area of the remaining part is the whole minus the piece cut off",
        "面积的和差",
        "剩余部分的面积等于整体面积减去截去部分的面积",
    ),
    "angles on a straight line": (
        "angles on a straight line",
        "angles on a straight line add up to 180°",
        "平角的定义",
        "平角等于180°",
    ),
    "arc length": (
        "the arc length formula",
        "an arc is its central angle's share of the whole circumference",
        "弧长公式",
        "弧长等于圆心角所占的比例乘以圆的周长",
    ),
    "sector area": (
        "the sector area formula",
        "a sector is its central angle's share of the whole disc",
        "扇形面积公式",
        "扇形面积等于圆心角所占的比例乘以圆的面积",
    ),
    "circle area": (
        "the circle area formula",
        "a circle's area is π times the radius squared",
        "圆的面积公式",
        "圆的面积等于π乘以半径的平方",
    ),
    "circumference": (
        "the circumference formula",
        "a circle's circumference is 2π times the radius",
        "圆的周长公式",
        "圆的周长等于2π乘以半径",
    ),
    "quadrilateral angle sum": (
        "the quadrilateral angle sum",
        "the angles of a quadrilateral add up to 360°",
        "四边形内角和定理",
        "四边形的内角和为360°",
    ),
    "cyclic quadrilateral": (
        "the cyclic quadrilateral property",
        "opposite angles of a cyclic quadrilateral add up to 180°",
        "圆内接四边形的性质",
        "圆内接四边形的对角互补",
    ),
    "rhombus diagonals": (
        "the rhombus diagonals",
        "the diagonals of a rhombus bisect each other at right angles",
        "菱形的性质",
        "菱形的对角线互相垂直平分",
    ),
    "rhombus perimeter": ("the rhombus perimeter", "a rhombus has four equal sides", "菱形的周长", "菱形的四条边相等"),
    "parallelogram area": (
        "the parallelogram area",
        "a parallelogram's area is base times height",
        "平行四边形的面积公式",
        "平行四边形的面积等于底乘高",
    ),
    "rectangle area": (
        "the rectangle area",
        "a rectangle's area is length times width",
        "矩形的面积公式",
        "矩形的面积等于长乘宽",
    ),
    "rectangle perimeter": (
        "the rectangle perimeter",
        "a rectangle's perimeter is twice length plus width",
        "矩形的周长公式",
        "矩形的周长等于长与宽的和的两倍",
    ),
    "triangle area": (
        "the triangle area formula",
        "a triangle's area is half of base times height",
        "三角形的面积公式",
        "三角形的面积等于底乘高的一半",
    ),
    "area two ways": (
        "computing the area two ways",
        "the same area can be written with either pair of base and height",
        "等面积法",
        "同一个三角形的面积可以用两组底和高来表示",
    ),
    "perimeter": ("the perimeter", "the perimeter is the sum of the sides", "周长的定义", "周长等于各边之和"),
    "exterior angle": (
        "the exterior angle theorem",
        "an exterior angle equals the sum of the two remote interior angles",
        "三角形外角的性质",
        "三角形的一个外角等于与它不相邻的两个内角的和",
    ),
    "vertical angles": ("vertical angles", "vertical angles are equal", "对顶角相等", "对顶角相等"),
}


def _rule_words(rule: str, lang: str) -> tuple[str, str]:
    """(name, reason) of a rule in ``lang``; an unknown rule reads as itself in English and generically in Chinese."""
    if rule in _RULES:
        en_name, en_why, zh_name, zh_why = _RULES[rule]
        return (zh_name, zh_why) if lang == "zh" else (en_name, en_why)
    return ("已知条件", "由已知条件") if lang == "zh" else (rule, f"of the {rule}")


# Chinese for the English phrases GeoSynth's step statements use; formulas stay as they are.
_ZH_PHRASES: list[tuple[re.Pattern, str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"Draw (\w+) ∥ (\w+) through (\w+)", r"过点\3作\1∥\2"),
        (r"then (\w+) ∥ (\w+) too", r"则\1∥\2"),
        (r"(\w+), (\w+) are tangents", r"\1、\2是⊙O的切线"),
        (r"(\w+) is tangent at (\w+)", r"\1与⊙O相切于点\2"),
        (r"(\w+) is a diameter", r"\1是⊙O的直径"),
        (r"(\w+) bisects (∠\w+)", r"\1平分\2"),
        (r"(\w+) ⊥ (\w+) bisects the chord", r"\1⊥\2，所以\1平分弦\2"),
        (r"The height from (\w+) to (\w+) is", r"点\1到\2的高为"),
        (r"(\w+) is a midline of (△\w+)", r"\1是\2的中位线"),
        (r"\s*with ratio (\S+)", r"，相似比为\1"),
        (r"The diagonals bisect each other at right angles", "对角线互相垂直平分"),
        (r"The side opposite (\d+°) is half the hypotenuse", r"\1角所对的直角边等于斜边的一半"),
        (r"Perimeter of (△\w+)", r"\1的周长"),
        (r"Perimeter", "周长"),
        (r"\bheight\b", "高"),
        (r"(∠\w+) and that angle form a straight line", r"\1与这个角组成平角"),
        (r"the angle at (\w+) corresponding to (∠\w+) equals (∠\w+)", r"点\1处与\2对应的同位角等于\3"),
        (r"\(twice the area\)", "（面积的两倍）"),
        (r"\(midline\)", "（中位线）"),
        (r"\(the side opposite (\d+°)\)", r"（\1角所对的边）"),
        (r"\(inscribed angles on the same arc (\w+)\)", r"（同弧\1所对的圆周角相等）"),
        (r"\(exterior angle of (△\w+)\)", r"（\1的外角）"),
        (r"\(inscribed angle theorem\)", "（圆周角定理）"),
        (r"\(alternate interior angles\)", "（内错角相等）"),
        (r"\(alternate exterior angles\)", "（外错角相等）"),
        (r"\(corresponding angles\)", "（同位角相等）"),
        (r"\(co-interior angles\)", "（同旁内角互补）"),
        (r"\(vertical angles\)", "（对顶角相等）"),
        (r"\(angles on a straight line\)", "（平角为180°）"),
        (r"\(opposite angles of a cyclic quadrilateral\)", "（圆内接四边形对角互补）"),
        (r", so ", "，所以"),
        (r"; then ", "，则"),
        (r", and ", "，且"),
        (r" and ", "，且"),
        (r"; ", "；"),
        (r": ", "："),
        (r", ", "，"),
        (r"\bequals\b", "等于"),
    ]
]
_EN_WORD = re.compile(r"(?<![A-Za-z\\])[a-z][a-z]+|[A-Z][a-z]+")
_MATH_WORDS = frozenset("sin cos tan sqrt pi".split())
_PAREN_EN = re.compile(r"\s*\([^()]*[a-z]{2}[^()]*\)")


def _zh_statement(statement: str) -> str:
    """A step statement in Chinese: known phrases translated, any English left dropped clause by clause."""
    s = statement
    for pattern, repl in _ZH_PHRASES:
        s = pattern.sub(repl, s)
    s = re.sub(r"\s*（[^（）]*）", "", _PAREN_EN.sub("", s))
    clauses = [c for c in re.split(r"(?<=[，；：])", s) if c]
    kept = [c for c in clauses if not any(w not in _MATH_WORDS for w in _EN_WORD.findall(c))]
    out = "".join(kept).strip("，；： ")
    return out


def _lhs(statement: str) -> str | None:
    """The quantity a statement computes: ``AC`` of "OC ⊥ AB bisects the chord, so AC = AB ÷ 2"."""
    s = _PAREN_EN.sub("", statement)
    clauses = [c.strip() for c in re.split(r", so |; then |, and | and |; |: |, ", s)]
    for clause in reversed(clauses):
        if "=" in clause:
            head = clause.split("=")[0].strip()
            if head and len(head) <= 20:
                return head
            return None
    return None


def _unnamed(statement: str, lang: str) -> str:
    """A name for what a statement without an equation computes: "the height from D to AB"."""
    m = re.search(r"The height from (\w+) to (\w+)", statement)
    if m:
        return f"点{m.group(1)}到{m.group(2)}的高" if lang == "zh" else f"the height from {m.group(1)} to {m.group(2)}"
    m = re.search(r"the angle at (\w+) corresponding to", statement)
    if m:
        return f"点{m.group(1)}处的同位角" if lang == "zh" else f"the corresponding angle at {m.group(1)}"
    return "这个量" if lang == "zh" else "this quantity"


def _en_quantity(lhs: str) -> str:
    m = re.fullmatch(r"Perimeter of (.+)", lhs)
    if m:
        return f"the perimeter of {m.group(1)}"
    return {"Perimeter": "the perimeter", "S": "the area S", "l": "the arc length l", "C": "the circumference C"}.get(
        lhs, lhs
    )


def _zh_quantity(lhs: str) -> str:
    m = re.fullmatch(r"Perimeter of (.+)", lhs)
    if m:
        return f"{m.group(1)}的周长"
    return {"Perimeter": "周长", "S": "面积S", "l": "弧长l", "C": "周长C"}.get(lhs, lhs)


def _fact_text(fact: list, lang: str) -> str | None:
    kind, args = fact[0], fact[1:]
    flat = [a for arg in args for a in (arg if isinstance(arg, list) else [arg])]
    if any(str(a).startswith("_") for a in flat):
        return None  # an unlabelled helper point: nothing a reader could name
    zh = lang == "zh"
    if kind == "parallel":
        a, b, c, d = args
        return f"{a}{b} ∥ {c}{d}"
    if kind == "right":
        a, v, b = args
        return f"∠{a}{v}{b} = 90°"
    if kind == "equal":
        return " = ".join("".join(seg) for seg in args)
    if kind == "on_circle":
        o, *pts = args
        names = ("、" if zh else ", ").join(pts)
        return f"点{names}在⊙{o}上" if zh else f"{names} lie on circle {o}"
    if kind == "tangent":
        p, a, o = args
        return f"{p}{a}与⊙{o}相切于点{a}" if zh else f"{p}{a} is tangent to circle {o} at {a}"
    if kind == "collinear":
        names = ("、" if zh else ", ").join(args)
        return f"点{names}在同一条直线上" if zh else f"{names} are collinear"
    if kind == "bisector":
        a, v, b, d = args
        return f"{v}{d}平分∠{a}{v}{b}" if zh else f"{v}{d} bisects ∠{a}{v}{b}"
    return None


def _join(items: list[str], lang: str) -> str:
    if lang == "zh":
        return "，".join(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _given_text(name: str, value: str, lang: str) -> str:
    m = re.fullmatch(r"the (area|perimeter|radius) of (.+)", name)
    if lang == "zh":
        if m:
            return f"{m.group(2)}的{ {'area': '面积', 'perimeter': '周长', 'radius': '半径'}[m.group(1)] }为{value}"
        return f"{name} = {value}"
    return f"{name} is {value}" if m else f"{name} = {value}"


def _latex(value: str) -> str:
    """A choice text as LaTeX for ``\\boxed{}``: ``8√3`` -> ``8\\sqrt{3}``, ``9π/4`` -> ``\\frac{9\\pi}{4}``."""
    out = []
    for part in re.split(r"(?<=.)([+−-])", value.replace(" ", "")):
        if part in ("+", "−", "-"):
            out.append("-" if part == "−" else part)
            continue
        t = re.sub(r"√(\d+)", r"\\sqrt{\1}", part).replace("π", "\\pi")
        m = re.fullmatch(r"(.+)/(\d+)", t)
        out.append("\\frac{" + m.group(1) + "}{" + m.group(2) + "}" if m else t)
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# A problem read for writing: its steps as trees, what is asked, the givens, the figure's facts
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Step:
    statement: str
    rule: str
    tree: Node
    value: _Num
    lhs: str | None
    deg: bool
    mutated: bool = False  # a step written with a mistake: its statement (the right formula) is not restated
    reason: str | None = None  # for an extra step a mistake adds: why the trace thinks it holds ("supplement")
    display: str | None = None  # the value as the trace states it, where it is not computed (a leap)
    copy_of: str | None = None  # reason "copy": the quantity the asked one is (wrongly) taken to equal

    @property
    def trivial(self) -> bool:
        return _is_leaf(self.tree)


def _read_steps(problem: Problem) -> list[_Step]:
    steps = []
    for raw in problem.metadata["steps"]:
        statement = str(raw["statement"])
        tree = _parse(str(raw["expr"]))
        lhs = _lhs(statement)
        deg = lhs.startswith("∠") if lhs else ("∠" in statement and "sin" not in statement)
        steps.append(_Step(statement, str(raw.get("rule", "")), tree, _value(tree), lhs, deg))
    return steps


_EN_ASK = re.compile(r"(the [^,]+?) is \(\s*\)\s*$")
_ZH_ASK = re.compile(r"[，,](?:则)?([^，,]+?)为（\s*）\s*$")


class _Reading:
    """What a trace needs to know about a problem, in both languages."""

    def __init__(self, problem: Problem):
        meta = problem.metadata
        self.problem = problem
        self.steps = _read_steps(problem)
        self.vision = str(meta.get("variant", "")).startswith("vision")
        self.givens = [(str(g["name"]), str(g["value"])) for g in meta.get("givens", [])]
        self.facts = list(meta.get("figure", {}).get("facts", []))
        self.distractors = [(str(d["value"]), str(d.get("mistake", ""))) for d in meta.get("distractors", [])]
        last = self.steps[-1]
        self.target = last.lhs or ("∠?" if last.deg else "x")
        self.deg = last.deg
        q = problem.question.strip()
        if problem.language == "zh":
            m = _ZH_ASK.search(q)
            self.ask_zh = m.group(1) if m else _zh_quantity(self.target)
            self.ask_en = _en_quantity(self.target)
        else:
            m = _EN_ASK.search(q)
            self.ask_en = m.group(1) if m else _en_quantity(self.target)
            self.ask_zh = _zh_quantity(self.target)
        self.letters = problem.letters

    def ask(self, lang: str) -> str:
        return self.ask_zh if lang == "zh" else self.ask_en


# ---------------------------------------------------------------------------------------------------------------
# Wrong answers: a distractor's mistake followed through with consistent arithmetic
# ---------------------------------------------------------------------------------------------------------------
def _mutants(node: Node) -> list[Node]:
    """Trees one slip of reasoning away from ``node``: an operation swapped, a halving forgotten, a ratio inverted,
    a square root left off, a term dropped, 180° taken for 360°, ..."""
    out: list[Node] = []
    op = node[0]
    if op == "n":
        q = node[1].rational
        swaps = {180: [360, 90], 360: [180], 90: [180]}
        for alt in swaps.get(int(q) if q is not None and q.denominator == 1 else None, []):
            out.append(_leaf(_Num.of(alt)))
        return out
    kids = node[1:]
    if op in ("+", "-"):
        out.append(("-" if op == "+" else "+", *kids))
        out.append(kids[0])
        if op == "+":
            out.append(kids[1])
    if op in ("*", "/"):
        out.append(("/" if op == "*" else "*", *kids))
        if op == "/":
            out.append(kids[0])
            out.append(("/", kids[1], kids[0]))
            out.append(("/", kids[0], ("*", kids[1], _leaf(_Num.of(2)))))
            if kids[0][0] == "*":  # a proportion set up the wrong way round: a·b/c taken as a·c/b or c·b/a
                a, b = kids[0][1], kids[0][2]
                out.append(("/", ("*", a, kids[1]), b))
                out.append(("/", ("*", kids[1], b), a))
        else:
            out.extend(k for k in kids if not (_is_leaf(k) and k[1].rational is not None))
    if op == "^":
        out.append(kids[0])
    if op == "sqrt":
        inner = kids[0]
        out.append(inner)
        if inner[0] in ("+", "-") and all(k[0] == "^" for k in inner[1:]):
            out.append((inner[0], inner[1][1], inner[2][1]))  # √(a² + b²) taken as a + b
            out.extend((inner[1][1], inner[2][1]))  # one side taken for the other
    for i, kid in enumerate(kids):
        for m in _mutants(kid):
            out.append((op, *kids[:i], m, *kids[i + 1 :]))
    return out


# Whole-result mistakes: (name, function of the right value); the trace adds a step that makes them.
_TRANSFORMS: list[tuple[str, Callable[[Node], Node], bool]] = [
    ("supplement", lambda v: ("-", _leaf(_Num.of(180)), v), True),
    ("complement", lambda v: ("-", _leaf(_Num.of(90)), v), True),
    ("full_turn", lambda v: ("-", _leaf(_Num.of(360)), v), True),
    ("double", lambda v: ("*", _leaf(_Num.of(2)), v), False),
    ("half", lambda v: ("/", v, _leaf(_Num.of(2))), False),
    ("quarter", lambda v: ("/", v, _leaf(_Num.of(4))), False),
]


@dataclass
class _WrongRoute:
    letter: str
    value_text: str
    steps: list[_Step]


def _wrong_routes(reading: _Reading) -> list[_WrongRoute]:
    """Every way found to reach a distractor by one of the mistakes above, most plausible distractor first."""
    steps = reading.steps
    routes: list[_WrongRoute] = []
    final = steps[-1].value
    for value_text, _mistake in reading.distractors:
        target = to_number(value_text)
        letter = next(
            (lt for lt, c in zip(reading.letters, reading.problem.choices, strict=True) if c == value_text), None
        )
        if target is None or letter is None:
            continue

        def hits(v: _Num, target: float = target) -> bool:
            return math.isclose(float(v), target, rel_tol=1e-6, abs_tol=1e-9)

        found: list[_WrongRoute] = []
        last = steps[-1]

        def copy(name: str, value: _Num, last: _Step = last) -> _Step:
            return _Step("", "", _leaf(value), value, last.lhs, last.deg, mutated=True, reason="copy", copy_of=name)

        for name, value in reading.givens:  # "copied the given angle", "equal to ∠P"
            v = to_number(value)
            if v is not None and math.isclose(v, target, rel_tol=1e-6) and ("∠" in name) == reading.deg:
                q = Fraction(str(round(v, 6)))
                found.append(_WrongRoute(letter, value_text, [*steps[:-1], copy(name, _Num.of(q))]))
        for j, s in enumerate(steps[:-1]):  # "took AC as the radius"
            if hits(s.value) and s.lhs and s.deg == reading.deg and s.lhs != last.lhs:
                found.append(_WrongRoute(letter, value_text, [*steps[: j + 1], copy(s.lhs, s.value)]))
        for i, s in enumerate(steps):
            if s.trivial:
                continue
            for tree in _mutants(s.tree):
                try:
                    new = _value(tree)
                except (ZeroDivisionError, ValueError, OverflowError):
                    continue
                if not math.isfinite(float(new)) or float(new) <= 0 or new.same(s.value):
                    continue
                chain = list(steps[:i]) + [_Step(s.statement, s.rule, tree, new, s.lhs, s.deg, mutated=True)]
                old_tree, old = s.tree, s.value
                for later in steps[i + 1 :]:
                    t = _substitute(later.tree, old_tree, old, new)
                    try:
                        v = _value(t)
                    except (ZeroDivisionError, ValueError, OverflowError):
                        break
                    chain.append(_Step(later.statement, later.rule, t, v, later.lhs, later.deg))
                else:
                    if hits(chain[-1].value):
                        found.append(_WrongRoute(letter, value_text, chain))
        for name, make, angle_only in _TRANSFORMS:
            if angle_only and not reading.deg:
                continue
            tree = make(_leaf(final))
            if hits(_value(tree)):
                extra = _Step("", "", tree, _value(tree), steps[-1].lhs, reading.deg, mutated=True, reason=name)
                found.append(_WrongRoute(letter, value_text, [*steps, extra]))
        routes.extend(found)
    return routes


# ---------------------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------------------
# Templates are plain str.format strings; those for the thinking never use answer words (see _ANSWER_WORDS) except
# the ones that commit to an answer (elimination, conclusion), so a trace can think without answering.
_T: dict[str, dict[str, list[str]]] = {
    "en": {
        "open": [
            "Okay, let's see. I have this geometry problem: {question} I need to find {ask}.",
            'Alright, so the question asks for {ask}. Let me read it again carefully: "{question}"',
            "Let me work through this problem step by step. The problem says: {question}",
            "Hmm, so here's the problem: {question} The goal is {ask}.",
            "Okay, I'm given a figure and this question: {question} Let me think about what's going on.",
            "So I need to figure out {ask}. The problem statement: {question}",
            "Let me start by reading the problem carefully. {question} So what's being asked is {ask}.",
        ],
        "figure": [
            "Looking at the figure: {facts}.",
            "From the diagram, {facts}.",
            "Let me describe the figure to myself: {facts}.",
            "In the picture, {facts}.",
            "What the figure shows: {facts}.",
        ],
        "no_figure": [
            "The figure just shows the configuration described in the text.",
            "The diagram matches the description, nothing extra drawn in.",
        ],
        "givens_vision": [
            "The figure marks {givens}.",
            "Reading the labels on the diagram: {givens}.",
            "The numbers written in the figure are {givens}.",
            "From the marked values, {givens}.",
        ],
        "givens_text": [
            "We're told that {givens}.",
            "Given: {givens}.",
            "The given information is {givens}.",
            "The problem gives {givens}.",
        ],
        "choices": [
            "The four candidates are {choices}.",
            "The values offered: {choices}.",
            "Listed below the question: {choices}.",
        ],
        "plan_one": [
            "This looks like a direct application of {rule}: {why}.",
            "The key fact here is that {why}. That should give {target} directly.",
            "I think {rule} is all that's needed, since {why}.",
            "So the idea: {why}, and that pins down {target}.",
        ],
        "plan_many": [
            "My plan: {plan}, and that gives {target}.",
            "So the strategy would be: {plan}.",
            "I think I should go in stages: {plan}.",
            "Let me think about which facts to use. It seems I need to {plan}.",
            "Here's how I'd approach it: {plan}. Then {target} follows.",
        ],
        "plan_item_first": ["first find {lhs} using {rule}", "start with {lhs} from {rule}", "get {lhs} by {rule}"],
        "plan_item": ["then {lhs} from {rule}", "then use {rule} for {lhs}", "after that {lhs} via {rule}"],
        "conn_first": ["First", "To start", "Step one", "Let me start here"],
        "conn_mid": ["Next", "Then", "Now", "After that", "Moving on"],
        "conn_last": ["Finally", "Now the last step", "And now", "Last"],
        "step": [
            "{Conn}, {why}, so {stmt}. Substituting the numbers: {chain}.",
            "{Conn}, I need {lhs}. Since {why}, {stmt}. So {chain}.",
            "{Conn}, by {rule}, {stmt}. Let me compute that: {chain}.",
            "{Conn}: {stmt}. That's because {why}. Plugging in, {chain}.",
            "{Conn}, let me get {lhs}. Using {rule}: {stmt}. Then {chain}. So {lhs} is {val}.",
            "{Conn}, {stmt}, which is {rule}. Numerically: {chain}.",
            "{Conn}, apply {rule}. {why_cap}, so {stmt}. That gives {chain}.",
        ],
        "step_trivial": [
            "{Conn}, {stmt}, because {why}.",
            "{Conn}: {stmt} ({rule}).",
            "{Conn}, since {why}, {stmt}.",
            "{Conn}, by {rule}: {stmt}.",
        ],
        "step_mutated": [
            "{Conn}, by {rule}, {chain}.",
            "{Conn}, using {rule}: {chain}.",
            "{Conn}, {why}, which gives {chain}.",
            "{Conn}, for {lhs}: {chain}.",
        ],
        "side_angle": [
            "For reference, the angle next to it on a straight line would be {calc}, while {target} itself is {val}.",
            "Its supplement would be {calc}, so {target} = {val} is the angle we want.",
        ],
        "side_length": [
            "For comparison, twice that length would be {calc}, but {target} itself is {val}.",
            "Just to have it, 2 × {target} would be {calc}; {target} itself is {val}.",
        ],
        "step_leap": [
            "{Conn}, by {rule}, {stmt}. That gives {target} = {val}.",
            "{Conn}, {stmt}, so {target} comes out to {val}.",
        ],
        "step_copy": [
            "{Conn}, {target} is equal to {name}, so {target} = {name} = {val}.",
            "{Conn}, {target} and {name} are the same size here, so {target} = {val}.",
            "{Conn}, looking at the figure, {target} corresponds to {name}. So {target} = {name} = {val}.",
        ],
        "slip_fix": [
            "{wrong}... no wait, that's wrong. Let me redo it: {right}",
            "{wrong}. Hmm, wait, that doesn't look right. Recomputing: {right}",
            "{wrong}, no, actually that's a mistake: {right}",
            "{wrong}? Wait, let me recompute that: {right}",
        ],
        "sub_calc": ["Let me do the arithmetic piece by piece: {calc}.", "Working it out: {calc}.", "First {calc}."],
        "verify_intro": [
            "Wait, let me verify that.",
            "Let me double-check the arithmetic.",
            "Hmm, let me make sure that's right.",
            "Let me check this by working backwards.",
            "Before going on, a quick check.",
            "Wait, is that right? Let me re-check.",
            "Let me verify this another way.",
        ],
        "verify_body": [
            "If {lhs} = {val}, then {check}, which is consistent.",
            "Going backwards: {check} ✓.",
            "Check: {check}.",
            "Reversing the computation: {check}. That matches.",
        ],
        "verify_out": ["Good, that checks out.", "Yes, that's consistent.", "Okay, the numbers agree.", "Right.", ""],
        "alt_intro": [
            "Another way to see this:",
            "Let me try a different route to confirm.",
            "Alternatively, I can group the computation differently:",
            "I can also get it a second way.",
        ],
        "alt_out": ["Same result.", "That agrees.", "Both ways give the same thing, good.", "Consistent."],
        "sanity_angle": [
            "Does {val} make sense? In the figure {target} looks {kind}, so {val} is plausible.",
            "Sanity check: {target} = {val} is {kind}, and the angle in the diagram is {kind} too.",
        ],
        "sanity_length": [
            "Is {val} a reasonable size? It's positive and comparable to the given lengths ({givens}), so it's fine.",
            "Quick plausibility check: {target} = {val} fits with the other lengths in the figure.",
        ],
        "sanity_pi": [
            "The result has a π in it, which is expected for a circle measurement.",
            "It makes sense that π shows up, since this is about a circle.",
        ],
        "filler": [
            "Let me re-read the question to make sure I'm solving for the right thing. It asks for {ask}, "
            "and that's exactly {target}, yes.",
            "I should double check that I read the figure correctly: {givens}. Yes, those are the values I used.",
            "Is there any hidden trap here? The figure might not be to scale, but I only used the stated "
            "relationships, so that doesn't matter.",
            "Let me recap the logic: {recap}. Each step follows from the previous one.",
            "One more consideration: {units}",
            "Hmm, let me make sure I haven't mixed up which angle or segment is which. {target} is the one "
            "the question names, and that's the quantity I computed.",
            "I wonder if I'm overcomplicating this. No, each relationship I used comes straight from the figure, "
            "so the approach is sound.",
            "Let me also make sure I haven't used any condition that isn't actually given. The values I relied on "
            "are {givens}, all of which are stated.",
            "It's worth pausing to see whether the diagram could be read another way. The labels are unambiguous, "
            "so I'll stay with this reading.",
            "The whole thing hinges on {recap}. Those are standard facts, so I'm comfortable with them.",
            "Thinking about it once more: the question is about {ask}, nothing else, so there's no extra step "
            "hiding at the end.",
        ],
        "detail_intro": [
            "Let me spell out what the figure gives me.",
            "Before computing, what do these facts imply?",
            "Let me think about what each condition in the figure means.",
        ],
        "note_intro": [
            "Let me make sure I'm applying {rule} correctly.",
            "Why does {rule} hold, and does it apply here?",
            "A quick reminder about {rule}.",
        ],
        "recap_intro": [
            "Let me go through the whole solution once more from the start to be sure:",
            "Let me redo the full chain quickly:",
            "Once more, end to end:",
        ],
        "why": [
            "Why is {lhs} = {val}? Because {why}.",
            "Let me justify {lhs} = {val} once more: {why}.",
            "Just to be clear about {lhs} = {val}: {why}, so that's solid.",
        ],
        "units_angle": ["everything is in degrees, so no conversion is needed."],
        "units_length": ["all lengths are in the same unit, so nothing to convert."],
        "elim_intro": [
            "Now let me compare with the options.",
            "Let me go through the choices.",
            "Checking the answer choices:",
            "Let me match this against the options.",
        ],
        "elim_match": ["{L}. {text}: this matches.", "{L}. {text}, that's what I got.", "{L}. {text}: yes."],
        "elim_other": [
            "{L}. {text}: no (looks like the trap for '{mistake}').",
            "{L}. {text}: doesn't match.",
            "{L}. {text}: not this one.",
            "{L}. {text}: that would come from '{mistake}', not what we have here.",
        ],
        "conclude": [
            "So {ask} is {val}, which is option {L}.",
            "Therefore the answer is {L}.",
            "So the answer should be {L}: {text}.",
            "I'm confident now: {target} = {val}, option {L}.",
            "That settles it: {val}, choice {L}.",
        ],
        "no_answer_end": [
            "Hmm, but I'm not sure I read the figure right. Let me look at it again before committing to anything.",
            "I'd like to double-check how the figure is labelled before I commit to a final value.",
            "Something still feels off about the setup, so let me not commit yet.",
        ],
        "no_answer_section": [
            "To solve this, use {rules} on the quantities given in the figure and work step by step toward {ask}.",
            "The key ideas are {rules}. Applying them in order leads to {ask}.",
            "Could you confirm how the figure is labelled? Then I can finish the computation.",
            "I've worked through the relationships above; the remaining step is to read off {ask} from them.",
        ],
        "hesitate": [
            "Hmm, let me think about whether I set this up right.",
            "Wait, let me look at the figure again.",
            "Let me re-check the relationship between the angles.",
            "Let me reconsider this step.",
        ],
        "aside": [
            "Hmm, let me think about this in a slightly different way for a moment before going on.",
            "Let me organise what I have so far and make sure that nothing important has been missed here.",
            "Okay, I should be careful with this part because it is easy to mix up the two quantities.",
        ],
    },
    "zh": {
        "open": [
            "嗯，我来看看这道题。题目是：{question}要求的是{ask}。",
            "好的，这是一道几何题：{question}我需要求出{ask}。",
            "首先读一下题目：{question}也就是要求{ask}。",
            "让我仔细想一想这道题。{question}",
            "这道题要求{ask}。先把题目再读一遍：{question}",
            "我先理解一下题意。{question}目标是求{ask}。",
        ],
        "figure": ["从图中可以看出：{facts}。", "观察图形，{facts}。", "图中的条件有：{facts}。", "先看图：{facts}。"],
        "no_figure": ["图形就是题目描述的那样，没有额外的标注。", "图中没有多余的信息，和题目描述一致。"],
        "givens_vision": ["图中标注了{givens}。", "读图可知，{givens}。", "图上标出的数据是：{givens}。"],
        "givens_text": ["已知{givens}。", "题目给出{givens}。", "已知条件是：{givens}。"],
        "choices": ["四个候选值分别是：{choices}。", "题目给出的四个值是：{choices}。"],
        "plan_one": [
            "这应该直接用{rule}就可以。",
            "关键是：{why}。这样就能直接求出{target}。",
            "思路很直接：{why}，由此求{target}。",
        ],
        "plan_many": [
            "思路是：{plan}，这样就能求出{target}。",
            "我打算分几步来做：{plan}。",
            "想一想要用哪些性质。大概需要{plan}。",
        ],
        "plan_item_first": ["先用{rule}求{lhs}", "先由{rule}得到{lhs}"],
        "plan_item": ["再用{rule}求{lhs}", "然后由{rule}求{lhs}", "接着利用{rule}得到{lhs}"],
        "conn_first": ["首先", "第一步", "先来看"],
        "conn_mid": ["接着", "然后", "下一步", "再看"],
        "conn_last": ["最后", "最后一步", "最后来看"],
        "step": [
            "{Conn}，由{rule}，{stmt}。代入数据：{chain}。",
            "{Conn}求{lhs}。因为{why}，所以{stmt}。于是{chain}。",
            "{Conn}，根据{rule}：{stmt}。计算一下：{chain}。",
            "{Conn}，{stmt}（{rule}）。所以{chain}。",
            "{Conn}，{why}，因此{stmt}。代入得{chain}，即{lhs}为{val}。",
        ],
        "step_trivial": [
            "{Conn}，{stmt}（{rule}）。",
            "{Conn}，因为{why}，所以{stmt}。",
            "{Conn}，由{rule}可知{stmt}。",
        ],
        "step_mutated": [
            "{Conn}，由{rule}，{chain}。",
            "{Conn}，根据{rule}：{chain}。",
            "{Conn}，{why}，所以{chain}。",
        ],
        "side_angle": [
            "顺便算一下，它的补角是{calc}，而{target}本身是{val}。",
            "作为参考，它的邻补角为{calc}，所求的{target}是{val}。",
        ],
        "side_length": ["顺便算一下，它的两倍是{calc}，而{target}本身是{val}。"],
        "step_leap": ["{Conn}，由{rule}，{stmt}，所以{target} = {val}。", "{Conn}，{stmt}，得{target}为{val}。"],
        "step_copy": [
            "{Conn}，{target}就等于{name}，所以{target} = {name} = {val}。",
            "{Conn}，从图上看{target}与{name}相等，因此{target} = {val}。",
        ],
        "slip_fix": [
            "{wrong}……不对，算错了，重新算：{right}",
            "{wrong}。嗯，等等，这个结果不对。重新计算：{right}",
            "{wrong}？等一下，我再算一遍：{right}",
        ],
        "sub_calc": ["分步算一下：{calc}。", "先算：{calc}。"],
        "verify_intro": [
            "等等，我来验证一下。",
            "让我再检查一下计算。",
            "嗯，反过来验算一下。",
            "稍等，这一步对吗？我再核对一下。",
            "验算一下。",
        ],
        "verify_body": ["如果{lhs} = {val}，那么{check}，符合。", "反推：{check} ✓。", "检验：{check}。"],
        "verify_out": ["没问题。", "验算通过。", "结果一致。", ""],
        "alt_intro": ["换一种方法再算一遍：", "也可以这样算：", "另一种思路："],
        "alt_out": ["结果相同。", "两种方法一致。", "一致，放心了。"],
        "sanity_angle": [
            "{val}合理吗？从图上看{target}是{kind}，所以{val}是合理的。",
            "检查一下：{target} = {val}是{kind}，和图形吻合。",
        ],
        "sanity_length": [
            "{val}这个大小合理吗？和已知长度（{givens}）相比大小合适。",
            "从图上看，{target} = {val}和其他线段的长短关系相符。",
        ],
        "sanity_pi": ["结果里含有π，这对圆的有关计算来说是正常的。"],
        "filler": [
            "再读一遍题目，确认要求的是{ask}，也就是{target}，没错。",
            "再确认一下图中的数据：{givens}，和我用的一致。",
            "整理一下思路：{recap}。每一步都有依据。",
            "单位方面，{units}",
            "图形可能不是按比例画的，但我只用了题目给出的关系，所以不受影响。",
            "我再看一下有没有把角或线段弄混。题目问的就是{target}，我算的也是它。",
            "我是不是把问题想复杂了？其实用到的每个关系都直接来自图形，所以方法没有问题。",
            "再确认一下我没有用到题目没给的条件。用到的数据是{givens}，都是已知的。",
            "这个图形有没有别的理解方式？图中的标注很清楚，按现在的理解就可以。",
            "整个解法的关键是{recap}，都是常用的结论，可以放心使用。",
            "再想一下：题目只问{ask}，后面没有别的步骤了。",
            "这类题目最容易出错的地方是把对应的角或边找错，我已经对照图形确认过了。",
        ],
        "detail_intro": [
            "先把图中条件的含义理一理。",
            "计算之前，先想想这些条件意味着什么。",
            "分析一下图形中的条件：",
        ],
        "note_intro": ["我确认一下{rule}用得对不对。", "回顾一下{rule}。", "{rule}为什么成立？这里能用吗？"],
        "recap_intro": ["我再从头把整个过程捋一遍：", "把整个过程再快速过一遍：", "从头到尾再算一次："],
        "why": [
            "为什么{lhs} = {val}？因为{why}。",
            "再确认一下{lhs} = {val}的依据：{why}。",
            "{lhs} = {val}这一步没问题，因为{why}。",
        ],
        "units_angle": ["都是角度制，不需要换算。"],
        "units_length": ["长度单位一致，不需要换算。"],
        "elim_intro": ["对照一下选项：", "看一下各个选项："],
        "elim_match": ["{L}. {text}，与计算结果一致。", "{L}. {text}，符合。"],
        "elim_other": ["{L}. {text}，不符。", "{L}. {text}，这是常见的错误结果。", "{L}. {text}，排除。"],
        "conclude": [
            "所以{ask}为{val}，对应选项{L}。",
            "因此答案是{L}。",
            "综上，应选{L}。",
            "所以{target} = {val}，选{L}。",
        ],
        "no_answer_end": [
            "嗯，不过我不太确定图中的标注是否读对了，先不下结论。",
            "我想再确认一下图形的标注，然后再给出最后的数值。",
        ],
        "no_answer_section": [
            "本题可以利用{rules}，结合图中的条件逐步求出{ask}。",
            "解题思路：先分析图形中的关系，再用{rules}求{ask}。",
            "请确认一下图中的标注，我再完成后面的计算。",
        ],
        "hesitate": [
            "嗯，我想想这里是否设对了。",
            "再看一下图。",
            "我再检查一下这几个角之间的关系。",
            "这一步再想想。",
        ],
        "aside": [
            "嗯，让我换一个角度来思考这个问题，看看有没有更简单的方法。",
            "我先把目前得到的结论整理一下，确保没有遗漏重要的条件。",
            "这里要小心，因为这两个量很容易混淆，需要仔细区分一下。",
        ],
    },
}
# Answer-section endings; {box} is \boxed{...}, {L} the letter.
_FINALS = {
    ("en", "choice"): [
        "So the answer is {box}.",
        "**Answer:** {box}",
        "The correct option is {box}.",
        "Final answer: {box}",
        "Hence the answer is option {L}: {box}.",
        "Therefore, the answer is {box}.",
    ],
    ("en", "value"): [
        "So {ask} is {box}.",
        "**Answer:** {box}",
        "Final answer: {box}",
        "That is option {L}, so the answer is {box}.",
        "Therefore, {ask} is {box}.",
    ],
    ("zh", "choice"): [
        "故选{L}，答案为 {box}。",
        "答案：{box}",
        "所以答案是 {box}。",
        "**答案：** {box}",
        "因此选 {box}。",
    ],
    ("zh", "value"): ["故{ask}为 {box}。", "答案：{box}", "所以{ask}等于 {box}。", "**答案：** {box}"],
}
# wrong_format endings: (language, protocol) -> templates; {L}, {text} (the choice's text), {value_box}, {letter_box}
_BAD_FINALS = {
    ("en", "choice"): [
        "So the answer is {value_box}.",
        "**Answer:** {L}",
        "The answer is ({L}).",
        "<answer>{L}</answer>",
        "Final answer: option {L} ({text}).",
    ],
    ("en", "value"): [
        "So the answer is {letter_box}.",
        "**Answer:** {text}",
        "The answer is {text}.",
        "<answer>{text}</answer>",
    ],
    ("zh", "choice"): ["所以答案是 {value_box}。", "故选{L}。", "答案：{L}", "<answer>{L}</answer>"],
    ("zh", "value"): ["故选 {letter_box}。", "答案：{text}", "所以{ask}为{text}。", "<answer>{text}</answer>"],
}
# Why a rule holds and how it is used, as a slow thinker reminds itself: rule -> (English, Chinese).
_RULE_NOTES = {
    "triangle angle sum": (
        "The angle sum works because a line through one vertex parallel to the opposite side turns the three "
        "angles into a straight angle. So once two angles are known, the third is 180° minus their sum.",
        "三角形内角和为180°，这是因为过一个顶点作对边的平行线，三个内角就拼成了一个平角。所以知道两个角，第三个角就是180°减去它们的和。",
    ),
    "Pythagorean theorem": (
        "The Pythagorean theorem only applies in a right triangle, so I need to be sure which side is the "
        "hypotenuse: it's the side opposite the right angle, and it's the longest side.",
        "勾股定理只适用于直角三角形，要先确定哪条边是斜边：斜边是直角所对的边，也是最长的边。",
    ),
    "inscribed angle": (
        "For the inscribed angle theorem the two angles must stand on the same arc: the central angle at the "
        "center and the inscribed angle on the circle, both subtending the same chord from the same side.",
        "用圆周角定理时要注意，圆心角和圆周角必须对着同一段弧，圆周角的度数是圆心角的一半。",
    ),
    "alternate interior angles": (
        "Alternate interior angles sit on opposite sides of the transversal, between the two parallel lines, "
        "and they're equal exactly because the lines are parallel.",
        "内错角在截线的两侧、两条平行线之间，正是因为两直线平行，它们才相等。",
    ),
    "isosceles base angles": (
        "In an isosceles triangle the angles opposite the equal sides are equal, so the apex angle and the "
        "two base angles share the 180° between them.",
        "等腰三角形中，等边所对的角相等，所以顶角和两个底角一起分配180°。",
    ),
    "30° right triangle": (
        "In a 30-60-90 triangle the sides are in the ratio 1 : √3 : 2, with the shortest side opposite the 30° "
        "angle and the hypotenuse twice that.",
        "含30°角的直角三角形三边之比是1 : √3 : 2，30°角所对的边最短，斜边是它的两倍。",
    ),
    "perpendicular bisects chord": (
        "The perpendicular from the center to a chord bisects it, which creates a right triangle with the "
        "radius as the hypotenuse and half the chord as one leg.",
        "圆心到弦的垂线平分这条弦，于是半径、半弦和弦心距构成一个直角三角形，半径是斜边。",
    ),
    "angle in a semicircle": (
        "Any angle that stands on a diameter is a right angle, since the central angle on a diameter is 180° "
        "and the inscribed angle is half of it.",
        "直径所对的圆心角是180°，圆周角是它的一半，所以直径所对的圆周角是90°。",
    ),
    "tangent ⊥ radius": (
        "The radius to the point of tangency is perpendicular to the tangent line, which gives right angles "
        "at the points of contact.",
        "过切点的半径垂直于切线，所以切点处都是直角。",
    ),
    "midline theorem": (
        "The midline joins the midpoints of two sides, so it's parallel to the third side and exactly half "
        "of it; the small triangle is similar to the big one with ratio ½.",
        "中位线连接两边的中点，它平行于第三边且等于第三边的一半，小三角形与原三角形相似，相似比是½。",
    ),
    "quadrilateral angle sum": (
        "A quadrilateral splits into two triangles along a diagonal, so its angles add up to 2 × 180° = 360°.",
        "四边形可以沿对角线分成两个三角形，所以内角和是2 × 180° = 360°。",
    ),
    "cyclic quadrilateral": (
        "Opposite angles of a cyclic quadrilateral stand on arcs that together make the whole circle, so "
        "their inscribed angles add up to half of 360°, that is 180°.",
        "圆内接四边形的一组对角所对的弧合起来是整个圆，所以这两个圆周角之和是360°的一半，即180°。",
    ),
    "similar triangles: area ratio": (
        "Areas scale with the square of the linear ratio, so if the sides are k times as long the area is k² "
        "times as large.",
        "面积比等于相似比的平方：边长扩大到k倍，面积就扩大到k²倍。",
    ),
    "angles on a straight line": (
        "Angles that together make a straight line add up to 180°, so one is the supplement of the other.",
        "组成平角的两个角之和是180°，一个角是另一个角的补角。",
    ),
    "arc length": (
        "The arc is the fraction of the circumference that its central angle is of 360°, so l = n/360 × 2πr.",
        "弧长是圆周长的一部分，所占比例就是圆心角除以360°，所以l = n/360 × 2πr。",
    ),
    "exterior angle": (
        "The exterior angle and its adjacent interior angle make 180°, and so do the three interior angles, "
        "which is why the exterior angle equals the two remote interior angles together.",
        "外角与相邻的内角之和是180°，三个内角之和也是180°，所以外角等于不相邻的两个内角之和。",
    ),
    "vertical angles": (
        "Vertical angles are both supplementary to the same angle, so they are equal.",
        "对顶角都与同一个角互补，所以它们相等。",
    ),
    "angle bisector": (
        "A bisector splits the angle into two equal parts, so each part is half of the whole angle.",
        "角平分线把角分成相等的两部分，每一部分都是原角的一半。",
    ),
    "rhombus diagonals": (
        "The diagonals of a rhombus bisect each other at right angles, so each side is the hypotenuse of a "
        "right triangle whose legs are half the diagonals.",
        "菱形的对角线互相垂直平分，所以每条边都是一个直角三角形的斜边，两条直角边是对角线的一半。",
    ),
    "proportional segments": (
        "A line parallel to one side of a triangle cuts the other two sides in the same ratio, which is what "
        "lets me set up the proportion.",
        "平行于三角形一边的直线截另外两边，所得线段成比例，这就是列比例式的依据。",
    ),
}
_GENERIC_NOTE = (
    "This is a standard fact, and the figure satisfies its conditions, so I can use it directly.",
    "这是一个常用的结论，图中的条件满足它的前提，所以可以直接使用。",
)

# What a fact of the figure implies, spelled out: fact kind -> templates over its points (a, b, c, d).
_FACT_NOTES = {
    "en": {
        "parallel": [
            "{a}{b} ∥ {c}{d}, so any line crossing both makes equal alternate angles and equal corresponding angles.",
            "Since {a}{b} ∥ {c}{d}, angle pairs across a transversal will be equal or supplementary.",
        ],
        "right": ["The right angle at {b} means {a}{b} ⊥ {b}{c}.", "∠{a}{b}{c} is a right angle, so {a}{b} ⊥ {b}{c}."],
        "equal": ["{segs}: these segments are equal, which I'll probably need.", "The marks say {segs}."],
        "on_circle": ["{pts} lie on circle {o}, so {radii} are all radii.", "Since {pts} are on the circle, {radii}."],
        "tangent": [
            "{a}{b} is tangent at {b}, so the radius {c}{b} ⊥ {a}{b}.",
            "Tangent at {b} means {c}{b} ⊥ {a}{b}.",
        ],
        "collinear": ["{a}, {b}, {c} lie on one straight line, which matters for straight angles."],
        "bisector": ["{b}{d} bisects ∠{a}{b}{c}, so ∠{a}{b}{d} = ∠{d}{b}{c} = ½∠{a}{b}{c}."],
    },
    "zh": {
        "parallel": [
            "{a}{b}∥{c}{d}，所以截线与它们形成的同位角、内错角都相等。",
            "因为{a}{b}∥{c}{d}，被截线所截的角要么相等、要么互补。",
        ],
        "right": ["点{b}处是直角，即{a}{b}⊥{b}{c}。", "∠{a}{b}{c}是直角，所以{a}{b}⊥{b}{c}。"],
        "equal": ["{segs}，这两条线段相等，后面可能会用到。", "图中标记说明{segs}。"],
        "on_circle": ["点{pts}都在⊙{o}上，所以{radii}，都是半径。", "因为点{pts}在圆上，所以{radii}。"],
        "tangent": ["{a}{b}与⊙{c}相切于点{b}，所以半径{c}{b}⊥{a}{b}。", "切点是{b}，所以{c}{b}⊥{a}{b}。"],
        "collinear": ["点{a}、{b}、{c}在同一条直线上，这和平角有关。"],
        "bisector": ["{b}{d}平分∠{a}{b}{c}，所以∠{a}{b}{d} = ∠{d}{b}{c} = ½∠{a}{b}{c}。"],
    },
}
_TRANSFORM_REASON = {
    "en": {
        "supplement": "{target} is the supplement of that angle",
        "complement": "{target} is the complement of that angle",
        "full_turn": "{target} makes up the rest of the full turn",
        "double": "{target} is twice that",
        "half": "{target} is half of that",
        "quarter": "{target} is a quarter of that",
    },
    "zh": {
        "supplement": "{target}与这个角互补",
        "complement": "{target}与这个角互余",
        "full_turn": "{target}是周角剩下的部分",
        "double": "{target}是它的两倍",
        "half": "{target}是它的一半",
        "quarter": "{target}是它的四分之一",
    },
}


# ---------------------------------------------------------------------------------------------------------------
# The writer
# ---------------------------------------------------------------------------------------------------------------
class _Writer:
    """Writes one trace. ``lang`` is the trace's language (a paragraph may be written in the other one);
    ``commit`` False leaves every answer statement out; ``slip`` is (step index, kind) of a planted uncorrected
    slip, ``fix_slip`` the step of a slip corrected at once; ``steps`` the steps to write (a wrong route's)."""

    def __init__(self, reading: _Reading, rng: random.Random, lang: str, protocol: str):
        self.r = reading
        self.rng = rng
        self.lang = lang
        self.protocol = protocol
        self.commit = True
        self.steps = reading.steps
        self.final_letter = reading.problem.answer_letter
        self.final_text = reading.problem.answer
        self.slip: tuple[int, str] | None = None
        self.fix_slip: int | None = None
        self.calm = False  # after a planted slip: no template with a correction word
        self.slip_left: str | None = None  # the slipped calculation's left side, as _key writes it
        self.slip_calc: str | None = None  # the slipped calculation as written
        self.lefts: list[str] = []  # left sides of every right calculation written (_key)
        self.done: dict = {}  # how often each kind of re-check was written: a thinker varies them
        self.used_fillers: set[str] = set()

    # -- choosing -------------------------------------------------------------------------------------------
    def pick(self, key: str, lang: str | None = None) -> str:
        """A template for ``key``; "" when the calm window after a planted slip leaves none (the paragraph is then
        left out)."""
        options = _T[lang or self.lang][key]
        if self.calm:
            options = [t for t in options if not _DOUBT_WORDS.search(t)]
            if not options:
                return ""
        if not self.commit:
            options = [t for t in options if not _ANSWER_WORDS.search(t)] or options
        return self.rng.choice(options)

    def fill(self, key: str, lang: str | None = None, **fields) -> str:
        return self.pick(key, lang).format(**fields)

    # -- numbers ---------------------------------------------------------------------------------------------
    def val_text(self, n: _Num, deg: bool, approx: bool = True) -> str:
        text = _num_text(n, deg)
        if approx and n.exact and n.rational is None:
            text += f" ≈ {_approx_text(n, deg)}"
        return text

    def chain(self, step: _Step, with_lhs: bool = True, dense: float = 0.5) -> str:
        """``lhs = expr = … = value (≈ decimal)``, each shown layer of working recorded as a right calculation."""
        states = _states(step.tree)
        shown = [states[0]] + [s for s in states[1:-1] if self.rng.random() < dense][:2] + [states[-1]]
        if len(shown) > 1 and shown[-2] == shown[-1]:
            shown.pop()
        parts, signs = [_text(shown[0], step.deg)], []
        approx = False
        for s in shown[1:]:
            approx = approx or _has_inexact(s)
            signs.append("≈" if approx else "=")
            parts.append(_text(s, step.deg))
        out = parts[0]
        for sign, part in zip(signs, parts[1:], strict=True):
            out += f" {sign} {part}"
        self.lefts.extend(_key(p) for p in parts[:-1])
        if step.value.exact and step.value.rational is None:
            out += f" ≈ {_approx_text(step.value, step.deg)}"
        if with_lhs and step.lhs and not step.trivial:
            out = f"{step.lhs} = {out}"
        return out

    def wrong_value(self, true: _Num, deg: bool) -> str:
        """A plausible miscalculation of ``true``: a digit off, off by ten, a wrong times table."""
        v = float(true)
        if true.rational is not None and true.rational.denominator == 1 and abs(v) >= 1:
            n = int(v)
            options = [n + 10, n - 10, n + 1, n - 1, n + 2, n - 2, n + 20, int(str(n)[::-1])]
            options = [o for o in options if o > 0 and o != n and abs(o - n) > 1e-2 * abs(n)]
            return _num_text(_Num.of(self.rng.choice(options)), deg)
        if true.rational is not None:
            options = [v + 1, v - 1, v * 2, v + 0.5] if v > 1.5 else [v + 1, v * 2]
            w = self.rng.choice([o for o in options if o > 0])
            return _num_text(_Num.of(Fraction(str(round(w, 4)))), deg)
        factor = self.rng.choice([1.1, 0.9, 1.2, 0.8])
        return f"{v * factor:.2f}"

    # -- paragraphs ------------------------------------------------------------------------------------------
    def question_text(self, lang: str) -> str:
        q = self.r.problem.question.strip()
        if lang != self.r.problem.language:  # a switched paragraph does not quote the other language's question
            return ""
        return q if q.endswith(("。", ".", "?", "？")) else q + ("。" if lang == "zh" else ".")

    def opening(self, lang: str) -> str:
        question = self.question_text(lang)
        text = self.fill("open", lang, question=question, ask=self.r.ask(lang))
        return re.sub(r"  +", " ", text).replace('""', "").strip()

    def figure(self, lang: str) -> str:
        facts = [t for t in (_fact_text(f, lang) for f in self.r.facts[:4]) if t]
        parts = [self.fill("figure", lang, facts=_join(facts, lang)) if facts else self.pick("no_figure", lang)]
        if self.r.givens:
            givens = _join([_given_text(n, v, lang) for n, v in self.r.givens], lang)
            parts.append(self.fill("givens_vision" if self.r.vision else "givens_text", lang, givens=givens))
        if self.rng.random() < 0.7:
            sep = "，" if lang == "zh" else ", "
            choices = sep.join(f"{lt}. {c}" for lt, c in zip(self.r.letters, self.r.problem.choices, strict=True))
            parts.append(self.fill("choices", lang, choices=choices))
        return ("" if lang == "zh" else " ").join(parts)

    def plan(self, lang: str) -> str:
        # the plan names the rules the trace means to use (a mistake's extra step is no part of any plan)
        work = [s for s in self.steps if not s.trivial and s.rule] or [s for s in self.steps if s.rule]
        target = self.r.target
        if len(work) == 1:
            name, why = _rule_words(work[0].rule, lang)
            return self.fill("plan_one", lang, rule=name, why=why, target=target)
        items = []
        for i, s in enumerate(work[:4]):
            name, _ = _rule_words(s.rule, lang)
            key = "plan_item_first" if i == 0 else "plan_item"
            items.append(self.fill(key, lang, lhs=self.name(s, lang), rule=name))
        plan = ("，" if lang == "zh" else ", ").join(items)
        return self.fill("plan_many", lang, plan=plan, target=target)

    def name(self, step: _Step, lang: str) -> str:
        """What a step computes, as the trace calls it."""
        if step.lhs:
            return step.lhs
        return self.r.target if step is self.steps[-1] else _unnamed(step.statement, lang)

    def statement(self, step: _Step, lang: str) -> str:
        # The statement's own parenthetical names the rule, which the templates name already.
        return _zh_statement(step.statement) if lang == "zh" else _PAREN_EN.sub("", step.statement)

    def step_paragraph(self, index: int, lang: str) -> str:
        step = self.steps[index]
        n = len(self.steps)
        conn = self.pick("conn_first" if index == 0 else "conn_last" if index == n - 1 else "conn_mid", lang)
        name, why = _rule_words(step.rule, lang)
        if step.reason == "leap":  # the right formula, then a value it does not give: no arithmetic written
            stmt = self.statement(step, lang)
            return self.fill(
                "step_leap", lang, Conn=conn, rule=name, stmt=stmt or name, target=self.r.target, val=step.display
            )
        if step.reason == "copy":  # the asked quantity taken for another one: "∠BAC = ∠ABC = 35°"
            val = self.val_text(step.value, step.deg, approx=False)
            return self.fill("step_copy", lang, Conn=conn, target=self.r.target, name=step.copy_of, val=val)
        if step.reason:  # an extra step a mistake adds: "∠x is the supplement of that angle, so ..."
            reason = _TRANSFORM_REASON[lang][step.reason].format(target=self.r.target)
            joiner = "，所以" if lang == "zh" else ", so "
            return f"{conn}{'，' if lang == 'zh' else ', '}{reason}{joiner}{self.chain(step)}" + (
                "。" if lang == "zh" else "."
            )
        stmt = self.statement(step, lang)
        lhs = self.name(step, lang)
        fields = dict(Conn=conn, why=why, why_cap=why[:1].upper() + why[1:], rule=name, lhs=lhs, stmt=stmt)
        if step.trivial and step.mutated:  # a mistake that leaves no arithmetic: "AB = 2" for AB = AD + DB
            val = self.val_text(step.value, step.deg, approx=False)
            return self.fill("step_mutated", lang, **fields, chain=f"{lhs} = {val}")
        if step.trivial:
            return self.fill("step_trivial", lang, **fields) if stmt else f"{conn}, {why}."
        if self.slip is not None and self.slip[0] == index:
            return self.slipped_step(step, lang, fields)
        if self.fix_slip == index:
            chain = self.fixed_slip_chain(step, lang)
        else:
            chain = self.chain(step)
        fields.update(chain=chain, val=self.val_text(step.value, step.deg, approx=False))
        if step.mutated or not stmt:
            return self.fill("step_mutated", lang, **fields)
        return self.fill("step", lang, **fields)

    def fixed_slip_chain(self, step: _Step, lang: str) -> str:
        """A slip corrected at once: ``180° − 65° = 125°... no wait, that's wrong: 180° − 65° = 115°``."""
        first = _text(step.tree, step.deg)
        wrong = f"{first} = {self.wrong_value(step.value, step.deg)}"
        right = self.chain(step, with_lhs=False)
        if step.lhs:
            wrong, right = f"{step.lhs} = {wrong}", f"{step.lhs} = {right}"
        return self.pick("slip_fix", lang).format(wrong=wrong, right=right)

    def slipped_step(self, step: _Step, lang: str, fields: dict) -> str:
        """The planted uncorrected slip. "whole": the step's calculation gets a wrong result, and the step still
        concludes with the right value; "part": one sub-calculation written wrong, the rest right."""
        kind = self.slip[1]
        val = self.val_text(step.value, step.deg, approx=False)
        zh = lang == "zh"
        if kind == "part":
            node = _first_ready(step.tree)
            left = _text(node, step.deg)
            self.slip_left = _key(left)
            wrong = self.wrong_value(_value(node), step.deg)
            calc = f"{left} = {wrong}"
            self.slip_calc = calc
            pre = self.fill("sub_calc", lang, calc=calc)
            self.calm = True
            rest = self.chain(step, dense=0.0)  # the same working again, skipping the slipped layer
            body = self.fill("step", lang, **{**fields, "chain": rest, "val": val}) if fields["stmt"] else rest
            return f"{pre} {body}" if not zh else pre + body
        left = _text(step.tree, step.deg)
        self.slip_left = _key(left)
        wrong = self.wrong_value(step.value, step.deg)
        calc = f"{step.lhs} = {left} = {wrong}" if step.lhs else f"{left} = {wrong}"
        self.slip_calc = calc
        self.calm = True
        fields = {**fields, "chain": calc, "val": val}
        template = self.pick("step_mutated" if not fields["stmt"] else "step", lang)
        text = template.format(**fields)
        if "{val}" in template:
            return text
        return text + (f"所以{fields['lhs']}为{val}。" if zh else f" So {fields['lhs']} is {val}.")

    def side_slip(self, lang: str) -> str:
        """The planted slip where the solution has no arithmetic of its own: a side remark computed wrong (the
        supplement of the angle, twice the length), the answer itself left right."""
        final = self.steps[-1]
        tree = (
            ("-", _leaf(_Num.of(180)), _leaf(final.value))
            if final.deg
            else ("*", _leaf(_Num.of(2)), _leaf(final.value))
        )
        left = _text(tree, final.deg)
        self.slip_left = _key(left)
        self.slip_calc = f"{left} = {self.wrong_value(_value(tree), final.deg)}"
        self.calm = True
        val = self.val_text(final.value, final.deg, approx=False)
        key = "side_angle" if final.deg else "side_length"
        return self.fill(key, lang, calc=self.slip_calc, target=self.r.target, val=val)

    def verify(self, index: int, lang: str) -> str | None:
        if self.calm:
            return None  # a re-check right after the planted slip would read as its correction
        step = self.steps[index]
        check = _reverse_check(step)
        if check is None:
            return None
        left, right = check
        if self.slip_left == _key(_text(left, step.deg)):
            return None  # would redo the slipped calculation right: that is a correction, not a slip
        self.lefts.append(_key(_text(left, step.deg)))
        text = f"{_text(left, step.deg)} = {_text(right, step.deg)}"
        val = self.val_text(step.value, step.deg, approx=False)
        options = [t for t in _T[lang]["verify_body"] if step.lhs or "{lhs}" not in t]
        body = self.rng.choice(options).format(lhs=self.name(step, lang), val=val, check=text)
        parts = [self.pick("verify_intro", lang), body, self.pick("verify_out", lang)]
        return ("" if lang == "zh" else " ").join(p for p in parts if p)

    def alternative(self, index: int, lang: str) -> str | None:
        if self.calm:
            return None
        step = self.steps[index]
        calcs = _regroup(step)
        if not calcs:
            return None
        texts = []
        for left, right in calcs:
            if self.slip_left == _key(_text(left, step.deg)):
                return None
            texts.append((left, right))
        self.lefts.extend(_key(_text(left, step.deg)) for left, _ in texts)
        sep = "，" if lang == "zh" else ", then "
        body = sep.join(f"{_text(a, step.deg)} = {_text(b, step.deg)}" for a, b in texts)
        end = "。" if lang == "zh" else "."
        space = "" if lang == "zh" else " "
        return f"{self.pick('alt_intro', lang)}{space}{body}{end}{space}{self.pick('alt_out', lang)}"

    def sanity(self, lang: str) -> str:
        final = self.steps[-1].value
        val = self.val_text(final, self.r.deg, approx=True)
        if self.calm:
            return ""
        if self.r.deg:
            v = float(final)
            kind = ("直角" if lang == "zh" else "a right angle") if math.isclose(v, 90) else None
            if kind is None:
                kind = ("锐角" if v < 90 else "钝角") if lang == "zh" else ("acute" if v < 90 else "obtuse")
            return self.fill("sanity_angle", lang, val=val, target=self.r.target, kind=kind)
        if final.exact and any(p for (_, p) in final.terms):
            return self.pick("sanity_pi", lang)
        givens = _join([_given_text(n, v, lang) for n, v in self.r.givens[:3]], lang)
        return self.fill("sanity_length", lang, val=val, target=self.r.target, givens=givens)

    def filler(self, lang: str) -> str:
        rules = list(dict.fromkeys(_rule_words(s.rule, lang)[0] for s in self.steps if s.rule))
        recap = ("，" if lang == "zh" else ", then ").join(rules)
        givens = _join([_given_text(n, v, lang) for n, v in self.r.givens], lang) or "—"
        units = self.pick("units_angle" if self.r.deg else "units_length", lang)
        options = _T[lang]["filler"]
        if len(rules) < 2:
            options = [t for t in options if "{recap}" not in t]
        if not self.r.givens:
            options = [t for t in options if "{givens}" not in t]
        if not units:
            options = [t for t in options if "{units}" not in t]
        if self.calm:
            options = [t for t in options if not _DOUBT_WORDS.search(t)]
        options = [t for t in options if t not in self.used_fillers]
        if not options:
            return ""
        template = self.rng.choice(options)
        self.used_fillers.add(template)
        return template.format(ask=self.r.ask(lang), target=self.r.target, givens=givens, recap=recap, units=units)

    def figure_detail(self, lang: str) -> str | None:
        """What the figure's facts imply, as a careful reader spells it out before computing."""
        lines = []
        for fact in self.r.facts:
            kind, args = fact[0], fact[1:]
            flat = [a for arg in args for a in (arg if isinstance(arg, list) else [arg])]
            if any(str(a).startswith("_") for a in flat) or kind not in _FACT_NOTES[lang]:
                continue
            if kind == "equal":
                fields = {"segs": " = ".join("".join(seg) for seg in args)}
            elif kind == "on_circle":
                fields = {
                    "o": args[0],
                    "pts": ("、" if lang == "zh" else ", ").join(args[1:]),
                    "radii": " = ".join(f"{args[0]}{p}" for p in args[1:]),
                }
            else:
                fields = dict(zip("abcd", args, strict=False))
            lines.append(self.rng.choice(_FACT_NOTES[lang][kind]).format(**fields))
        if not lines:
            return None
        lines = lines[:3]
        intro = self.pick("detail_intro", lang)
        return intro + ("" if lang == "zh" else " ") + ("" if lang == "zh" else " ").join(lines)

    def recap_pass(self, lang: str) -> str:
        """The whole solution once more, quickly (a slipped step only by its result: redoing it would correct it)."""
        if self.calm:
            return ""
        parts = []
        for i, step in enumerate(self.steps):
            val = step.display or self.val_text(step.value, step.deg, approx=False)
            if step.reason == "copy":
                parts.append(f"{self.r.target} = {step.copy_of} = {val}")
            elif step.trivial or (self.slip is not None and self.slip[0] == i):
                stmt = "" if step.reason else self.statement(step, lang)
                parts.append(stmt if step.trivial and stmt else f"{step.lhs or self.r.target} = {val}")
            else:
                parts.append(self.chain(step, dense=0.0))
        sep, end = ("；", "。") if lang == "zh" else ("; ", ".")
        return self.pick("recap_intro", lang) + ("" if lang == "zh" else " ") + sep.join(parts) + end

    def rule_note(self, lang: str) -> str | None:
        """A reminder of why a rule used here holds and what to watch out for."""
        rules = [s.rule for s in self.steps if s.rule and ("note", s.rule) not in self.done]
        if not rules:
            return None
        rule = self.rng.choice(rules)
        self.done[("note", rule)] = 1
        en, zh = _RULE_NOTES.get(rule, _GENERIC_NOTE)
        name = _rule_words(rule, lang)[0]
        intro = self.fill("note_intro", lang, rule=name)
        return intro + ("" if lang == "zh" else " ") + (zh if lang == "zh" else en)

    def why_trivial(self, lang: str) -> str | None:
        trivial = [s for s in self.steps if s.trivial and not s.reason and s.statement]
        if not trivial:
            return None
        step = self.rng.choice(trivial)
        _, why = _rule_words(step.rule, lang)
        lhs = step.lhs or self.r.target
        return self.fill("why", lang, lhs=lhs, val=self.val_text(step.value, step.deg, False), why=why)

    def hesitation(self, lang: str) -> str:
        doubt, filler = self.pick("hesitate", lang), self.filler(lang)
        return (doubt + ("" if lang == "zh" else " ") + filler) if doubt and filler else ""

    def extra(self, lang: str) -> str | None:
        """One more paragraph of re-checking for a trace still short of its length; each kind only a few times."""
        work = [i for i, s in enumerate(self.steps) if not s.trivial and not s.reason]
        kinds = {
            "filler": (6, lambda: self.filler(lang)),
            "detail": (1, lambda: self.figure_detail(lang)),
            "recap": (1, lambda: self.recap_pass(lang)),
            "why": (1, lambda: self.why_trivial(lang)),
            "note": (3, lambda: self.rule_note(lang)),
            "verify": (len(work), lambda: self.verify(self.rng.choice(work), lang) if work else None),
            "alt": (1, lambda: self.alternative(self.rng.choice(work), lang) if work else None),
            "sanity": (1, lambda: self.sanity(lang)),
            "hesitate": (2, lambda: self.hesitation(lang)),
        }
        open_kinds = [k for k, (limit, _) in kinds.items() if self.done.get(k, 0) < limit]
        if not open_kinds:
            return None
        kind = self.rng.choice(open_kinds)
        self.done[kind] = self.done.get(kind, 0) + 1
        return kinds[kind][1]()

    def elimination(self, lang: str) -> str:
        lines = [self.pick("elim_intro", lang)]
        mistakes = dict(self.r.distractors)
        for letter, choice in zip(self.r.letters, self.r.problem.choices, strict=True):
            v = to_number(choice)
            text = choice
            if v is not None and not re.fullmatch(r"[\d.]+°?", choice):
                text = f"{choice} ≈ {v:.2f}".rstrip("0").rstrip(".")
            if letter == self.final_letter:
                lines.append(self.fill("elim_match", lang, L=letter, text=text))
            else:
                mistake = "" if self.calm else mistakes.get(choice, "")
                line = self.fill("elim_other", lang, L=letter, text=text, mistake=mistake)
                if "''" in line or (lang == "en" and not mistake):
                    line = f"{letter}. {text}: doesn't match."
                lines.append(line)
        return "\n".join(lines)

    def conclusion(self, lang: str) -> str:
        val = self.final_text
        return self.fill(
            "conclude",
            lang,
            ask=self.r.ask(lang),
            val=val,
            L=self.final_letter,
            text=self.final_text,
            target=self.r.target,
        )

    # -- the answer section -----------------------------------------------------------------------------------
    def solution_lines(self, lang: str) -> list[str]:
        lines = []
        for step in self.steps:
            name, _ = _rule_words(step.rule, lang)
            if step.reason == "leap":
                lines.append(
                    f"{self.statement(step, lang) or name}{'，得 ' if lang == 'zh' else ', so '}"
                    f"{self.r.target} = {step.display}"
                )
                continue
            if step.reason == "copy":
                lines.append(f"{self.r.target} = {step.copy_of} = {self.val_text(step.value, step.deg, False)}")
                continue
            if step.reason:
                reason = _TRANSFORM_REASON[lang][step.reason].format(target=self.r.target)
                lines.append(f"{reason}{'：' if lang == 'zh' else ': '}{self.chain(step, dense=0.0)}")
                continue
            stmt = "" if step.mutated else self.statement(step, lang)
            if step.trivial:
                val = self.val_text(step.value, step.deg, approx=False)
                lines.append(f"{self.name(step, lang)} = {val}" if step.mutated else stmt or name)
                continue
            if self.slip is not None and self.steps.index(step) == self.slip[0]:
                # the summary copies the slipped working, or skips the working: it never redoes it right
                val = self.val_text(step.value, step.deg, approx=False)
                copied = self.slip[1] == "whole" and self.rng.random() < 0.5
                lhs = step.lhs or self.r.target
                done = self.slip_calc if copied else f"{lhs} = {val}"
                lines.append(f"{stmt}{'，得 ' if lang == 'zh' else ', so '}{done}" if stmt else done)
                continue
            chain = self.chain(step, dense=0.0)
            if stmt:
                lines.append(f"{stmt}{'，得 ' if lang == 'zh' else ', so '}{chain}")
            else:
                lines.append(f"{name}{'：' if lang == 'zh' else ': '}{chain}")
        return lines

    def boxed(self) -> str:
        if self.protocol == "choice":
            return "\\boxed{" + self.final_letter + "}"
        text = self.final_text
        inner = _latex(text) if self.rng.random() < 0.8 else text
        if inner.endswith("°") and self.rng.random() < 0.3:
            inner = inner[:-1] + "^\\circ"
        return "\\boxed{" + inner + "}"

    def answer_section(self, lang: str, final: str | None = None) -> str:
        lines = self.solution_lines(lang)
        zh = lang == "zh"
        ask = self.r.ask(lang)
        if final is None:
            final = self.rng.choice(_FINALS[(lang, self.protocol)]).format(
                box=self.boxed(), L=self.final_letter, ask=ask
            )
        style = self.rng.randrange(4)
        end = "。" if zh else "."
        if style == 0:
            head = "**解答**" if zh else "**Solution**"
            body = "\n".join(f"{i}. {ln}{end}" for i, ln in enumerate(lines, 1))
            concl = f"所以{ask}为{self.final_text}。" if zh else f"Therefore, {ask} is {self.final_text}."
            return f"{head}\n\n{body}\n\n{concl}\n\n{final}"
        if style == 1:
            return ("解：" if zh else "") + ("；".join(lines) if zh else ". ".join(lines)) + end + "\n\n" + final
        if style == 2:
            head = "### 解题过程" if zh else "### Step-by-step"
            body = "\n".join(f"- {ln}" for ln in lines)
            return f"{head}\n{body}\n\n{final}"
        rules = _join(sorted({_rule_words(s.rule, lang)[0] for s in self.steps if s.rule}), lang)
        intro = f"利用{rules}：" if zh else f"Using {rules}: "
        return intro + ("；".join(lines) if zh else "; ".join(lines)) + end + " " + final


def _key(text: str) -> str:
    """A calculation's side written alike however spaced: the same calculation done twice has the same key."""
    return re.sub(r"[\s°]", "", text).replace("−", "-")


def _first_ready(node: Node) -> Node:
    """The first operation (left to right) whose operands are numbers: the first thing one computes."""
    if all(_is_leaf(c) for c in node[1:]):
        return node
    for c in node[1:]:
        if not _is_leaf(c):
            return _first_ready(c)
    return node


def _flatten(node: Node, op: str) -> list[Node]:
    """The operands of a left-leaning run of one operation: ((a − b) − c) -> [a, b, c]."""
    if node[0] == op:
        return _flatten(node[1], op) + [node[2]]
    return [node]


def _reverse_check(step: _Step) -> tuple[Node, Node] | None:
    """A check that runs the step backwards, as (left tree, right leaf): ``25° + 65° + 90° = 180°`` for
    ``180° − 65° − 90° = 25°``; ``(8√3)² = 192`` for ``√192``; exact values only."""
    tree, v = step.tree, step.value
    if not v.exact or step.trivial:
        return None
    op = tree[0]
    res = _leaf(v)
    try:
        if op == "-":
            terms = [_leaf(_value(t)) for t in _flatten(tree, "-")]
            left = res
            for t in terms[1:]:
                left = ("+", left, t)
            right = terms[0]
        elif op == "+":
            terms = [_leaf(_value(t)) for t in _flatten(tree, "+")]
            if len(terms) < 2:
                return None
            left = res
            for t in reversed(terms[1:]):
                left = ("-", left, t)
            right = terms[0]
        elif op == "*":
            a, b = _value(tree[1]), _value(tree[2])
            small = a.rational is not None and 0 < abs(a.rational) <= 4  # "2 × 40°": divide by the coefficient
            left, right = (("/", res, _leaf(a)), _leaf(b)) if small else (("/", res, _leaf(b)), _leaf(a))
        elif op == "/":
            left, right = ("*", res, _leaf(_value(tree[2]))), _leaf(_value(tree[1]))
        elif op == "sqrt":
            left, right = ("^", res, _leaf(_Num.of(2))), _leaf(_value(tree[1]))
        else:
            return None
        lv, rv = _value(left), _value(right)
    except (ZeroDivisionError, OverflowError):
        return None
    if not (lv.exact and rv.exact and lv.same(rv)):
        return None
    return left, right


def _regroup(step: _Step) -> list[tuple[Node, Node]]:
    """The step's calculation done another way, as (left tree, right leaf) pairs: ``a − (b + c)`` for
    ``a − b − c``, ``a ÷ c × b`` for ``a × b ÷ c``, ``√((a − b)(a + b))`` for ``√(a² − b²)``."""
    tree, v = step.tree, step.value
    if not v.exact or step.trivial:
        return []
    out: list[tuple[Node, Node]] = []
    try:
        if tree[0] == "-":
            terms = _flatten(tree, "-")
            if len(terms) >= 3:
                total: Node = terms[1]
                for t in terms[2:]:
                    total = ("+", total, t)
                s = _leaf(_value(total))
                out = [(total, s), (("-", terms[0], s), _leaf(v))]
        elif tree[0] == "+" and len(_flatten(tree, "+")) >= 2:
            terms = _flatten(tree, "+")
            left: Node = terms[-1]
            for t in reversed(terms[:-1]):
                left = ("+", left, t)
            out = [(left, _leaf(v))]
        elif tree[0] == "/" and tree[1][0] == "*":
            a, b, c = tree[1][1], tree[1][2], tree[2]
            q = _leaf(_value(("/", a, c)))
            out = [(("/", a, c), q), (("*", q, b), _leaf(v))]
        elif tree[0] == "sqrt" and tree[1][0] == "-" and all(k[0] == "^" for k in tree[1][1:]):
            a, b = tree[1][1][1], tree[1][2][1]
            product = ("*", ("-", a, b), ("+", a, b))
            out = [(product, _leaf(_value(product))), (("sqrt", _leaf(_value(product))), _leaf(v))]
    except (ZeroDivisionError, OverflowError):
        return []
    for left, right in out:
        lv, rv = _value(left), _value(right)
        if not (lv.exact and rv.exact and lv.same(rv)):
            return []
    return out


# ---------------------------------------------------------------------------------------------------------------
# The teacher
# ---------------------------------------------------------------------------------------------------------------
class OfflineTeacher:
    """Samples Long-CoT traces for GeoSynth problems; see the module docstring."""

    def __init__(self, config: OfflineTeacherConfig | None = None):
        self.config = config or OfflineTeacherConfig()

    # -- randomness -----------------------------------------------------------------------------------------
    def _rng(self, problem: Problem, sample_index: int, salt: str) -> random.Random:
        key = f"{self.config.seed}\x1f{problem.id}\x1f{sample_index}\x1f{salt}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))

    def planted_kind(self, problem: Problem, sample_index: int) -> str | None:
        """Which failure (or None) sample ``sample_index`` of ``problem`` plants; drawn apart from the wording, so
        the rates do not depend on the templates."""
        difficulty = int(problem.metadata.get("difficulty", 5) or 5)
        rates = self.config.rates_at(difficulty)
        u = self._rng(problem, sample_index, "kind").random()
        acc = 0.0
        for kind in FAILURE_KINDS:
            acc += rates[kind]
            if u < acc:
                return kind
        return None

    # -- sampling -------------------------------------------------------------------------------------------
    def sample(self, problem: Problem, sample_index: int, protocol: str = "choice") -> TeacherTrace:
        """One trace for ``problem``: deterministic in ``(config.seed, problem.id, sample_index)``. ``protocol``
        "choice" boxes the letter, "value" the answer's value."""
        if protocol not in PROTOCOL_NAMES:
            raise ValueError(f"protocol must be one of {PROTOCOL_NAMES}, got {protocol!r}")
        steps = problem.metadata.get("steps") if isinstance(problem.metadata, dict) else None
        if not steps:
            raise ValueError(
                f"problem {problem.id!r} has no metadata['steps']: the offline teacher needs GeoSynth's solution "
                f"steps (redstar_geo.geosynth.generate_problem) to write a trace; sample other problems from a "
                f"real teacher model"
            )
        if not problem.choices or not problem.answer_letter:
            raise ValueError(f"problem {problem.id!r}: the offline teacher needs a multiple-choice problem")
        reading = _Reading(problem)
        kind = self.planted_kind(problem, sample_index)
        for attempt in range(12):
            rng = self._rng(problem, sample_index, f"text{attempt}")
            # Only a planted slip can need another attempt (a re-check came too close after it); later attempts
            # write fewer optional re-checks.
            built = _build(reading, rng, kind, protocol, plain=attempt >= 6, min_chars=self.config.min_chars)
            if built is not None:
                break
        else:  # pragma: no cover - the plain attempts leave nothing that could fail
            raise RuntimeError(f"problem {problem.id!r}: no {kind} trace could be written")
        thinking, answer, finish = built
        return self._package(thinking, answer, kind, finish)

    def _package(self, thinking: str, answer: str | None, kind: str | None, finish: str) -> TeacherTrace:
        cfg = self.config
        if cfg.separate_reasoning:
            text, reasoning = answer or "", thinking
        elif answer is None:  # cut off (or looping) inside the thinking: the think tag never closes
            text, reasoning = (f"<think>\n{thinking}" if cfg.think_tags else thinking), None
        elif cfg.think_tags:
            text, reasoning = f"<think>\n{thinking}\n</think>\n\n{answer}", None
        else:
            text, reasoning = f"{thinking}\n\n{answer}" if answer else thinking, None
        n_tokens = estimate_tokens(text) + (estimate_tokens(reasoning) if reasoning else 0)
        return TeacherTrace(text=text, reasoning=reasoning, planted=kind, finish_reason=finish, n_tokens=n_tokens)


def _other(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


def _build(
    reading: _Reading,
    rng: random.Random,
    kind: str | None,
    protocol: str,
    plain: bool = False,
    min_chars: int = MIN_CHARS,
):
    """``(thinking, answer section or None, finish_reason)`` for one sample, or None to retry with other choices."""
    lang = reading.problem.language
    w = _Writer(reading, rng, lang, protocol)
    if kind == "wrong_answer":
        routes = _wrong_routes(reading)
        if routes:
            first = routes[0].letter  # the most plausible distractor's routes are preferred
            preferred = [r for r in routes if r.letter == first]
            route = rng.choice(preferred if rng.random() < 0.6 else routes)
            w.steps = route.steps
            w.final_letter, w.final_text = route.letter, route.value_text
        else:  # no mistake found that reaches a distractor: a leap to the first one, stated without arithmetic
            value_text, _ = reading.distractors[0]
            letter = next(
                lt for lt, c in zip(reading.letters, reading.problem.choices, strict=True) if c == value_text
            )
            last = reading.steps[-1]
            leap = _Step(
                last.statement,
                last.rule,
                _leaf(_Num(approx=to_number(value_text))),
                _Num(approx=to_number(value_text)),
                last.lhs,
                last.deg,
                mutated=True,
                reason="leap",
                display=value_text,
            )
            w.steps = [*reading.steps[:-1], leap]
            w.final_letter, w.final_text = letter, value_text
    elif kind == "arithmetic_slip":
        candidates = [i for i, s in enumerate(reading.steps) if not s.trivial]
        if candidates:
            i = rng.choice(candidates)
            whole = rng.random() < 0.5 or _is_leaf(_reduce(reading.steps[i].tree))
            w.slip = (i, "whole" if whole else "part")
        else:  # a solution with no arithmetic ("∠2 = ∠1"): the slip is in a side calculation
            w.slip = (-1, "side")
    elif kind is None and rng.random() < FIXED_SLIP_SHARE:
        candidates = [i for i, s in enumerate(reading.steps) if not s.trivial]
        w.fix_slip = rng.choice(candidates) if candidates else None
    if kind == "no_final_answer":
        w.commit = False

    paragraphs = _plan(w, rng, kind)
    if plain:
        paragraphs = [p for p in paragraphs if p[0] in ("open", "figure", "plan", "step", "conclude")]
    texts: list[str] = []
    names: list[str] = []
    makers: list[Callable[[str], str]] = []
    written, calm_from = 0, None
    for name, make in paragraphs:
        text = make(lang)
        if text:
            texts.append(text)
            names.append(name)
            makers.append(make)
        written += len(text) + 2
        if w.calm:  # the planted slip's window closes once CALM_CHARS more have been written after it
            calm_from = written if calm_from is None else calm_from
            if written - calm_from > CALM_CHARS:
                w.calm = False
    rest = False
    pad_before = None
    if kind == "language_switch":
        texts, rest, pad_before = _switch_language(w, rng, texts, names, makers, lang)
    thinking = "\n\n".join(texts)

    # the answer section
    answer_lang = _other(lang) if rest else lang
    if kind == "no_final_answer":
        return _no_answer(w, rng, thinking, answer_lang)
    if kind == "wrong_format":
        answer = w.answer_section(answer_lang, final=_bad_final(w, rng, answer_lang))
    else:
        answer = w.answer_section(answer_lang)
    if kind is None or kind in ("wrong_answer", "arithmetic_slip", "language_switch", "wrong_format"):
        after_steps = max(i for i, name in enumerate(names) if name in ("step", "side")) + 1
        thinking, answer = _fit_length(w, rng, thinking, answer, lang, after_steps, pad_before, min_chars)
    if kind == "arithmetic_slip":
        if w.slip_left is None or w.slip_left in w.lefts:
            return None  # the slipped calculation is done right elsewhere: that is a correction; write again
        if not _calm_after_slip(w, thinking + "\n\n" + answer):
            return None
    if kind == "truncated":
        return _truncate(rng, thinking, answer, lang)
    if kind == "repetition_loop":
        return _loop(w, rng, texts, lang)
    return thinking, answer, "stop"


def _other_words(text: str, lang: str) -> int:
    """How many words of the other language ``text`` holds: Han characters in an English trace, English words in a
    Chinese one."""
    if lang == "en":
        return len(_HAN.findall(text))
    return sum(1 for word in re.findall(r"(?<![A-Za-z\\])[a-z]{2,}|[A-Z][a-z]+", text) if word not in _MATH_WORDS)


# A switch is at least a sentence: this many words (Han characters) of the other language.
MIN_SWITCH_WORDS = 12


def _switch_language(w: _Writer, rng: random.Random, texts: list[str], names: list[str], makers: list, lang: str):
    """Plant a language switch: one or two paragraphs rewritten in the other language, a sentence or two of it put
    into a paragraph, or everything from some paragraph on (the answer section too). Returns (texts, whether the
    rest of the trace switched, and from which paragraph on)."""
    other = _other(lang)
    body = [i for i, name in enumerate(names) if name != "open"]
    start = rng.choice(body[: max(1, len(body) - 1)])
    mode = rng.random()
    texts = list(texts)
    if mode < 0.3:
        for i in range(start, len(texts)):
            texts[i] = makers[i](other) or texts[i]
        return texts, True, start
    if mode < 0.65:
        stop = min(len(texts), start + rng.choice((1, 1, 2)))
        for i in range(start, stop):
            texts[i] = makers[i](other) or texts[i]
        switched = "".join(texts[start:stop])
        if _other_words(switched, lang) < MIN_SWITCH_WORDS:  # a short clause is no switch: say a sentence more
            texts[stop - 1] += ("" if other == "zh" else " ") + w.pick("aside", other)
        return texts, False, None
    aside = w.pick("aside", other)
    if rng.random() < 0.4:
        aside += ("" if other == "zh" else " ") + w.pick("aside", other)
    sep = "" if lang == "zh" else " "
    texts[start] = f"{texts[start]}{sep}{aside}" if rng.random() < 0.5 else f"{aside}{sep}{texts[start]}"
    return texts, False, None


def _plan(w: _Writer, rng: random.Random, kind: str | None) -> list[tuple[str, Callable[[str], str]]]:
    """The thinking's paragraphs, as (name, writer for a language) in order."""
    out: list[tuple[str, Callable[[str], str]]] = [("open", w.opening), ("figure", w.figure), ("plan", w.plan)]
    n = len(w.steps)
    for i in range(n):
        out.append(("step", lambda lang, i=i: w.step_paragraph(i, lang)))
        if i < n - 1 and not w.steps[i].trivial and rng.random() < 0.2:
            out.append(("verify", lambda lang, i=i: w.verify(i, lang) or ""))
        if i < n - 1 and rng.random() < 0.1:
            out.append(("hesitate", lambda lang: w.pick("hesitate", lang)))
    if w.slip is not None and w.slip[1] == "side":
        out.append(("side", w.side_slip))
    last = max((i for i, s in enumerate(w.steps) if not s.trivial), default=n - 1)
    if rng.random() < 0.85:
        out.append(("verify", lambda lang: w.verify(last, lang) or w.sanity(lang)))
    if rng.random() < 0.35:
        out.append(("alt", lambda lang: w.alternative(last, lang) or ""))
    if rng.random() < 0.5:
        out.append(("sanity", w.sanity))
    if w.commit and rng.random() < (0.6 if w.protocol == "choice" else 0.4):
        out.append(("elim", w.elimination))
    if w.commit:
        out.append(("conclude", w.conclusion))
    else:
        out.append(("hesitate", lambda lang: w.pick("no_answer_end", lang)))
    return out


def _fit_length(
    w: _Writer,
    rng: random.Random,
    thinking: str,
    answer: str,
    lang: str,
    after_steps: int,
    before: int | None = None,
    min_chars: int = MIN_CHARS,
) -> tuple[str, str]:
    """Lengthen a short trace with the re-checks a slow thinker makes (after its working, before its conclusion,
    or before a switch of language for good) up to a length drawn between ``min_chars`` and 1.7 times it, as QwQ
    keeps re-checking easy problems."""
    target = rng.randint(min_chars, int(min_chars * 1.7))
    paras = thinking.split("\n\n")
    tries = 0
    while len(thinking) + len(answer) < target and tries < 40:
        tries += 1
        extra = w.extra(lang)
        if not extra or extra in paras:
            continue
        candidate = list(paras)
        last = len(paras) - 1 if before is None else before
        first = min(last, max(after_steps, last - 4))
        candidate.insert(rng.randint(first, last), extra)
        if before is not None:
            before += 1
        joined = "\n\n".join(candidate)
        if w.slip is not None and not _calm_after_slip(w, f"{joined}\n\n{answer}"):
            continue  # a re-check this close after the planted slip would read as its correction
        paras, thinking = candidate, joined
    return thinking, answer


def _calm_after_slip(w: _Writer, text: str) -> bool:
    """No correction word in the CALM_CHARS after a planted slip: it is not corrected, and a verifier may read any
    such word as the correction."""
    if w.slip_calc is None or w.slip_calc not in text:
        return False
    start = text.index(w.slip_calc) + len(w.slip_calc)
    return not _CORRECTION_WORDS.search(text[start : start + CALM_CHARS])


def _bad_final(w: _Writer, rng: random.Random, lang: str) -> str:
    key = (lang, w.protocol)
    template = rng.choice(_BAD_FINALS[key])
    text = w.final_text
    value_box = "\\boxed{" + (_latex(text) if rng.random() < 0.7 else text) + "}"
    letter_box = "\\boxed{" + w.final_letter + "}"
    return template.format(L=w.final_letter, text=text, value_box=value_box, letter_box=letter_box, ask=w.r.ask(lang))


def _no_answer(w: _Writer, rng: random.Random, thinking: str, lang: str):
    """A reasoning that stops without stating an answer: a non-committal answer section, or none at all."""
    rules = _join(sorted({_rule_words(s.rule, lang)[0] for s in w.steps if s.rule}), lang)
    mode = rng.random()
    if mode < 0.25:
        return thinking, "", "stop"  # the model closes its thinking and says nothing more
    section = w.fill("no_answer_section", lang, rules=rules, ask=w.r.ask(lang))
    return thinking, section, "stop"


_TERMINAL = tuple(".。!！?？)）]】}$*>\"'”’`|°:：\n")


def _cut_point(text: str, start: int, end: int, rng: random.Random, lang: str) -> int:
    """A position in [start, end) that is mid-sentence: after a word, not after a full stop or a closing mark."""
    for _ in range(50):
        pos = rng.randrange(start, max(start + 1, end))
        if lang != "zh":
            while pos > start and text[pos - 1] != " ":
                pos -= 1
            if rng.random() < 0.3:  # half a word, as a token boundary may fall
                pos = min(end, pos + rng.randint(1, 3))
        head = text[:pos].rstrip()
        if len(head) > start and not head.endswith(_TERMINAL):
            return len(head)
    return start


def _truncate(rng: random.Random, thinking: str, answer: str, lang: str):
    """The trace cut at the token limit, mid-sentence: inside the thinking (the think never closes) or in the
    answer section before its final answer is complete."""
    if rng.random() < 0.7 or not answer:
        cut = _cut_point(thinking, len(thinking) // 3, len(thinking) - 1, rng, lang)
        return thinking[:cut], None, "length"
    box = answer.rfind("\\boxed{")
    end = box + len("\\boxed{") + 1 if box >= 0 else len(answer) - 1
    cut = _cut_point(answer, min(len(answer) // 4, end - 1), end, rng, lang)
    return thinking, answer[:cut], "length"


def _sentences(paragraph: str) -> list[str]:
    # a full stop ends a sentence only before a space (12.57 is a number); a Chinese one always does
    return [s for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", paragraph) if len(s.strip()) >= 12]


def _loop(w: _Writer, rng: random.Random, texts: list[str], lang: str):
    """The thinking degenerates into repeating a sentence, a pair of sentences or a paragraph until the token
    limit; it never reaches an answer."""
    # the loop sets in before the trace gets to its answer (no elimination, no conclusion in the prefix)
    committed = next((i for i, t in enumerate(texts) if i > 2 and _ANSWER_WORDS.search(t)), len(texts) - 1)
    stop = rng.randint(min(2, committed), max(2, committed))
    prefix = texts[:stop]
    source = prefix[-1]
    mode = rng.random()
    sentences = [s for s in _sentences(source) if not _ANSWER_WORDS.search(s)]
    if mode < 0.35 and sentences:
        unit, sep = rng.choice(sentences), (" " if lang != "zh" else "")
    elif mode < 0.6 and len(sentences) >= 2:
        i = rng.randrange(len(sentences) - 1)
        unit, sep = sentences[i] + (" " if lang != "zh" else "") + sentences[i + 1], (" " if lang != "zh" else "")
    elif mode < 0.8:
        unit, sep = source, "\n\n"
    else:
        unit, sep = w.pick("hesitate", lang) + (" " if lang != "zh" else "") + w.sanity(lang), "\n\n"
    limit = rng.randint(*LOOP_CHARS)
    text = "\n\n".join(prefix)
    while len(text) < limit:
        text += sep + unit if text.endswith(unit) else "\n\n" + unit
    return text[:limit], None, "length"
