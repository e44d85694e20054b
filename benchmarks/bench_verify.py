"""Trace-verification throughput: traces verified per second on one core, every filter in redstar_geo.verify on.

Usage:

    python benchmarks/bench_verify.py             # 2,000 generated traces, then the 100k-character loops
    python benchmarks/bench_verify.py --n 500

The traces are generated here (no data needed): Long-CoT-like reasoning of 2-8k characters, English and Chinese, half
of them good and the rest with one fault each (wrong answer, arithmetic slip, repetition loop, switched language,
cut off, unclosed think). One process, so the rate is per core. The project's goal is 3,000 traces/s/core.
Then the worst cases: repetition loops of 100k+ characters; the slowest single ``verify_trace`` call is reported.
"""

import argparse
import random
import time

from redstar_geo.schema import Problem
from redstar_geo.verify import VerifyConfig, verify_trace

STEPS_EN = [
    "Okay, let's see. Since AB = AC, the base angles are equal, so ∠B = ∠C = {b}°.",
    "The angles of a triangle add up to 180°, so ∠A = 180° - {b}° - {b}° = {a}°.",
    "Wait, let me verify that. {b}° + {b}° = {s}°, and 180° - {s}° = {a}°. Yes, that matches.",
    "Hmm, the height from A bisects BC, so if BC = 8 cm then each half is 8 ÷ 2 = 4 cm.",
    "Let me double-check with the area: \\frac{{1}}{{2}} \\times 8 \\times 3 = 12, which is consistent.",
    "So angle ABC plus angle ACB is {s}°, and angle BAC is what is left over from 180°.",
]
STEPS_ZH = [
    "好的，我们来看这道题。因为AB=AC，所以∠B=∠C={b}°。",
    "三角形内角和为180°，所以∠A = 180° − {b}° − {b}° = {a}°。",
    "等等，让我再验证一下。{b}° + {b}° = {s}°，180° − {s}° = {a}°，没错。",
    "如果BC = 8 cm，那么高把BC分成两段，每段为 8 ÷ 2 = 4 cm。",
    "再用面积检查：\\frac{{1}}{{2}} \\times 8 \\times 3 = 12，结果一致。",
]


def make_trace(rng: random.Random, zh: bool, fault: str | None) -> tuple[str, Problem]:
    b = rng.choice([20, 25, 30, 35, 40, 50, 55])
    a, s = 180 - 2 * b, 2 * b
    choices = [f"{a - 20}°", f"{a}°", f"{a + 10}°", f"{a + 30}°"]
    problem = Problem(
        id=str(rng.random()),
        source="bench",
        question="∠A?",
        choices=choices,
        answer_letter="B",
        answer_type="choice",
        language="zh" if zh else "en",
    )
    steps = STEPS_ZH if zh else STEPS_EN
    target = rng.randint(2000, 8000)
    body = []
    while sum(map(len, body)) < target:
        # a step number keeps reused sentences distinct, as real traces' differing details do
        body.append(f"({len(body) + 1}) " + rng.choice(steps).format(a=a, b=b, s=s))
    if fault == "arithmetic":
        body.insert(len(body) // 2, f"So {b}° + {b}° = {s + 10}°.")
    if fault == "language":
        body.insert(len(body) // 2, "所以这个三角形的两个底角相等，顶角等于所求的度数。" if not zh else "")
        if zh:
            body.insert(len(body) // 2, "Now let me reason in English, since the base angles are equal and sum up.")
    letter = "C" if fault == "wrong" else "B"
    ending = (
        f"\n</think>\n\n故选{letter}，答案是 \\boxed{{{letter}}}。"
        if zh
        else f"\n</think>\n\nSo the answer is \\boxed{{{letter}}}."
    )
    trace = "<think>\n" + "\n\n".join(body) + ending
    if fault == "loop":
        trace = trace[: len(trace) // 2] + "Wait, let me recompute angle A once more. " * 40
    elif fault == "cut":
        trace = trace[: len(trace) * 2 // 3] + " and then the"
    elif fault == "unclosed":
        trace = trace.replace("</think>", "")
    return trace, problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(0)
    faults = [None] * 6 + ["wrong", "arithmetic", "loop", "language", "cut", "unclosed"]
    cases = [make_trace(rng, rng.random() < 0.5, rng.choice(faults)) for _ in range(args.n)]
    config = VerifyConfig()
    verify_trace(*cases[0], config=config)  # warm the judge's caches of compiled patterns
    start = time.perf_counter()
    kept = sum(not verify_trace(trace, problem, config=config) for trace, problem in cases)
    elapsed = time.perf_counter() - start
    mean_chars = sum(len(t) for t, _ in cases) / len(cases)
    print(
        f"{len(cases)} traces (mean {mean_chars:.0f} chars, {kept} kept) in {elapsed:.2f}s: "
        f"{len(cases) / elapsed:.0f} traces/s/core"
    )

    problem = cases[0][1]
    loops = {
        "sentence": "So ∠A = 180° - 40° - 40° = 100°. Wait, let me verify. " * 2000,
        "token": "the " * 25_000,
        "zh": "所以∠A=100°，等等，让我再检查一下。" * 5000,
        "boxed": "\\boxed{" * 15_000,
        "answer": "Answer: B. " * 10_000,
        "paragraph": ("Let me reconsider the figure carefully, step by step, from the beginning. " * 8 + "\n\n") * 170,
    }
    big = VerifyConfig(max_chars=10**7)
    worst = (0.0, "")
    for name, loop in loops.items():
        start = time.perf_counter()
        reasons = verify_trace(loop, problem, config=big)
        took = time.perf_counter() - start
        print(f"  loop {name:9s} {len(loop):7d} chars: {took * 1e3:6.1f} ms {reasons}")
        worst = max(worst, (took, name))
    print(f"slowest 100k-character loop: {worst[1]} {worst[0] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
