"""Generate a GeoSynth training set: verified GeoQA-style problems with rendered diagrams.

Usage:

    python data_prep/geosynth.py --n 10000 --seed 0 --out data/geosynth
    python data_prep/geosynth.py --n 10000 --seed 0 --out data/geosynth --language mixed --workers 2 \
        --hf_out data/geosynth_hf

Writes OUT/problems.jsonl and OUT/images/000000.png ..., read back by ``redstar_geo.benchmarks.geosynth``
(``load_geosynth(OUT)``), and prints counts by family, difficulty and variant. Seeds >= 10**9 are reserved for the
held-out ``geosynth`` benchmark; a --seed/--n that reaches them is refused.
"""

import logging
import time
from dataclasses import dataclass, field

from redstar_geo.config import parse_config
from redstar_geo.geosynth.dataset import export_hf, summarize, write_problem_set


@dataclass
class GeoSynthConfig:
    out: str = field(metadata={"help": "output directory (problems.jsonl + images/)"})
    n: int = field(default=10_000, metadata={"help": "number of problems"})
    seed: int = field(default=0, metadata={"help": "base seed; problem i uses seed * 1_000_003 + i"})
    language: str = field(default="en", metadata={"help": "en, zh, or mixed (one third Chinese)"})
    workers: int = field(default=0, metadata={"help": "processes; 0 = all cores"})
    hf_out: str = field(default=None, metadata={"help": "also save a Hugging Face dataset here (save_to_disk)"})

    def __post_init__(self):
        if self.language not in ("en", "zh", "mixed"):
            raise ValueError(f"--language must be en, zh or mixed, got {self.language!r}")
        if self.workers < 0:
            raise ValueError("--workers must be >= 0")


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (cfg,) = parse_config(GeoSynthConfig)
    start = time.perf_counter()
    try:
        problems = write_problem_set(cfg.out, cfg.n, cfg.seed, workers=cfg.workers or None, language=cfg.language)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if cfg.hf_out:
        export_hf(problems, cfg.hf_out, cfg.out)
    print(summarize(problems))
    print(f"wrote {cfg.out}/problems.jsonl in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
