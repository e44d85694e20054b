"""A plain-text report on a benchmark's records: counts, breakdowns, bad records and unreadable images."""

from __future__ import annotations

from collections import Counter

from redstar_geo.benchmarks import get_benchmark
from redstar_geo.images import check_images
from redstar_geo.jsonl import IssueLog


def benchmark_report(
    name: str, data: str | None = None, image_root: str | None = None, split: str | None = None, images: bool = True
) -> str:
    bench = get_benchmark(name)
    data = data or bench.default_path
    issues = IssueLog()
    problems = bench.load(data, image_root, issues, split=split)
    lines = [f"{name}: {len(problems)} problems from {data}"]
    for label, counter in [
        ("answer types", Counter(p.answer_type for p in problems)),
        ("languages", Counter(p.language for p in problems)),
        ("choices per problem", Counter(len(p.choices) for p in problems)),
        ("with an image", Counter(p.image is not None for p in problems)),
    ]:
        lines.append(f"  {label}: " + ", ".join(f"{k}={v}" for k, v in sorted(counter.items(), key=str)))
    for key in bench.breakdowns:
        counter = Counter(p.group_value(key) for p in problems)
        lines.append(f"  by {key}: " + ", ".join(f"{k}={v}" for k, v in sorted(counter.items())))
    lines.append(f"  bad records: {len(issues)}")
    lines.extend(f"    {issue}" for issue in issues)
    if images:
        errors = check_images(problems)
        lines.append(f"  unreadable images: {len(errors)}")
        lines.extend(f"    {message}" for message in errors.values())
    return "\n".join(lines)
