"""Convert an InternVL2 / InternVL2.5 checkpoint (OpenGVLab's remote-code format) into transformers' native InternVL.

Usage:

    pip install -e ".[train,convert]"
    python data_prep/convert_internvl2.py --source OpenGVLab/InternVL2-8B --out models/InternVL2-8B-hf
    python data_prep/convert_internvl2.py --source /path/to/InternVL2-8B --out models/InternVL2-8B-hf

The result loads with ``AutoModelForImageTextToText`` / ``AutoProcessor`` and no ``trust_remote_code``; it is what
``recipes/sft/redstar_geo_8b_internvl2.yaml`` trains and ``eval/run.py --model`` evaluates. About 16 GB of disk and a
few GB of memory for InternVL2-8B (one shard at a time). Nothing from the model repository is executed.

Exit status: 0 done; 2 a --source or --out that cannot be used (no checkpoint there, not an InternVL2 checkpoint,
an output directory already in use) or a bad option; 1 a checkpoint that cannot be converted (missing or unknown
weights, an unsupported tokenizer...) or a read/write failure. Errors are one line, ``error: ...``, on stderr.
"""

import logging
import sys
from dataclasses import dataclass, field

from redstar_geo.config import parse_config
from redstar_geo.convert_internvl2 import ConversionArgumentError, ConversionError, convert_internvl2


@dataclass
class ConvertConfig:
    source: str = field(metadata={"help": "InternVL2 checkpoint: local directory or hub id (OpenGVLab/InternVL2-8B)"})
    out: str = field(metadata={"help": "output directory for the native checkpoint (must not hold one already)"})
    revision: str = field(default=None, metadata={"help": "hub revision (branch, tag or commit) of --source"})
    max_shard_gb: float = field(default=5.0, metadata={"help": "size of each output safetensors shard, in GB"})

    def __post_init__(self):
        if self.max_shard_gb <= 0:
            raise ValueError(f"--max_shard_gb must be positive, got {self.max_shard_gb}")


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (config,) = parse_config(ConvertConfig)
    try:
        out = convert_internvl2(config.source, config.out, max_shard_gb=config.max_shard_gb, revision=config.revision)
    except ConversionArgumentError as exc:
        fail(str(exc), 2)
    except (ConversionError, OSError, ImportError) as exc:  # ImportError: require() names the extra to install
        fail(str(exc), 1)
    print(f"wrote {out}")


def fail(message: str, status: int) -> None:
    print(f"error: {message}".replace("\n", " "), file=sys.stderr)  # one line, however the message wraps
    sys.exit(status)


if __name__ == "__main__":
    main()
