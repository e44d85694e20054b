"""Trace-verification throughput: traces verified per second on one core, every filter in redstar_geo.verify on.

Usage:

    python benchmarks/bench_verify.py             # 2,000 traces per pass, best of 3 passes, then the long inputs
    python benchmarks/bench_verify.py --n 500 --repeat 5

The traces are generated here (no data needed) to read like QwQ/QvQ Long-CoT on geometry: 2-8k characters, English
and Chinese, seven kinds of problem with their own numbers, prose-heavy thinking ("Hmm", "Wait", restating the
figure) around formulas (``180° - 40° - 40° = 100°``, ``\\sqrt{6^2 + 8^2}``, ``\\frac{1}{2} \\times 6 \\times 8``),
re-checks, a second method and side calculations with fresh numbers (as in real traces, most calculations are new to
the verifier's caches), then ``</think>``, a summary and ``\\boxed{}``. Half are good; the rest carry one fault each:
a wrong answer, an uncorrected slip followed by an unrelated "Wait", a repetition loop, a switched language, a cut-off
trace, an unclosed think. A third of the good ones hold a slip the trace corrects at once ("= 110? Wait, that's
wrong: ... = 100°"), which must be kept. The table printed first shows how many of each kind are caught (the faults)
or kept (the good ones).

One process, so the rate is per core. Each pass verifies traces it has not seen before (as a pipeline does: what the
verifier caches helps only as far as traces share calculations) and is timed in CPU time (``time.process_time``: other
processes on a shared machine do not count against it); the best of ``--repeat`` passes is reported. The per-filter
breakdown times each filter inside ``verify_trace``'s order: ``format`` runs the answer judge, ``answer`` reuses its
verdict. The project's goal is 3,000 traces/s/core. Then the worst cases: inputs of 100k+ characters (loops, a long
list of calculations, one huge run); the slowest single ``verify_trace`` call is reported.
"""

import argparse
import math
import random
import time
from collections import Counter

from redstar_geo.schema import Problem
from redstar_geo.verify import FILTERS, VerifyConfig, verify_trace

LETTERS = "ABCD"


def _problems(rng: random.Random) -> dict:
    """One problem of each kind: its facts, steps (EN, ZH) with their numbers filled in, the answer and a slip."""
    # Numbers drawn from wide ranges, as real traces' are: calculations rarely repeat from one trace to the next.
    b = rng.randint(15, 85)
    k = rng.randint(1, 4)
    p, q, h = (
        k * n for n in rng.choice([(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41)])
    )
    c = 2 * rng.randint(20, 85)
    x = rng.randint(20, 160)
    base, height = rng.randint(3, 24), rng.randint(3, 24)
    r = rng.randint(2, 25)
    d = rng.randint(12, 78)
    a, area, hh = 180 - 2 * b, p * q // 2, round(p * q / h, 2)
    return {
        "isosceles": dict(
            answer=a,
            unit="°",
            en=[
                f"The problem says triangle ABC is isosceles with AB = AC, and angle B is {b}°. I need angle A.",
                f"Since AB = AC, the angles opposite those sides are equal, so ∠C = ∠B = {b}°.",
                f"The angles of a triangle add up to 180°, so ∠A = 180° - {b}° - {b}° = {a}°.",
                f"Wait, let me verify that. {b}° + {b}° = {2 * b}°, and 180° - {2 * b}° = {a}°. Yes, that matches.",
                f"Alternatively, the exterior angle at C is 180° - {b}° = {180 - b}°, and it equals ∠A + ∠B, so "
                f"∠A = {180 - b}° - {b}° = {a}°. Same result.",
                "Hmm, but is angle B really a base angle? The equal sides AB and AC meet at A, so A is the apex and "
                "B and C are the base angles. Right.",
            ],
            zh=[
                f"题目说在△ABC中，AB=AC，∠B={b}°，要求∠A的度数。",
                f"因为AB=AC，所以等边对等角，∠C=∠B={b}°。",
                f"三角形内角和为180°，所以∠A = 180° − {b}° − {b}° = {a}°。",
                f"等等，让我再验证一下。{b}° + {b}° = {2 * b}°，180° − {2 * b}° = {a}°，没错。",
                f"也可以用外角来算：∠C的外角是 180° − {b}° = {180 - b}°，它等于∠A与∠B的和，"
                f"所以∠A = {180 - b}° − {b}° = {a}°。",
                "不过∠B真的是底角吗？相等的两边AB和AC交于点A，所以A是顶点，B和C是底角。对的。",
            ],
            slip=(f"180° - {b}° - {b}° = {a + 10}°", f"180° - {b}° - {b}° = {a}°"),
        ),
        "pythagoras": dict(
            answer=h,
            unit="",
            en=[
                f"We have a right triangle with legs AC = {p} and BC = {q}, and AB is the hypotenuse.",
                f"By the Pythagorean theorem, AB = \\sqrt{{{p}^2 + {q}^2}} = \\sqrt{{{p * p} + {q * q}}} = "
                f"\\sqrt{{{h * h}}} = {h}.",
                f"Let me double-check with the area: \\frac{{1}}{{2}} \\times {p} \\times {q} = {area}, so the "
                f"height to AB is 2 × {area} / {h} ≈ {hh}, which is shorter than both legs, as it should be.",
                f"Also {p}² + {q}² = {p * p + q * q} and {h}² = {h * h}, so the numbers agree.",
                "Hmm, is the right angle at C? The legs are AC and BC, so yes, ∠C = 90° and AB is opposite it.",
            ],
            zh=[
                f"在Rt△ABC中，∠C=90°，两直角边AC={p}，BC={q}，求斜边AB。",
                f"由勾股定理，AB = \\sqrt{{{p}^2 + {q}^2}} = \\sqrt{{{p * p} + {q * q}}} = \\sqrt{{{h * h}}} = {h}。",
                f"再用面积检验：\\frac{{1}}{{2}} \\times {p} \\times {q} = {area}，"
                f"斜边上的高为 2 × {area} ÷ {h} ≈ {hh}，比两条直角边都短，合理。",
                f"另外 {p}² + {q}² = {p * p + q * q}，{h}² = {h * h}，两者相等。",
            ],
            slip=(f"{p}² + {q}² = {p * p + q * q + 1}", f"{p}² + {q}² = {p * p + q * q}"),
        ),
        "inscribed": dict(
            answer=c // 2,
            unit="°",
            en=[
                f"The central angle ∠AOB is {c}°, and ∠ACB is an inscribed angle on the same arc AB.",
                f"An inscribed angle is half the central angle on the same arc, so ∠ACB = {c}° ÷ 2 = {c // 2}°.",
                f"Let me check: 2 × {c // 2}° = {c}°. Good.",
                "Wait, I should make sure that C is on the major arc, otherwise the inscribed angle would be the "
                "supplement. The figure shows C on the far side of the circle, so it is on the major arc.",
            ],
            zh=[
                f"圆心角∠AOB={c}°，∠ACB是同弧AB所对的圆周角。",
                f"同弧所对的圆周角等于圆心角的一半，所以∠ACB = {c}° ÷ 2 = {c // 2}°。",
                f"检验一下：2 × {c // 2}° = {c}°，正确。",
                "等一下，要确认点C在优弧上，否则圆周角应该是补角。从图上看C在优弧上，没有问题。",
            ],
            slip=(f"{c}° ÷ 2 = {c // 2 + 5}°", f"{c}° ÷ 2 = {c // 2}°"),
        ),
        "parallel": dict(
            answer=180 - x,
            unit="°",
            en=[
                f"AB is parallel to CD, and the transversal EF makes ∠1 = {x}°. We want ∠2.",
                f"∠1 and ∠2 are co-interior angles, so they are supplementary: ∠2 = 180° - {x}° = {180 - x}°.",
                f"Check: {x}° + {180 - x}° = 180°. That works.",
                "Hmm, I need to be careful that ∠2 is not the alternate angle, which would be equal to ∠1 instead.",
            ],
            zh=[
                f"已知AB∥CD，直线EF与它们相交，∠1={x}°，求∠2。",
                f"∠1与∠2是同旁内角，互补，所以∠2 = 180° − {x}° = {180 - x}°。",
                f"检验：{x}° + {180 - x}° = 180°，成立。",
                "要注意∠2不是内错角，否则它应该等于∠1。",
            ],
            slip=(f"180° - {x}° = {180 - x - 10}°", f"180° - {x}° = {180 - x}°"),
        ),
        "area": dict(
            answer=base * height // 2 if base * height % 2 == 0 else base * height / 2,
            unit="",
            en=[
                f"The base BC is {base} cm and the height from A to BC is {height} cm.",
                f"The area is \\frac{{1}}{{2}} \\cdot {base} \\cdot {height} = {base * height / 2:g} cm².",
                f"Let me recompute: {base} × {height} = {base * height}, and half of that is {base * height / 2:g}.",
                "Wait, is the height really perpendicular to BC? The problem says AD ⊥ BC, so yes.",
            ],
            zh=[
                f"底边BC={base}cm，BC边上的高AD={height}cm。",
                f"面积为 \\frac{{1}}{{2}} \\times {base} \\times {height} = {base * height / 2:g} cm²。",
                f"再算一遍：{base} × {height} = {base * height}，一半是 {base * height / 2:g}。",
            ],
            slip=(f"{base} × {height} = {base * height + 2}", f"{base} × {height} = {base * height}"),
        ),
        "circle": dict(
            answer=f"{2 * r}π",
            unit="",
            en=[
                f"The radius of the circle is {r}, and we need its circumference.",
                f"The circumference is 2πr = 2 × π × {r} = {2 * r}π ≈ {2 * r * 3.14159:.2f}.",
                f"And the area would be πr² = {r * r}π ≈ {r * r * 3.14159:.2f}, but that is not what is asked.",
                f"Let me double check: {2 * r} × 3.14 ≈ {2 * r * 3.14:.2f}. Okay.",
            ],
            zh=[
                f"圆的半径为{r}，求周长。",
                f"周长 C = 2πr = 2 × π × {r} = {2 * r}π ≈ {2 * r * 3.14159:.2f}。",
                f"面积是 πr² = {r * r}π，不过题目问的是周长。",
            ],
            slip=(f"2 × {r} = {2 * r + 1}", f"2 × {r} = {2 * r}"),
        ),
        "diameter": dict(
            answer=90 - d,
            unit="°",
            en=[
                f"AB is a diameter of circle O, C and D are on the circle, and ∠CDB = {d}°. We need ∠ABC.",
                f"∠CAB and ∠CDB are inscribed angles on the same arc CB, so ∠CAB = ∠CDB = {d}°.",
                "Since AB is a diameter, the inscribed angle ∠ACB is a right angle, ∠ACB = 90°.",
                f"So in triangle ABC, ∠ABC = 180° - 90° - {d}° = {90 - d}°.",
                f"Let me verify: {90 - d}° + {d}° + 90° = 180°. Yes.",
            ],
            zh=[
                f"AB是⊙O的直径，点C、D在⊙O上，∠CDB={d}°，求∠ABC。",
                f"∠CAB和∠CDB是同弧CB所对的圆周角，所以∠CAB=∠CDB={d}°。",
                "因为AB是直径，所以∠ACB=90°。",
                f"在△ABC中，∠ABC = 180° − 90° − {d}° = {90 - d}°。",
                f"验证：{90 - d}° + {d}° + 90° = 180°，正确。",
            ],
            slip=(f"180° - 90° - {d}° = {90 - d + 10}°", f"180° - 90° - {d}° = {90 - d}°"),
        ),
    }


FILLERS_EN = [
    "Hmm, let me think about this more carefully.",
    "Let me try to visualize the figure first.",
    "I should double-check which angle the question is actually asking for.",
    "Okay, that seems consistent so far.",
    "Let me make sure I'm not mixing up the labels of the points.",
    "Alternatively, maybe there's a quicker way to see this.",
    "So far so good, but let me not jump to conclusions.",
    "I remember a theorem about this kind of configuration, let me recall it properly.",
    "Wait, maybe I misread the problem. Let me read it again.",
    "No, I read it correctly the first time.",
    "The diagram isn't drawn to scale, so I shouldn't rely on how it looks.",
    "Let me write down what is given and what is asked.",
    "That makes sense, because the figure is symmetric about the line through the apex.",
    "Hmm, could there be a trick here? Sometimes these problems hide an extra condition.",
    "I think the key fact is the one about the angles, not the lengths.",
    "Let me consider whether the answer should be acute or obtuse.",
    "Is there any other interpretation of the problem statement? I don't think so.",
    "Okay, so now I'm fairly confident in the reasoning.",
    "Let me go through the steps once more, slowly.",
    "Right, and none of the other options fits these numbers.",
    "Actually, let me also sanity check the units.",
    "Alright, let me look at the answer choices again.",
    "But wait, I should consider the case where the point lies on the other side.",
    "In that case the configuration would be different, but the problem rules it out.",
    "This is a standard textbook exercise, so the numbers should come out nicely.",
]
FILLERS_ZH = [
    "嗯，让我再仔细想一想。",
    "先把图形在脑海里画出来。",
    "我需要确认题目问的到底是哪个角。",
    "好的，到目前为止都是一致的。",
    "要注意不要把点的字母弄混。",
    "或许还有更简便的方法。",
    "先不要急着下结论。",
    "这类图形有一个常用的定理，我回忆一下。",
    "等等，我是不是看错题了？再读一遍题目。",
    "没有看错，题意理解是对的。",
    "图形不一定是按比例画的，不能凭感觉判断。",
    "先把已知条件和要求的量写清楚。",
    "这说得通，因为图形关于顶点所在的直线对称。",
    "这里会不会有陷阱？有时题目会隐含额外的条件。",
    "关键在于角的关系，而不是边的长度。",
    "想一想答案应该是锐角还是钝角。",
    "题目还有别的理解方式吗？我觉得没有。",
    "好，现在我对推理比较有把握了。",
    "再把步骤慢慢过一遍。",
    "其他选项都不符合这些数值。",
    "再检查一下单位是否一致。",
    "回头看一下选项。",
    "不过还要考虑点在另一侧的情况。",
    "那样的话图形会不同，但题目排除了这种情况。",
]


def _scratch(rng: random.Random, zh: bool) -> str:
    """A side calculation with fresh numbers, as a real trace makes many of (a trace's calculations are mostly
    different from each other and from other traces', so few are cached)."""
    u, v, w = rng.randint(2, 99), rng.randint(2, 60), rng.randint(5, 85)
    english = [
        f"If that side were {u} cm, half of it would be {u} ÷ 2 = {u / 2:g} cm.",
        f"For comparison, {u}° + {v}° = {u + v}°, which is not what we need.",
        f"A quick check: {u} × {v} = {u * v}.",
        f"Then \\frac{{{2 * u}}}{{2}} = {u}, consistent with the figure.",
        f"And {u}² = {u * u}, so \\sqrt{{{u * u}}} = {u}.",
        f"The arc is {v}/360 of the circle, so its length is 2π × {u} × {v}/360 ≈ {math.pi * u * v / 180:.2f}.",
        f"So the ratio is {u}:{v}, and {u} / {v} ≈ {u / v:.2f}.",
        f"With the area formula, \\frac{{1}}{{2}} \\times {u} \\times {v} = {u * v / 2:g}.",
        f"Also 90° - {w}° = {90 - w}°, so that angle is acute.",
        f"√{u * u} = {u}, and {u} + {v} = {u + v}.",
        f"The perimeter would be 2 × ({u} + {v}) = {2 * (u + v)}.",
    ]
    chinese = [
        f"如果这条边是{u} cm，那么它的一半是 {u} ÷ 2 = {u / 2:g} cm。",
        f"作为对比，{u}° + {v}° = {u + v}°，这不是我们要的。",
        f"快速验算：{u} × {v} = {u * v}。",
        f"于是 \\frac{{{2 * u}}}{{2}} = {u}，与图形一致。",
        f"而 {u}² = {u * u}，所以 \\sqrt{{{u * u}}} = {u}。",
        f"用面积公式，\\frac{{1}}{{2}} \\times {u} \\times {v} = {u * v / 2:g}。",
        f"另外 90° − {w}° = {90 - w}°，所以这个角是锐角。",
        f"周长是 2 × ({u} + {v}) = {2 * (u + v)}。",
        f"比值为 {u}:{v}，即 {u} / {v} ≈ {u / v:.2f}。",
    ]
    return rng.choice(chinese if zh else english)


FAULTS = [None] * 4 + ["corrected"] * 2 + ["wrong", "slip", "loop", "language", "cut", "unclosed"]
EXPECTED = {  # the reason a fault must be caught with
    "wrong": "wrong_answer",
    "slip": "arithmetic_error",
    "loop": "repetition_loop",
    "language": "language_mixing",
    "cut": "unclosed_think",
    "unclosed": "unclosed_think",
}


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def make_trace(rng: random.Random, zh: bool, fault: str | None) -> tuple[str, Problem]:
    """One generated Long-CoT trace with ``fault`` (None: a good one) and its problem."""
    kind, facts = rng.choice(list(_problems(rng).items()))
    answer, unit = facts["answer"], facts["unit"]
    gold = rng.randrange(4)
    if isinstance(answer, str):  # "8π"
        k = int(answer[:-1])
        values = [f"{k + (i - gold) * 2}π" for i in range(4)]
    else:
        values = [f"{_fmt(answer + (i - gold) * 10)}{unit}" for i in range(4)]
    problem = Problem(
        id=f"{kind}-{rng.random():.6f}",
        source="bench",
        question=kind,
        choices=values,
        answer_letter=LETTERS[gold],
        answer_type="choice",
        language="zh" if zh else "en",
    )
    steps, fillers = (facts["zh"], FILLERS_ZH) if zh else (facts["en"], FILLERS_EN)
    opening = rng.choice(
        ["好的，我来看一下这道题。", "嗯，先理解一下题意。"] if zh else ["Okay, let's see.", "Alright."]
    )
    body = [opening + " " + steps[0]]
    target = rng.randint(2000, 8000)
    recent: list[str] = []  # a real trace returns to a step, but not over and over in a row
    while sum(map(len, body)) < target:
        paragraph = rng.sample([f for f in fillers if f not in recent], rng.randint(1, 3))
        step = rng.choice([s for s in steps[1:] if s not in recent[-2:]] or steps[1:])
        paragraph.insert(rng.randint(0, len(paragraph)), step)
        recent = (recent + paragraph)[-8:]
        if rng.random() < 0.6:
            paragraph.insert(rng.randint(0, len(paragraph)), _scratch(rng, zh))
        body.append(("" if zh else " ").join(paragraph))
    wrong, right = facts["slip"]
    if fault == "corrected":  # a slip the trace corrects at once: kept
        at = rng.randint(1, len(body))
        body.insert(
            at,
            f"所以 {wrong}？不对，算错了，应该是 {right}。" if zh else f"So {wrong}? Wait, no, that's wrong: {right}.",
        )
    if fault == "slip":  # never corrected: an unrelated "wait" and prose follow it
        slip = (
            f"所以 {wrong}。等等，再看一下另一个条件。"
            if zh
            else f"So {wrong}. Wait, let me check the other condition."
        )
        at = rng.randint(1, len(body))
        body[at:at] = [slip, ("" if zh else " ").join(rng.sample(fillers, 3))]
    if fault == "language":
        body.insert(
            len(body) // 2,
            "Now let me reason about this in English instead, since the angle relations are easier to state."
            if zh
            else "所以这个三角形的两个底角相等，顶角等于所求的度数，答案应该在选项里面。",
        )
    letter = LETTERS[(gold + 1) % 4] if fault == "wrong" else LETTERS[gold]
    value = values[LETTERS.index(letter)]
    ending = (
        f"\n</think>\n\n综上，所求的量为{value}，故选{letter}。\n\n答案：\\boxed{{{letter}}}"
        if zh
        else f"\n</think>\n\nSo the answer is {value}, which is option {letter}.\n\n\\boxed{{{letter}}}"
    )
    trace = "<think>\n" + "\n\n".join(body) + ending
    if fault == "loop":
        unit_text = "等等，让我再重新计算一遍这个角。" if zh else "Wait, let me recompute this angle once more. "
        trace = trace[: len(trace) // 2] + unit_text * 40
    elif fault == "cut":
        trace = trace[: len(trace) * 2 // 3] + ("然后我们" if zh else " and then the")
    elif fault == "unclosed":
        trace = trace.replace("</think>", "")
    return trace, problem


def _per_filter(cases, config) -> dict[str, float]:
    """Seconds spent in each filter over ``cases``, called in ``verify_trace``'s order."""
    spent = dict.fromkeys(FILTERS, 0.0)
    clock = time.process_time
    for trace, problem in cases:
        for name, check in FILTERS.items():
            start = clock()
            check(trace, problem, config)
            spent[name] += clock() - start
    return spent


def _generate(seed: int, n: int) -> tuple[list[tuple[str, Problem]], list[str | None]]:
    rng = random.Random(seed)
    faults = [rng.choice(FAULTS) for _ in range(n)]
    return [make_trace(rng, rng.random() < 0.5, fault) for fault in faults], faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    args = parser.parse_args()
    config = VerifyConfig()
    cases, faults = _generate(0, args.n)
    outcomes = [verify_trace(trace, problem, config=config) for trace, problem in cases]
    chars = [len(t) for t, _ in cases]
    signs = sum(t.count("=") for t, _ in cases) / sum(chars) * 1000
    print(
        f"{len(cases)} traces, {min(chars)}-{max(chars)} chars (mean {sum(chars) / len(chars):.0f}), "
        f"{sum(p.language == 'zh' for _, p in cases)} Chinese, {signs:.1f} '=' per 1k chars"
    )
    tally = Counter()
    for fault, reasons in zip(faults, outcomes, strict=True):
        caught = EXPECTED[fault] in reasons if fault in EXPECTED else not reasons
        tally[fault or "good", caught] += 1
    for kind in ["good", "corrected", *EXPECTED]:
        total = tally[kind, True] + tally[kind, False]
        print(f"  {kind:12s} {tally[kind, True]:5d} / {total:<5d} {'caught' if kind in EXPECTED else 'kept'}")

    # Each timed pass verifies traces it has not seen: a pipeline verifies every trace once, so what the verifier
    # caches from one trace helps another only as far as real traces share calculations.
    best = float("inf")
    for k in range(args.repeat):
        fresh = _generate(1000 + k, args.n)[0]
        start = time.process_time()
        for trace, problem in fresh:
            verify_trace(trace, problem, config=config)
        best = min(best, time.process_time() - start)
    print(
        f"verify_trace, every filter: {args.n / best:.0f} traces/s/core ({best / args.n * 1e6:.0f} µs/trace, "
        f"best of {args.repeat} passes over fresh traces, CPU time)"
    )
    spent = min(
        (_per_filter(_generate(2000 + k, args.n)[0], config) for k in range(args.repeat)),
        key=lambda s: sum(s.values()),
    )
    print("  per filter, µs per trace (format runs the judge; answer reuses its verdict):")
    for name, seconds in spent.items():
        print(f"    {name:16s} {seconds / args.n * 1e6:7.1f}")

    problem = cases[0][1]
    loops = {
        "sentence": "So ∠A = 180° - 40° - 40° = 100°. Wait, let me verify. " * 2000,
        "token": "the " * 25_000,
        "zh": "所以∠A=100°，等等，让我再检查一下。" * 5000,
        "boxed": "\\boxed{" * 15_000,
        "answer": "Answer: B. " * 10_000,
        "paragraph": ("Let me reconsider the figure carefully, step by step, from the beginning. " * 8 + "\n\n") * 170,
        "equations": "".join(f"{k} + {k} = {2 * k}, " for k in range(9000)),
        "one run": "1 + " * 30_000 + "1 = 30001",
        "mixed": "So the angle is 40°. 所以角是四十度。" * 4000,
    }
    big = VerifyConfig(max_chars=10**7)
    worst = (0.0, "")
    for name, loop in loops.items():
        start = time.perf_counter()
        reasons = verify_trace(loop, problem, config=big)
        took = time.perf_counter() - start
        print(f"  {name:10s} {len(loop):7d} chars: {took * 1e3:6.1f} ms {reasons}")
        worst = max(worst, (took, name))
    print(f"slowest 100k-character input: {worst[1]} {worst[0] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
