"""Load a benchmark and report what is in it and what is wrong with it: counts, breakdowns, bad records, images.

Usage:

    python data_prep/check_benchmark.py --bench mathverse
    python data_prep/check_benchmark.py --bench geoqa --data /data/GeoQA/test_questions.jsonl --image_root /data/GeoQA
    python data_prep/check_benchmark.py --bench geometry3k --data hiyouga/geometry3k --split test --check_images false
"""

from dataclasses import dataclass, field

from redstar_geo.benchmarks import BENCHMARKS
from redstar_geo.config import parse_config
from redstar_geo.data_report import benchmark_report


@dataclass
class CheckConfig:
    bench: str = field(metadata={"help": f"benchmark: {', '.join(BENCHMARKS)}"})
    data: str | None = field(default=None, metadata={"help": "file, directory or HF dataset id (default: bundled)"})
    image_root: str | None = field(default=None, metadata={"help": "directory that image paths are relative to"})
    split: str | None = field(default=None, metadata={"help": "dataset split, for Hugging Face datasets"})
    check_images: bool = field(default=True, metadata={"help": "open every image and report those that fail"})


def main():
    (config,) = parse_config(CheckConfig)
    print(benchmark_report(config.bench, config.data, config.image_root, config.split, config.check_images))


if __name__ == "__main__":
    main()
