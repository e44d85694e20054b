"""Build a tiny randomly initialised Qwen2-VL (model + processor) for offline tests and CPU smoke runs.

Usage:

    python data_prep/build_tiny_model.py --out runs/tiny-qwen2vl
    python data_prep/build_tiny_model.py --out runs/tiny-qwen2vl --hidden_size 128 --num_layers 4

Needs no network: the tokenizer is trained here on a bundled geometry corpus. Reload the result with
``AutoModelForImageTextToText.from_pretrained(OUT)`` and ``AutoProcessor.from_pretrained(OUT)``.
"""

import logging
from dataclasses import dataclass, field

from redstar_geo.config import parse_config
from redstar_geo.models import build_tiny_model


@dataclass
class TinyModelConfig:
    out: str = field(metadata={"help": "output directory"})
    arch: str = field(default="qwen2_vl", metadata={"help": "architecture (qwen2_vl)"})
    hidden_size: int = field(default=64, metadata={"help": "decoder width"})
    num_layers: int = field(default=2, metadata={"help": "decoder layers"})
    vision_depth: int = field(default=2, metadata={"help": "vision transformer blocks"})
    seed: int = field(default=0, metadata={"help": "weight initialisation seed"})


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (config,) = parse_config(TinyModelConfig)
    out = build_tiny_model(
        config.out,
        arch=config.arch,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        vision_depth=config.vision_depth,
        seed=config.seed,
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
