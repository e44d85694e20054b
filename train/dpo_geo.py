"""Preference optimisation (DPO) of a vision-language model on verified (chosen) / failed (rejected) Long-CoT pairs,
starting from an SFT checkpoint (RedStar-Geo's RL-scale stage).

Usage:

    python train/dpo_geo.py                                   # tiny Qwen2-VL on CPU: SFT's tiny default first if
                                                              # runs/sft-tiny is missing, then DPO; a minute or two
    python train/dpo_geo.py --output_dir out --max_steps 5    # the default recipe, these flags on top
    python train/dpo_geo.py --model_name_or_path runs/sft-tiny --dataset runs/synth-offline/dpo.jsonl
    python train/dpo_geo.py --config recipes/dpo/qwen25vl_7b_lora_1gpu.yaml --model_name_or_path runs/sft-qwen25vl-7b \
        --dataset data/synth/dpo.jsonl
    accelerate launch --config_file recipes/accelerate/zero3.yaml train/dpo_geo.py \
        --config recipes/dpo/redstar_geo_8b_internvl2.yaml

Options: the recipe's keys, overridden by flags (``--help`` lists them; an unknown key is an error): TRL's DPOConfig
(training; beta, loss_type, ld_alpha, ...; plus rpo_alpha, see redstar_geo.dpo) and ModelConfig (model_name_or_path:
the starting SFT checkpoint; dtype, attn_implementation, use_peft and lora_*), and the data, freezing and image-budget
options of redstar_geo.dpo.DPOScriptArguments. Without --config the recipe is recipes/dpo/tiny_qwen2vl_cpu.yaml, and
any flags given apply on top of it. Pairs longer than max_length (image + prompt + trace) are dropped and listed,
never truncated. Writes the model, processor, trainer_state.json (loss and rewards/margins per step) and README.md
(model card) to --output_dir; checkpoints go to OUTPUT_DIR/checkpoint-N. Resume an interrupted run with the same
options plus --resume_from_checkpoint auto.

Exit status: 0 done; 2 options that cannot work (unknown key, missing model or dataset, resume with nothing to
resume...); 1 unusable data or a checkpoint that cannot be resumed. Errors are one line, ``error: ...``, on stderr.
"""

import logging
import sys
from pathlib import Path

from trl import ModelConfig

from redstar_geo.config import parse_config
from redstar_geo.dpo import DPOConfig, DPOScriptArguments, reward_curve, run_dpo
from redstar_geo.jsonl import DataError
from redstar_geo.training import CheckpointLoadError, TrainingSetupError

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "dpo" / "tiny_qwen2vl_cpu.yaml"


def fail(message: str, status: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    script_args, training_args, model_args = parse_config(
        DPOScriptArguments, DPOConfig, ModelConfig, default_config=DEFAULT_RECIPE
    )
    try:
        result = run_dpo(script_args, training_args, model_args)
    except TrainingSetupError as exc:
        fail(str(exc), 2)
    except (DataError, CheckpointLoadError) as exc:
        fail(str(exc), 1)
    if training_args.process_index != 0:  # under torchrun/accelerate: one summary, from the main process
        return
    print(result.data.format())
    curve = reward_curve(result.log_history)
    margins = f"; reward margin {curve[0][2]:.3f} -> {curve[-1][2]:.3f}" if curve else ""
    losses = f"loss {result.first_loss} -> {result.last_loss}"
    print(f"trained {result.steps} steps in {result.seconds:.1f} s; {losses}{margins}")
    print(f"wrote {result.output_dir}")


if __name__ == "__main__":
    main()
