"""Build a tiny randomly initialised Qwen2-VL (model + processor) for offline tests and CPU smoke runs.

Usage:

    python data_prep/build_tiny_model.py --out runs/tiny-qwen2vl
    python data_prep/build_tiny_model.py --out runs/tiny-qwen2vl --hidden_size 128 --num_layers 4

Needs no network: the tokenizer is trained here on a bundled geometry corpus (redstar_geo.tiny_model). Reload the
result with ``AutoModelForImageTextToText.from_pretrained(OUT)`` and ``AutoProcessor.from_pretrained(OUT)``.

Exit status: 0 done; 2 a bad option (unknown arch, a hidden_size the heads cannot split, --out naming a file);
1 the model could not be written. Errors are one line, ``error: ...``, on stderr.
"""

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from redstar_geo.config import parse_config
from redstar_geo.tiny_model import TINY_ARCHS, build_tiny_model, check_shape


@dataclass
class TinyModelConfig:
    out: str = field(metadata={"help": "output directory"})
    arch: str = field(default="qwen2_vl", metadata={"help": f"architecture: {', '.join(TINY_ARCHS)}"})
    hidden_size: int = field(default=64, metadata={"help": "decoder width"})
    num_layers: int = field(default=2, metadata={"help": "decoder layers"})
    num_heads: int = field(default=4, metadata={"help": "attention heads; hidden_size / num_heads must be even"})
    vision_depth: int = field(default=2, metadata={"help": "vision transformer blocks"})
    seed: int = field(default=0, metadata={"help": "weight initialisation seed"})

    def __post_init__(self):
        # Checked here so a bad option is a usage error (exit 2) before anything is built.
        if self.arch not in TINY_ARCHS:
            raise ValueError(f"--arch {self.arch!r}: available: {', '.join(TINY_ARCHS)}")
        check_shape(self.hidden_size, self.num_heads)
        if self.num_layers < 1 or self.vision_depth < 1:
            raise ValueError("--num_layers and --vision_depth must be at least 1")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ValueError(f"--out {self.out}: exists and is not a directory")


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (config,) = parse_config(TinyModelConfig)
    try:
        out = build_tiny_model(
            config.out,
            arch=config.arch,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            num_heads=config.num_heads,
            vision_depth=config.vision_depth,
            seed=config.seed,
        )
    except OSError as exc:  # a read-only or full disk
        print(f"error: {config.out}: cannot write the model: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
