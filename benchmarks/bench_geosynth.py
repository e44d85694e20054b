"""GeoSynth throughput: problems per second per core, PNG rendering and verification included.

Usage:

    python benchmarks/bench_geosynth.py              # 2,000 problems on one core, then 10,000 on all cores
    python benchmarks/bench_geosynth.py --n 500 --parallel_n 0

One core runs ``generate_problem`` in a loop (draft, re-solve, distractors, render, PNG encode); the parallel run
uses the CLI's own process pool without writing files.
"""

import os
import time
from dataclasses import dataclass, field

from redstar_geo.config import parse_config
from redstar_geo.geosynth import generate_problem, problem_seed
from redstar_geo.geosynth.dataset import generate_records


@dataclass
class BenchConfig:
    n: int = field(default=2000, metadata={"help": "problems for the one-core run"})
    parallel_n: int = field(default=10_000, metadata={"help": "problems for the all-cores run; 0 skips it"})
    workers: int = field(default=0, metadata={"help": "processes for the parallel run; 0 = all cores"})


def main():
    (cfg,) = parse_config(BenchConfig)
    start = time.perf_counter()
    png_bytes = 0
    for i in range(cfg.n):
        png_bytes += len(generate_problem(problem_seed(0, i)).image)
    one = time.perf_counter() - start
    print(
        f"one core: {cfg.n} problems in {one:.2f}s = {cfg.n / one:.0f} problems/s/core "
        f"(mean PNG {png_bytes / cfg.n / 1024:.1f} KiB)"
    )
    if cfg.parallel_n:
        workers = cfg.workers or os.cpu_count() or 1
        start = time.perf_counter()
        generate_records(cfg.parallel_n, 0, workers=workers, progress=False)
        wall = time.perf_counter() - start
        print(
            f"{workers} workers: {cfg.parallel_n} problems in {wall:.2f}s = {cfg.parallel_n / wall:.0f} problems/s "
            f"({cfg.parallel_n / wall / workers:.0f}/s/core)"
        )


if __name__ == "__main__":
    main()
