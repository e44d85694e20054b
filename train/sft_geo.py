"""Supervised fine-tuning of a vision-language model on Long-CoT geometry traces (RedStar-Geo SFT stage).

Usage:

    python train/sft_geo.py                                   # tiny random Qwen2-VL on CPU, a few minutes
    python train/sft_geo.py --output_dir out --max_steps 5    # the default recipe, these flags on top
    python train/sft_geo.py --config recipes/sft/tiny_qwen2vl_cpu.yaml --max_steps 5 --learning_rate 1e-3
    python train/sft_geo.py --config recipes/sft/qwen25vl_7b_lora_1gpu.yaml --dataset data/sft/train.jsonl
    accelerate launch --config_file recipes/accelerate/zero3.yaml train/sft_geo.py \
        --config recipes/sft/redstar_geo_8b_internvl2.yaml

Options: the recipe's keys, overridden by flags (``--help`` lists them; an unknown key is an error): TRL's SFTConfig
(training) and ModelConfig (model_name_or_path, dtype, attn_implementation, use_peft and lora_*), and the data,
freezing and image-budget options of redstar_geo.sft.SFTScriptArguments. Without --config the recipe is
recipes/sft/tiny_qwen2vl_cpu.yaml, and any flags given apply on top of it. Writes the model, processor,
trainer_state.json and README.md (model card) to --output_dir; checkpoints go to OUTPUT_DIR/checkpoint-N. Resume an
interrupted run with the same options plus --resume_from_checkpoint auto (the last checkpoint in --output_dir; keep
max_steps as it was, so the learning-rate schedule continues unchanged).

Exit status: 0 done; 2 options that cannot work (unknown key, missing model, resume with nothing to resume...);
1 unusable data or a checkpoint that cannot be resumed. Errors are one line, ``error: ...``, on stderr.
"""

import logging
import sys
from pathlib import Path

from trl import ModelConfig

from redstar_geo.config import parse_config
from redstar_geo.jsonl import DataError
from redstar_geo.sft import SFTConfig, SFTScriptArguments, SFTSetupError, run_sft
from redstar_geo.training import CheckpointLoadError

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"


def fail(message: str, status: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    script_args, training_args, model_args = parse_config(
        SFTScriptArguments, SFTConfig, ModelConfig, default_config=DEFAULT_RECIPE
    )
    try:
        result = run_sft(script_args, training_args, model_args)
    except SFTSetupError as exc:
        fail(str(exc), 2)
    except (DataError, CheckpointLoadError) as exc:
        fail(str(exc), 1)
    if training_args.process_index != 0:  # under torchrun/accelerate: one summary, from the main process
        return
    print(result.data.format())
    print(f"trained {result.steps} steps in {result.seconds:.1f} s; loss {result.first_loss} -> {result.last_loss}")
    print(f"wrote {result.output_dir}")


if __name__ == "__main__":
    main()
