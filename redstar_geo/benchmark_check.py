"""Checking a benchmark's data: what is in it (counts, breakdowns) and what is wrong with it (bad records,
unreadable images), as a plain-text report.

Usage (``python data_prep/check_benchmark.py`` is the command-line front end)::

    from redstar_geo.benchmark_check import check_benchmark_data

    print(check_benchmark_data("mathverse"))                                   # the bundled copy
    print(check_benchmark_data("geoqa", data="/data/GeoQA/test_questions.jsonl", image_root="/data/GeoQA"))

Raises :class:`~redstar_geo.jsonl.DataError` when the data cannot be read or holds no usable problem.
"""

from __future__ import annotations

from collections import Counter

from redstar_geo.benchmarks import get_benchmark, load_benchmark
from redstar_geo.images import check_images
from redstar_geo.jsonl import IssueLog


def check_benchmark_data(
    name: str, data: str | None = None, image_root: str | None = None, split: str | None = None, images: bool = True
) -> str:
    """The report on benchmark ``name``'s problems from ``data`` (default: the bundled copy); ``images=False``
    skips opening every image."""
    bench = get_benchmark(name)
    data = bench.data_path(data)
    issues = IssueLog()
    problems = load_benchmark(name, data=data, image_root=image_root, split=split, issues=issues)
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
