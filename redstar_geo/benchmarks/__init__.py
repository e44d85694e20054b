"""Benchmarks by name: ``BENCHMARKS["geoqa"]`` is the unit declared in ``redstar_geo/benchmarks/geoqa.py``.

To add one, write a module with ``BENCHMARK = Benchmark(...)`` (see :mod:`redstar_geo.benchmarks.common`) and list
it here.
"""

from __future__ import annotations

from redstar_geo.benchmarks import geometry3k, geoqa, geosynth, mathverse, mathvista_geo
from redstar_geo.benchmarks.common import Benchmark, data_dir, format_prompt

BENCHMARKS: dict[str, Benchmark] = {
    unit.BENCHMARK.name: unit.BENCHMARK for unit in (geoqa, mathvista_geo, geometry3k, mathverse, geosynth)
}


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


__all__ = ["BENCHMARKS", "Benchmark", "data_dir", "format_prompt", "get_benchmark"]
