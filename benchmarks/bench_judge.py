"""Judge throughput: judged responses per second on one core, for redstar-geo's judge and for math-verify.

Usage:

    python benchmarks/bench_judge.py            # needs ../shared/data (or REDSTAR_GEO_DATA) and math-verify

Inputs, the same for both judges:
- GeoQA: G-LLaVA-7B's 754 published responses against the gold letters;
- Geometry3K: for each of the 601 problems a Long-CoT-like response (~2.5k characters of reasoning that mentions
  numbers and letters along the way) ending in ``\\boxed{gold}``, half of them with a wrong final value.
Both judges run in this one process (one core). math-verify gets the same pairs as ``verify(parse(gold),
parse(response))``; it has no notion of choice letters, so its GeoQA accuracy is not comparable, only its speed.

Then the worst cases: repetition loops (what a failing Long-CoT model produces) of every piece the judge's patterns
look for, each repeated to 100k+ characters; the slowest ``judge`` call among them is reported (aim: under 20 ms).
"""

import json
import random
import time

from redstar_geo.benchmarks import data_dir, get_benchmark
from redstar_geo.judge import choice_reference, judge, normalize_text, to_number, value_text

FILLER = (
    "Let me think about the figure. Angle A is 30° and AB = 4, so option B (60°) is not it yet. "
    "By the Pythagorean theorem BC = \\sqrt{AB^2 - AC^2}. Wait, maybe the answer is C? Let me recompute: "
    "2 \\times 3 = 6, and \\frac{6}{2} = 3. Hmm, checking again step by step. "
)


def build_inputs():
    geoqa = {p.id: p for p in get_benchmark("geoqa").load_default()}
    pairs = []
    with open(data_dir() / "geoqa/gllava7b_test_outputs.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            pairs.append((geoqa[str(rec["question_id"])], rec["text"], rec.get("question_id")))
    rng = random.Random(0)
    for p in get_benchmark("geometry3k").load_default():
        final = p.answer if rng.random() < 0.5 else "17"
        pairs.append((p, FILLER * 12 + f"So the final answer is \\boxed{{{final}}}.", None))
    return pairs


ROUNDS = 3
# Pieces the extraction patterns react to; each is repeated into a 100k-character response.
ADVERSARIAL_PIECES = [
    "\\boxed{",
    "\\boxed{1}",
    "Answer:",
    "answer ",
    "the answer is ",
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
    "option ",
    "the correct option is ",
    "option A is correct ",
    "I choose ",
    "A. ",
    "(A) 40 ",
    "选",
    "故选",
    "答案是",
    "答：",
    "选项A正确",
    "{",
    "}",
    "=",
    "1+",
    "\\frac{",
    "√",
    "(",
    "$",
    "**",
    "therefore x = ",
    "A:",
    "\n",
    "\nQuestion: x\nAnswer: 5",
    "C is the correct answer. ",
    "is ",
    "。",
    "Ｄ",
]


def worst_case(problems, repeats=3):
    """The slowest judge call (ms) over the adversarial repetitions, and the piece that caused it."""
    worst = (0.0, "")
    for piece in ADVERSARIAL_PIECES:
        text = piece * (100_000 // len(piece) + 1)
        for problem in problems:
            for protocol in ("choice", "value"):
                best = float("inf")
                for _ in range(repeats):
                    clear_judge_caches()
                    start = time.perf_counter()
                    judge(text, problem, protocol=protocol)
                    best = min(best, time.perf_counter() - start)
                worst = max(worst, (best * 1000, piece))
    return worst


def clear_judge_caches():
    """Each timed round starts cold: the judge's value caches must not carry answers over from the previous round."""
    for cached in (to_number, value_text, normalize_text, choice_reference):
        cached.cache_clear()


def time_once(fn, pairs):
    clear_judge_caches()
    start = time.perf_counter()
    correct = sum(bool(fn(p, text)) for p, text, _ in pairs)
    return time.perf_counter() - start, correct


def main():
    pairs = build_inputs()
    print(
        f"inputs: {len(pairs)} responses (754 GeoQA G-LLaVA-7B + 601 Geometry3K long-CoT-like), "
        f"mean {sum(len(t) for _, t, _ in pairs) / len(pairs):.0f} characters"
    )
    judges = {"redstar-geo judge": lambda p, t: judge(t, p).correct}
    try:
        from math_verify import parse, verify

        judges["math-verify"] = lambda p, t: verify(
            parse(p.gold_value if p.answer_letter is None else p.answer_letter), parse(t)
        )
    except ImportError:
        print("math-verify: not installed (pip install 'math-verify[antlr4_13_2]')")
    # Rounds alternate between the judges and each keeps its best time, so a busy moment on a shared machine slows
    # one round of both rather than skewing the ratio.
    best = {name: (float("inf"), 0) for name in judges}
    for _ in range(ROUNDS):
        for name, fn in judges.items():
            best[name] = min(best[name], time_once(fn, pairs))
    rates = {name: len(pairs) / seconds for name, (seconds, _) in best.items()}
    for name, (_, correct) in best.items():
        print(f"{name + ':':<19}{rates[name]:,.0f} judged responses/s on one core ({correct} judged correct)")
    if "math-verify" in rates:
        print(f"speed-up: {rates['redstar-geo judge'] / rates['math-verify']:.1f}x")
    worst_ms, piece = worst_case([pairs[0][0], pairs[-1][0]])
    print(f"worst case: {worst_ms:.1f} ms for one judge call on a 100k-character repetition of {piece!r}")


if __name__ == "__main__":
    main()
