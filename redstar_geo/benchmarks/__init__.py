"""Benchmarks by name: ``BENCHMARKS["geoqa"]`` is the unit declared in ``redstar_geo/benchmarks/geoqa.py``.

Usage::

    from redstar_geo.benchmarks import get_benchmark, load_benchmark

    problems = load_benchmark("geoqa")                                   # the bundled copy
    problems = load_benchmark("geometry3k", data="hiyouga/geometry3k", split="test", limit=100, issues=issues)
    prompt = get_benchmark("geoqa").prompt(problems[0], "choice")

To add one, write a module with ``BENCHMARK = Benchmark(...)`` (see :mod:`redstar_geo.benchmarks.common`) and list
it here.
"""

from __future__ import annotations

from redstar_geo.benchmarks import geometry3k, geoqa, geosynth, mathverse, mathvista_geo
from redstar_geo.benchmarks.common import Benchmark, data_dir, format_prompt
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem

BENCHMARKS: dict[str, Benchmark] = {
    unit.BENCHMARK.name: unit.BENCHMARK for unit in (geoqa, mathvista_geo, geometry3k, mathverse, geosynth)
}


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def load_benchmark(
    name: str,
    data: str | None = None,
    image_root: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    issues: IssueLog | None = None,
) -> list[Problem]:
    """The problems of benchmark ``name``, in file order.

    ``data``: a file, a benchmark's standard directory or a Hugging Face dataset id (default: the bundled copy,
    ``get_benchmark(name).default_path``); ``image_root``: the directory image paths are relative to; ``split``: the
    dataset split (Hugging Face datasets); ``limit``: keep only the first N problems. Bad records go to ``issues``
    (pass an :class:`IssueLog` to list them; each is also logged) and never stop the load. Raises :class:`DataError`
    when the data cannot be read or yields no problem at all (naming the first issues), ``KeyError`` for an unknown
    name.
    """
    bench = get_benchmark(name)
    data = bench.data_path(data)
    issues = IssueLog() if issues is None else issues
    problems = bench.load(data, image_root, issues, split=split)
    if not problems:
        first = "".join(f"\n  {issue}" for issue in issues[:3]) + ("\n  ..." if len(issues) > 3 else "")
        raise DataError(f"{data}: no {name} problems could be loaded" + (f"; issues:{first}" if issues else ""))
    return problems[:limit] if limit else problems


__all__ = ["BENCHMARKS", "Benchmark", "data_dir", "format_prompt", "get_benchmark", "load_benchmark"]
