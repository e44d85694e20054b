"""Generate a GeoSynth training set: verified GeoQA-style problems with rendered diagrams.

Usage:

    python data_prep/geosynth.py --n 10000 --seed 0 --out data/geosynth
    python data_prep/geosynth.py --n 10000 --seed 0 --out data/geosynth --language mixed --workers 2 \
        --hf_out data/geosynth_hf

Writes OUT/problems.jsonl and OUT/images/000000.png ..., read back by ``redstar_geo.benchmarks.geosynth``
(``load_geosynth(OUT)``), and prints counts by family, difficulty and variant. Seeds >= 10**9 are reserved for the
held-out ``geosynth`` benchmark; a --seed/--n that reaches them is refused.

Errors: a bad option (--language, --workers, a --seed/--n that reaches the held-out seeds) and an output directory
that cannot be written (--out, --hf_out) are found before anything is generated; each exits with status 2 and one
``error:`` line naming the option. A write that fails later (a full disk) exits with status 1.
"""

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from redstar_geo.config import parse_config
from redstar_geo.geosynth.dataset import check_training_seeds, describe_problem_set, export_hf, write_problem_set
from redstar_geo.import_utils import require

USAGE_ERROR = 2  # argparse's status for a bad command line


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
        try:
            check_training_seeds(self.n, self.seed)
        except ValueError as exc:
            raise ValueError(f"--n/--seed: {exc}") from None


def usage_error(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def check_directory(path: str | Path, option: str) -> None:
    """Stop with a usage error naming ``option`` when ``path`` exists and is no directory."""
    if Path(path).exists() and not Path(path).is_dir():
        usage_error(f"{option} {path}: exists and is not a directory")


def create_directory(path: str | Path, option: str) -> None:
    """Create the directory ``path`` (with its parents) or stop with a usage error naming ``option``."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked_at = "" if exc.filename in (None, str(path)) else f" ({exc.filename})"
        usage_error(f"{option} {path}: cannot create the directory{blocked_at}: {exc.strerror or exc}")
    if not os.access(path, os.W_OK | os.X_OK):
        usage_error(f"{option} {path}: directory is not writable")


def prepare_outputs(cfg: GeoSynthConfig) -> None:
    """Check and create what --out and --hf_out need before anything is generated, so an unusable output fails in
    a second rather than after the whole run; nothing is created unless every check passes that can be made
    without creating it."""
    outputs = [(cfg.out, "--out"), (Path(cfg.out, "images"), "--out")]
    if cfg.hf_out:
        outputs.append((cfg.hf_out, "--hf_out"))
    for path, option in outputs:
        check_directory(path, option)
    if Path(cfg.out, "problems.jsonl").is_dir():
        usage_error(f"--out {cfg.out}: {Path(cfg.out, 'problems.jsonl')} is a directory")
    if cfg.hf_out:
        try:
            require("datasets", extra="train", feature="--hf_out")
        except ImportError as exc:
            usage_error(str(exc))
    for path, option in outputs:
        create_directory(path, option)


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (cfg,) = parse_config(GeoSynthConfig)  # a bad option exits here, with status 2
    prepare_outputs(cfg)
    start = time.perf_counter()
    try:
        problems = write_problem_set(cfg.out, cfg.n, cfg.seed, workers=cfg.workers or None, language=cfg.language)
        if cfg.hf_out:
            export_hf(problems, cfg.hf_out, cfg.out)
    except ValueError as exc:  # the library's word for a request it refuses; the options were checked above
        usage_error(str(exc))
    except OSError as exc:
        sys.exit(f"error: writing {exc.filename or cfg.out}: {exc.strerror or exc}")
    print(describe_problem_set(problems))
    print(f"wrote {cfg.out}/problems.jsonl in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
