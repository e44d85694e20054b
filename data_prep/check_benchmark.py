"""Load a benchmark and report what is in it and what is wrong with it: counts, breakdowns, bad records, images.

Usage:

    python data_prep/check_benchmark.py --bench mathverse
    python data_prep/check_benchmark.py --bench geoqa --data /data/GeoQA/test_questions.jsonl --image_root /data/GeoQA
    python data_prep/check_benchmark.py --bench geometry3k --data hiyouga/geometry3k --split test --check_images false

Prints the report (see redstar_geo.benchmark_check). Exit status: 0 when the report is printed (bad records and
unreadable images are in it), 1 when the data cannot be read or holds no usable problem (one line ``error: ...``
naming the file), 2 for a bad option.
"""

import sys
from dataclasses import dataclass, field

from redstar_geo.benchmark_check import check_benchmark_data
from redstar_geo.benchmarks import BENCHMARKS
from redstar_geo.config import parse_config
from redstar_geo.jsonl import DataError


@dataclass
class CheckConfig:
    bench: str = field(metadata={"help": f"benchmark: {', '.join(BENCHMARKS)}"})
    data: str | None = field(default=None, metadata={"help": "file, directory or HF dataset id (default: bundled)"})
    image_root: str | None = field(default=None, metadata={"help": "directory that image paths are relative to"})
    split: str | None = field(default=None, metadata={"help": "dataset split, for Hugging Face datasets"})
    check_images: bool = field(default=True, metadata={"help": "open every image and report those that fail"})

    def __post_init__(self):
        if self.bench not in BENCHMARKS:
            raise ValueError(f"unknown --bench {self.bench!r}; known: {', '.join(BENCHMARKS)}")


def main():
    (config,) = parse_config(CheckConfig)  # a bad option: argparse's usage error, exit status 2
    try:
        report = check_benchmark_data(
            config.bench,
            data=config.data,
            image_root=config.image_root,
            split=config.split,
            images=config.check_images,
        )
    except (DataError, ImportError) as exc:  # unreadable data, or the extra that reads it is not installed
        sys.exit(f"error: {exc}")
    print(report)


if __name__ == "__main__":
    main()
