"""Supervised fine-tuning of a vision-language model on Long-CoT geometry traces, with TRL's ``SFTTrainer``.

Usage (what ``train/sft_geo.py`` does)::

    from redstar_geo.config import parse_config
    from redstar_geo.sft import SFTConfig, SFTScriptArguments, run_sft

    script_args, training_args = parse_config(SFTScriptArguments, SFTConfig)   # --config recipes/sft/x.yaml ...
    result = run_sft(script_args, training_args)

``SFTConfig`` is TRL's (a ``transformers.TrainingArguments``: learning_rate, num_train_epochs, bf16,
gradient_checkpointing, max_length, resume_from_checkpoint, report_to, ...); :class:`SFTScriptArguments` holds the
model, data, freezing and LoRA options. The loss covers the assistant's completion only (TRL's prompt-completion
collator masks the system/user prompt and the image tokens with -100). Samples longer than ``max_length`` are dropped
and counted before training, so the collator never truncates.

``padding_free: true`` (Qwen2-VL / Qwen2.5-VL) trains on padding-free packed batches: :class:`PackedVisionCollator`
concatenates the ``per_device_train_batch_size`` samples of a step into ONE row of their summed length, with
per-sample M-RoPE positions and attention kept inside each sample (:mod:`redstar_geo.packing`); the loss is the same
token-weighted mean as the padded batch's. ``max_length`` still bounds each sample, not the row. TRL's own
``packing`` (pre-tokenized text cut into ``max_length`` chunks) does not apply to image data and is an error.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer  # the `train` extra; this module is the training entry point
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from redstar_geo.import_utils import is_available, require
from redstar_geo.models import CONVERT_HINT, ModelLoadError, build_tiny_model, load_model_and_processor
from redstar_geo.packing import enable_varlen_attention, pack_samples
from redstar_geo.sft_data import SFTReport, load_and_validate, problems_to_samples, to_trl_dataset, validate_samples
from redstar_geo.training import CheckpointLoadError, ResumeMixin

logger = logging.getLogger(__name__)

# Parameter-name fragments of the vision encoder and of the vision->language projector, per architecture:
# Qwen2-VL/Qwen2.5-VL (visual.* / visual.merger), InternVL3-hf (vision_tower / multi_modal_projector),
# unconverted InternVL2 remote code (vision_model / mlp1).
VISION_TOWER_KEYS = ("visual.", "vision_tower.", "vision_model.")
PROJECTOR_KEYS = ("visual.merger.", "multi_modal_projector.", "mlp1.")
LORA_TARGETS = r".*(language_model|model\.layers).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
# Model types whose packed inputs (M-RoPE positions, varlen attention) redstar_geo.packing implements.
PACKED_MODEL_TYPES = ("qwen2_vl", "qwen2_5_vl")


class SFTSetupError(ValueError):
    """A training run that cannot start as configured; the message says what to change."""


class GeoSFTTrainer(ResumeMixin, SFTTrainer):
    """TRL's ``SFTTrainer`` whose ``resume_from_checkpoint`` loads the checkpoint's weights (see
    :class:`redstar_geo.training.ResumeMixin`); built by :func:`run_sft`."""


@dataclass
class SFTScriptArguments:
    """Model, data, freezing and LoRA options of ``train/sft_geo.py`` (training options are TRL's ``SFTConfig``)."""

    model_name_or_path: str = field(
        default="runs/tiny-qwen2vl",
        metadata={"help": "local checkpoint directory or hub id (Qwen2-VL, Qwen2.5-VL, InternVL3-hf, InternVL2)"},
    )
    build_tiny_model: bool = field(
        default=False,
        metadata={
            "help": "build a tiny random Qwen2-VL at model_name_or_path first when it does not exist "
            "(CPU smoke runs; see redstar_geo.models.build_tiny_model)"
        },
    )
    torch_dtype: str = field(default="auto", metadata={"help": "auto, bfloat16, float16 or float32"})
    attn_implementation: str | None = field(
        default=None, metadata={"help": "eager, sdpa or flash_attention_2 (default: the model's choice)"}
    )
    dataset: str = field(
        default="tests/assets/sft/train.jsonl",
        metadata={
            "help": "SFT data: a .jsonl/.json file (ours or ShareGPT/LLaMA-Factory), a saved dataset, a hub "
            "dataset id, or 'geosynth' for a generated set (needs redstar_geo.geosynth)"
        },
    )
    dataset_split: str = field(default="train", metadata={"help": "split of a Hugging Face dataset"})
    geosynth_count: int = field(default=32, metadata={"help": "problems to generate with --dataset geosynth"})
    max_samples: int | None = field(default=None, metadata={"help": "use only the first N valid samples"})
    image_max_pixels: int | None = field(
        default=None, metadata={"help": "cap on resized image pixels (Qwen2-VL processors); bounds image tokens"}
    )
    image_max_tiles: int | None = field(
        default=None,
        metadata={
            "help": "InternVL: at most this many 448-px tiles per image (plus a thumbnail), "
            "256 image tokens each; bounds image tokens"
        },
    )
    freeze_vision_tower: bool = field(default=False, metadata={"help": "do not train the vision encoder"})
    freeze_projector: bool = field(default=False, metadata={"help": "do not train the vision-language projector"})
    use_lora: bool = field(default=False, metadata={"help": "train LoRA adapters on the language model (PEFT)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default=LORA_TARGETS, metadata={"help": "regex of the modules that get adapters (default: LM projections)"}
    )

    def __post_init__(self):
        if self.torch_dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise ValueError(f"--torch_dtype {self.torch_dtype!r}: use auto, bfloat16, float16 or float32")
        if self.use_lora and self.lora_r <= 0:
            raise ValueError("--lora_r must be positive")


@dataclass
class SFTResult:
    output_dir: str
    train_loss: float
    first_loss: float | None
    last_loss: float | None
    steps: int
    seconds: float
    data: SFTReport


def resolve_report_to(report_to) -> list[str]:
    """``auto`` -> the installed ones of tensorboard and wandb (none when neither is)."""
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    if names in (["auto"], ["all"]):
        return [name for name in ("tensorboard", "wandb") if is_available(name)]
    return [name for name in names if name != "none"]


@dataclass
class PackedVisionCollator:
    """TRL dataset rows (images, prompt, completion) -> ONE padding-free packed row for Qwen2-VL / Qwen2.5-VL.

    Each row is tokenized alone by TRL's vision prompt-completion collator: a batch of one has no padding, so chat
    template, image-token expansion and labels (-100 on prompt and image tokens) are exactly TRL's. The samples are
    then concatenated by :func:`redstar_geo.packing.pack_samples`; the model needs
    :func:`redstar_geo.packing.enable_varlen_attention`.
    """

    processor: Any
    model_config: Any
    max_length: int | None = None

    def __post_init__(self):
        self.single = DataCollatorForVisionLanguageModeling(
            self.processor, max_length=self.max_length, completion_only_loss=True
        )

    def tokenize(self, example: dict) -> dict:
        """One row as an unbatched sample: ``input_ids``/``labels`` (L,), ``pixel_values``, ``image_grid_thw``."""
        out = self.single([dict(example)])  # a copy: TRL's collator rewrites the row's keys in place
        sample = {"input_ids": out["input_ids"][0], "labels": out["labels"][0]}
        if "image_grid_thw" in out:
            sample["pixel_values"] = out["pixel_values"]  # (patches, C·T·P·P)
            sample["image_grid_thw"] = out["image_grid_thw"]  # (n_images, 3)
        return sample

    def __call__(self, examples: list[dict]) -> dict:
        batch = pack_samples([self.tokenize(example) for example in examples], self.model_config)
        # An all-ones (1, T) mask instead of pack_samples' per-layer mapping: TRL counts a step's tokens with
        # attention_mask.sum(), and the varlen mask function turns an unpadded row into per-sample attention.
        batch["attention_mask"] = torch.ones_like(batch["input_ids"])
        return batch


def freeze_modules(model, vision_tower: bool, projector: bool) -> None:
    """Turn off gradients of the vision tower and/or the projector (matched by parameter name)."""
    for name, param in model.named_parameters():
        is_projector = any(key in name for key in PROJECTOR_KEYS)
        is_vision = not is_projector and any(key in name for key in VISION_TOWER_KEYS)
        if (vision_tower and is_vision) or (projector and is_projector):
            param.requires_grad_(False)


def _load_samples(script_args: SFTScriptArguments, processor, max_length: int | None, seed: int):
    if script_args.dataset == "geosynth":
        if not is_available("redstar_geo.geosynth"):
            raise SFTSetupError("--dataset geosynth needs redstar_geo.geosynth, which this checkout does not have")
        from redstar_geo import geosynth

        generate = getattr(geosynth, "generate", None)
        if generate is None:
            raise SFTSetupError(
                "redstar_geo.geosynth has no generate(count) yet; write an SFT file with "
                "redstar_geo.sft_data.problems_to_samples + write_sft_jsonl and pass it as --dataset"
            )
        problems = generate(script_args.geosynth_count, base_seed=seed)
        return validate_samples(problems_to_samples(problems, "steps"), processor, max_length)
    return load_and_validate(script_args.dataset, processor, max_length, split=script_args.dataset_split)


def resolve_resume(resume: str | None, output_dir: str) -> str | None:
    """``--resume_from_checkpoint`` as a checkpoint directory (``auto``: the last ``checkpoint-N`` in ``output_dir``),
    or ``None``; raises :class:`SFTSetupError` when there is none to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume in ("auto", "true", "True", "last"):
        if not Path(output_dir).is_dir():  # get_last_checkpoint would die on os.listdir with a traceback
            raise SFTSetupError(
                f"--resume_from_checkpoint {resume}: the output directory {output_dir} does not exist, so there is "
                "no checkpoint to resume from"
            )
        last = get_last_checkpoint(output_dir)
        if last is None:
            raise SFTSetupError(f"--resume_from_checkpoint {resume}: no checkpoint-* directory in {output_dir}")
        return last
    if resume is not None and not Path(resume).is_dir():
        raise SFTSetupError(f"--resume_from_checkpoint {resume}: no such checkpoint directory")
    return resume


def run_sft(script_args: SFTScriptArguments, training_args: SFTConfig) -> SFTResult:
    """Load the model and data, train, and save model + processor + model card to ``training_args.output_dir``.

    ``training_args.resume_from_checkpoint``: a ``checkpoint-N`` directory, or ``auto`` for the last one in
    ``output_dir``; weights, optimizer, scheduler, RNG and data position continue from there.
    """
    resume = resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    model_path = Path(script_args.model_name_or_path)
    if script_args.build_tiny_model:
        # Under torchrun/accelerate only global rank 0 can build it (save_pretrained writes weights on rank 0 alone,
        # and concurrent builders would race); the other ranks wait, then load it.
        with training_args.main_process_first(local=False, desc="building the tiny model"):
            if not (model_path / "config.json").is_file():
                build_tiny_model(model_path)
    if training_args.packing:
        # TRL's packing cuts a pre-tokenized text dataset into max_length chunks; TRL rejects it for image datasets.
        raise SFTSetupError(
            "packing: true is not supported for image datasets; use padding_free: true, which packs "
            "the per_device_train_batch_size samples of each step into one row"
        )
    padding_free = training_args.padding_free
    try:
        model, processor = load_model_and_processor(
            script_args.model_name_or_path,
            trust_remote_code=training_args.trust_remote_code,
            torch_dtype=script_args.torch_dtype,
            attn_implementation=script_args.attn_implementation,
        )
    except ModelLoadError as exc:
        raise SFTSetupError(str(exc)) from None
    if padding_free and model.config.model_type not in PACKED_MODEL_TYPES:
        raise SFTSetupError(
            f"padding_free: true is implemented for model types {', '.join(PACKED_MODEL_TYPES)} "
            f"(Qwen2-VL, Qwen2.5-VL), not {model.config.model_type!r}; set padding_free: false"
        )
    if not hasattr(processor, "image_processor"):
        # InternVL2's remote code has a tokenizer and its own tiling code but no HF processor, which TRL's vision
        # collator needs to expand image tokens; the converted checkpoint has one.
        raise SFTSetupError(
            f"{script_args.model_name_or_path}: has no multimodal processor (remote-code InternVL2); "
            f"convert it to transformers' native InternVL first: {CONVERT_HINT}"
        )
    set_image_budget(processor, script_args.image_max_pixels, script_args.image_max_tiles)

    samples, report = _load_samples(script_args, processor, training_args.max_length, training_args.seed)
    logger.info("%s", report.format())
    if script_args.max_samples is not None:
        samples = samples[: script_args.max_samples]
    if not samples:
        raise SFTSetupError(f"no usable training samples in {script_args.dataset}:\n{report.format()}")
    train_dataset = to_trl_dataset(samples)

    freeze_modules(model, script_args.freeze_vision_tower, script_args.freeze_projector)
    peft_config = None
    if script_args.use_lora:
        peft = require("peft", extra="train", feature="LoRA training")
        peft_config = peft.LoraConfig(
            r=script_args.lora_r,
            lora_alpha=script_args.lora_alpha,
            lora_dropout=script_args.lora_dropout,
            target_modules=script_args.lora_target_modules,
            task_type="CAUSAL_LM",
        )

    training_args.report_to = resolve_report_to(training_args.report_to)
    # Prompt-completion data + completion_only_loss: only the assistant's tokens carry loss.
    training_args.completion_only_loss = True
    data_collator = None
    if padding_free:
        enable_varlen_attention(model)
        data_collator = PackedVisionCollator(processor, model.config, training_args.max_length)
        # TRL rejects padding_free for image datasets; our collator does the packing, so TRL sets up with it off.
        training_args.padding_free = False
    trainer = GeoSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=processor,
        peft_config=peft_config,
        data_collator=data_collator,
    )
    training_args.padding_free = padding_free  # as configured in saved checkpoints and the model card
    # Counted on the trainer's model: with LoRA only the adapters are trainable.
    counts = {
        "trainable": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "frozen": sum(p.numel() for p in trainer.model.parameters() if not p.requires_grad),
    }
    logger.info("parameters: %(trainable)d trainable, %(frozen)d frozen", counts)
    start = time.perf_counter()
    try:
        output = trainer.train(resume_from_checkpoint=resume)
    except CheckpointLoadError as exc:
        raise SFTSetupError(f"cannot resume: {exc}") from None
    seconds = time.perf_counter() - start
    trainer.save_model(training_args.output_dir)
    trainer.save_state()  # trainer_state.json (loss curve) next to the final weights
    if trainer.is_world_process_zero():
        processor.save_pretrained(training_args.output_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    result = SFTResult(
        output_dir=training_args.output_dir,
        train_loss=output.training_loss,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        steps=trainer.state.global_step,
        seconds=seconds,
        data=report,
    )
    if trainer.is_world_process_zero():
        write_model_card(Path(training_args.output_dir), script_args, training_args, result, counts)
    return result


def set_image_budget(processor, max_pixels: int | None, max_tiles: int | None) -> None:
    """Bound the image tokens per sample: a pixel cap for Qwen2-VL-style processors, a tile cap for InternVL's."""
    image_processor = processor.image_processor
    if max_pixels is not None:
        if not hasattr(image_processor, "max_pixels"):
            raise SFTSetupError(
                f"image_max_pixels applies to Qwen2-VL-style processors, not "
                f"{type(image_processor).__name__}; for InternVL use image_max_tiles"
            )
        image_processor.max_pixels = max_pixels
        image_processor.size["longest_edge"] = max_pixels
    if max_tiles is not None:
        if not hasattr(image_processor, "max_patches"):
            raise SFTSetupError(
                f"image_max_tiles applies to InternVL's tiling processor, not "
                f"{type(image_processor).__name__}; for Qwen2-VL use image_max_pixels"
            )
        image_processor.max_patches = max_tiles


def write_model_card(out: Path, script_args: SFTScriptArguments, training_args, result: SFTResult, counts) -> Path:
    """``OUT/README.md``: base model, data and what was dropped, key hyperparameters, the loss curve's ends."""
    keys = (
        "learning_rate",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "max_length",
        "padding_free",
        "bf16",
        "gradient_checkpointing",
        "lr_scheduler_type",
        "warmup_steps",
        "weight_decay",
        "seed",
    )
    hyper = {k: getattr(training_args, k) for k in keys}
    hyper["lr_scheduler_type"] = str(hyper["lr_scheduler_type"])
    first = "n/a" if result.first_loss is None else f"{result.first_loss:.4f}"
    last = "n/a" if result.last_loss is None else f"{result.last_loss:.4f}"
    card = f"""---
base_model: {script_args.model_name_or_path}
library_name: {"peft" if script_args.use_lora else "transformers"}
tags: [redstar-geo, sft, geometry, long-cot, trl]
---

# RedStar-Geo SFT checkpoint

Fine-tuned from `{script_args.model_name_or_path}` with `train/sft_geo.py` (TRL `SFTTrainer`, loss on the assistant
completion only) on `{script_args.dataset}`.

- Data: {result.data.kept} of {result.data.total} samples used; dropped: {dict(result.data.dropped) or "none"}
- Training: {result.steps} steps in {result.seconds:.0f} s; logged loss {first} -> {last}
- Trainable parameters: {counts["trainable"]:,} (frozen: {counts["frozen"]:,}); vision tower frozen:
  {script_args.freeze_vision_tower}; projector frozen: {script_args.freeze_projector}; LoRA: {script_args.use_lora}

## Hyperparameters

```json
{json.dumps(hyper, indent=2)}
```

## Script arguments

```json
{json.dumps(asdict(script_args), indent=2)}
```
"""
    path = out / "README.md"
    path.write_text(card, encoding="utf-8")
    return path
