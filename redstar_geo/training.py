"""Training setup steps shared by the project's trainers (SFT now, DPO next), and resuming that really loads.

Usage (what :func:`redstar_geo.sft.run_sft` does; a DPO script calls the same steps around TRL's ``DPOTrainer``)::

    from trl import ModelConfig
    from redstar_geo import training

    # script_args: a VLMScriptArguments subclass; model_args: TRL's ModelConfig; training_args: TRL's SFTConfig...
    resume = training.resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    training.check_model_args(model_args)
    training.setup_tiny_model(model_args, script_args, training_args)     # --build_tiny_model: CPU smoke runs
    model, processor = training.setup_model(model_args, training_args)
    training.setup_processor(processor, model_args, script_args)          # multimodal check + image-token budget
    training.freeze_modules(model, script_args.freeze_vision_tower, script_args.freeze_projector)
    peft_config = training.setup_peft(model_args)                         # LoRA on the LM by default, or None
    trainer = MyTrainer(model=model, args=training_args, peft_config=peft_config, ...)   # ResumeMixin first
    result = training.train_and_save(trainer, processor, resume, data_report)
    training.write_model_card(out, stage="dpo", method="...", dataset=..., model_args=..., ...)

Every step raises :class:`TrainingSetupError` (a message naming the option to change) for a run that cannot start as
configured.

Resuming: ``class MyTrainer(ResumeMixin, SFTTrainer)`` (or ``DPOTrainer``, or ``transformers.Trainer``); the mixin goes
first so its ``_load_from_checkpoint`` / ``_load_best_model`` win. With full weights (no DeepSpeed, FSDP or PEFT)
they load ``model.safetensors`` (or the shards of ``model.safetensors.index.json``) the way ``from_pretrained`` would,
and raise :class:`CheckpointLoadError` when any parameter of the model is not in the checkpoint, instead of training
on from the base weights. :func:`load_checkpoint_weights` is the same load on its own. With PEFT, transformers' own
adapter loading is kept and then checked tensor by tensor against ``adapter_model.safetensors``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from redstar_geo.import_utils import is_available
from redstar_geo.models import CONVERT_HINT, ModelLoadError, load_model_and_processor
from redstar_geo.tiny_model import build_tiny_model

logger = logging.getLogger(__name__)

SAFE_WEIGHTS = "model.safetensors"
SAFE_WEIGHTS_INDEX = "model.safetensors.index.json"
ADAPTER_SAFE_WEIGHTS = "adapter_model.safetensors"


class CheckpointLoadError(RuntimeError):
    """A checkpoint whose weights do not fill the model; the message names what is missing."""


def checkpoint_key_renamer(model, saved_keys: list[str]) -> dict[str, str]:
    """``{saved key: the model's parameter name}`` for the keys of a ``save_pretrained`` checkpoint.

    transformers 5 saves in the original layout of the model family (``revert_weight_conversion``: Qwen2-VL's
    ``visual.*`` / ``model.layers.*``) while the modules are named ``model.visual.*`` / ``model.language_model.*``;
    ``from_pretrained`` renames on load, ``Trainer._load_from_checkpoint`` does not (huggingface/transformers#43701).
    """
    # These are transformers' semi-private loading internals (5.x): the very rename from_pretrained applies, so a
    # checkpoint resumes exactly as it would reload. Kept in this one function so a transformers upgrade that moves
    # them breaks here, loudly, and nowhere else.
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, dot_natural_key, rename_source_key

    transforms = get_model_conversion_mapping(model) if hasattr(model, "config") else []
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    own = model.state_dict()
    prefix = getattr(model, "base_model_prefix", None) or None
    mapping = {}
    # Sorted like from_pretrained: a group rename is switched on by the first key of its group.
    for key in sorted(saved_keys, key=dot_natural_key):
        renamed, converter_pattern = rename_source_key(key, renamings, converters, prefix, own)
        if renamed not in own and key in own:  # from_pretrained's fallback: the key was already the model's name
            renamed, converter_pattern = key, None
        if converter_pattern is not None:
            # A converter (fused MoE experts, split qkv...) reshapes tensors; no model trained here needs one.
            raise CheckpointLoadError(
                f"{key}: this checkpoint needs transformers' weight conversion {converter_pattern!r} to load, which "
                "resuming does not implement; reload the checkpoint with from_pretrained instead"
            )
        mapping[key] = renamed
    return mapping


def _shards(checkpoint: Path) -> list[Path]:
    index = checkpoint / SAFE_WEIGHTS_INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return [checkpoint / name for name in sorted(set(weight_map.values()))]
    return [checkpoint / SAFE_WEIGHTS]


def has_full_weights(checkpoint: str | Path) -> bool:
    """Whether ``checkpoint`` holds full model weights in safetensors (one file or an index of shards)."""
    return (Path(checkpoint) / SAFE_WEIGHTS).is_file() or (Path(checkpoint) / SAFE_WEIGHTS_INDEX).is_file()


def load_checkpoint_weights(model, checkpoint: str | Path) -> None:
    """Load the full weights ``save_pretrained`` wrote to ``checkpoint`` into ``model``, in place.

    Keys are renamed to the model's own names as ``from_pretrained`` would; shards are read one at a time. Raises
    :class:`CheckpointLoadError` when a parameter or buffer of the model is still missing afterwards (a tied weight
    such as ``lm_head`` counts as loaded with its twin).
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    checkpoint = Path(checkpoint)
    shards = _shards(checkpoint)
    for shard in shards:
        if not shard.is_file():
            raise CheckpointLoadError(f"{shard}: listed in the checkpoint but missing")
    saved_keys = []
    for shard in shards:
        with safe_open(str(shard), framework="pt") as f:
            saved_keys.extend(f.keys())
    rename = checkpoint_key_renamer(model, saved_keys)
    loaded, unexpected = set(), []
    for shard in shards:
        state = {rename[k]: v for k, v in load_file(str(shard), device="cpu").items()}
        result = model.load_state_dict(state, strict=False)
        unexpected.extend(result.unexpected_keys)
        loaded.update(set(state) - set(result.unexpected_keys))
        del state
    expected = model.state_dict()
    # Tied weights (lm_head = embed_tokens) are one tensor saved under one name.
    loaded_storage = {expected[k].data_ptr() for k in loaded if k in expected}
    missing = [k for k in expected if k not in loaded and expected[k].data_ptr() not in loaded_storage]
    if missing:
        raise CheckpointLoadError(
            f"{checkpoint}: {len(missing)} of the model's {len(expected)} weights are not in the checkpoint "
            f"(e.g. {', '.join(missing[:3])}); checkpoint keys not matched: {unexpected[:3] or 'none'}. "
            "Refusing to train on from the base model's values."
        )
    if unexpected:
        logger.warning(
            "%s: ignored %d checkpoint keys the model has no place for: %s",
            checkpoint,
            len(unexpected),
            unexpected[:5],
        )
    logger.info("loaded %d weights from %s", len(loaded), checkpoint)


def _is_peft(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def verify_adapter_loaded(model, checkpoint: str | Path) -> None:
    """Raise :class:`CheckpointLoadError` unless ``model``'s active adapter equals ``adapter_model.safetensors``."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(checkpoint) / ADAPTER_SAFE_WEIGHTS
    saved = load_file(str(path), device="cpu")
    current = get_peft_model_state_dict(model, adapter_name=model.active_adapters[0])
    differ = [
        k for k, v in saved.items() if k not in current or not torch.equal(current[k].cpu(), v.to(current[k].dtype))
    ]
    absent = [k for k in current if k not in saved]
    if differ or absent:
        raise CheckpointLoadError(
            f"{path}: the adapter did not load ({len(differ)} saved tensors differ from the model's, e.g. "
            f"{differ[:3]}; {len(absent)} adapter weights not in the file, e.g. {absent[:3]})"
        )


class ResumeMixin:
    """Trainer mixin: resume (and ``load_best_model_at_end``) load the checkpoint's weights, or raise.

    Put it before the trainer class: ``class MyTrainer(ResumeMixin, SFTTrainer)``. DeepSpeed and FSDP keep their
    own checkpoint formats and loaders; PEFT adapters load through transformers and are then verified.
    """

    def _plain_weights(self, model, checkpoint) -> bool:
        from transformers.utils import is_sagemaker_mp_enabled

        if self.is_deepspeed_enabled or self.is_fsdp_enabled or is_sagemaker_mp_enabled():
            return False
        return not _is_peft(model) and has_full_weights(checkpoint)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        if self._plain_weights(model, resume_from_checkpoint):
            logger.info("loading model weights from %s", resume_from_checkpoint)
            load_checkpoint_weights(model, resume_from_checkpoint)
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        if _is_peft(model) and (Path(resume_from_checkpoint) / ADAPTER_SAFE_WEIGHTS).is_file():
            verify_adapter_loaded(model, resume_from_checkpoint)

    def _load_best_model(self) -> None:
        best = self.state.best_model_checkpoint
        if self._plain_weights(self.model, best):
            logger.info("loading the best model from %s (score: %s)", best, self.state.best_metric)
            load_checkpoint_weights(self.model, best)
            return
        super()._load_best_model()


# ---------------------------------------------------------------------------------------------------------------------
# Setup steps


# Parameter-name fragments of the vision encoder and of the vision->language projector, per architecture:
# Qwen2-VL/Qwen2.5-VL (visual.* / visual.merger), InternVL3-hf (vision_tower / multi_modal_projector),
# unconverted InternVL2 remote code (vision_model / mlp1).
VISION_TOWER_KEYS = ("visual.", "vision_tower.", "vision_model.")
PROJECTOR_KEYS = ("visual.merger.", "multi_modal_projector.", "mlp1.")
# LoRA's modules when --lora_target_modules is not given: the language model's projections (a regex; PEFT matches
# the whole module name), so neither the vision tower nor the projector gets adapters.
LORA_TARGETS = r".*(language_model|model\.layers).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
DTYPES = ("auto", "bfloat16", "float16", "float32")


class TrainingSetupError(ValueError):
    """A training run that cannot start as configured; the message says what to change."""


@dataclass
class VLMScriptArguments:
    """Options every trainer here shares besides TRL's ``ModelConfig`` and its trainer config: the tiny-model build,
    freezing and the image-token budget. A trainer's script arguments subclass it and add their data options."""

    build_tiny_model: bool = field(
        default=False,
        metadata={
            "help": "build a tiny random Qwen2-VL at model_name_or_path first when it does not exist "
            "(CPU smoke runs; see redstar_geo.tiny_model.build_tiny_model)"
        },
    )
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


@dataclass
class TrainingResult:
    """What :func:`train_and_save` returns: the run's losses, size and timing, and the data report it trained on."""

    output_dir: str
    train_loss: float
    first_loss: float | None
    last_loss: float | None
    steps: int
    seconds: float
    data: Any  # the data loader's report: .kept, .total, .dropped, .format() (redstar_geo.sft_data.SFTReport)
    trainable_parameters: int = 0
    frozen_parameters: int = 0
    log_history: list[dict] = field(default_factory=list)  # the trainer's logged entries (loss, DPO's rewards/...)


def resolve_resume(resume: str | None, output_dir: str) -> str | None:
    """``--resume_from_checkpoint`` as a checkpoint directory (``auto``: the last ``checkpoint-N`` in ``output_dir``),
    or ``None``; raises :class:`TrainingSetupError` when there is none to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume in ("auto", "true", "True", "last"):
        if not Path(output_dir).is_dir():  # get_last_checkpoint would die on os.listdir with a traceback
            raise TrainingSetupError(
                f"--resume_from_checkpoint {resume}: the output directory {output_dir} does not exist, so there is "
                "no checkpoint to resume from"
            )
        last = get_last_checkpoint(output_dir)
        if last is None:
            raise TrainingSetupError(f"--resume_from_checkpoint {resume}: no checkpoint-* directory in {output_dir}")
        return last
    if resume is not None and not Path(resume).is_dir():
        raise TrainingSetupError(f"--resume_from_checkpoint {resume}: no such checkpoint directory")
    return resume


def check_model_args(model_args) -> None:
    """Refuse the ``ModelConfig`` options this loader cannot honour, before anything is built or loaded.

    TRL's ``ModelConfig`` checks ``dtype`` only on the command line (argparse choices), not from a recipe, and has
    no ``lora_r`` check; quantized loading (``load_in_4bit``/``load_in_8bit``) is not implemented here.
    """
    if not model_args.model_name_or_path:
        raise TrainingSetupError("--model_name_or_path is required (a checkpoint directory or hub id)")
    if model_args.dtype is not None and model_args.dtype not in DTYPES:
        raise TrainingSetupError(f"--dtype {model_args.dtype!r}: use {', '.join(DTYPES)}")
    if model_args.load_in_4bit or model_args.load_in_8bit:
        raise TrainingSetupError(
            "--load_in_4bit / --load_in_8bit: quantized loading is not supported here; train LoRA on bf16 weights "
            "(--use_peft true --dtype bfloat16)"
        )
    if model_args.use_peft and model_args.lora_r <= 0:
        raise TrainingSetupError(f"--lora_r must be positive, got {model_args.lora_r}")


def setup_tiny_model(model_args, script_args: VLMScriptArguments, training_args) -> None:
    """With ``--build_tiny_model true``: build the tiny random Qwen2-VL at ``model_name_or_path`` if none is there."""
    if not script_args.build_tiny_model:
        return
    path = Path(model_args.model_name_or_path)
    # Under torchrun/accelerate only global rank 0 can build it (save_pretrained writes weights on rank 0 alone, and
    # concurrent builders would race); the other ranks wait, then load it.
    with training_args.main_process_first(local=False, desc="building the tiny model"):
        if not (path / "config.json").is_file():
            build_tiny_model(path)


def setup_model(model_args, training_args):
    """``(model, processor)`` as ``model_args`` asks (dtype, attention, revision); ``trust_remote_code`` is the
    trainer config's (off unless given). A model that cannot load raises :class:`TrainingSetupError`."""
    try:
        return load_model_and_processor(
            model_args.model_name_or_path,
            trust_remote_code=training_args.trust_remote_code,
            torch_dtype=model_args.dtype,
            attn_implementation=model_args.attn_implementation,
            revision=model_args.model_revision,
        )
    except ModelLoadError as exc:
        raise TrainingSetupError(str(exc)) from None


def setup_processor(processor, model_args, script_args: VLMScriptArguments) -> None:
    """Check ``processor`` is a multimodal processor and apply the image-token budget of ``script_args``."""
    if not hasattr(processor, "image_processor"):
        # InternVL2's remote code has a tokenizer and its own tiling code but no HF processor, which TRL's vision
        # collators need to expand image tokens; the converted checkpoint has one.
        raise TrainingSetupError(
            f"{model_args.model_name_or_path}: has no multimodal processor (remote-code InternVL2); "
            f"convert it to transformers' native InternVL first: {CONVERT_HINT}"
        )
    set_image_budget(processor, script_args.image_max_pixels, script_args.image_max_tiles)


def set_image_budget(processor, max_pixels: int | None, max_tiles: int | None) -> None:
    """Bound the image tokens per sample: a pixel cap for Qwen2-VL-style processors, a tile cap for InternVL's."""
    image_processor = processor.image_processor
    if max_pixels is not None:
        if not hasattr(image_processor, "max_pixels"):
            raise TrainingSetupError(
                f"image_max_pixels applies to Qwen2-VL-style processors, not "
                f"{type(image_processor).__name__}; for InternVL use image_max_tiles"
            )
        image_processor.max_pixels = max_pixels
        image_processor.size["longest_edge"] = max_pixels
    if max_tiles is not None:
        if not hasattr(image_processor, "max_patches"):
            raise TrainingSetupError(
                f"image_max_tiles applies to InternVL's tiling processor, not "
                f"{type(image_processor).__name__}; for Qwen2-VL use image_max_pixels"
            )
        image_processor.max_patches = max_tiles


def freeze_modules(model, vision_tower: bool, projector: bool) -> None:
    """Turn off gradients of the vision tower and/or the projector (matched by parameter name)."""
    for name, param in model.named_parameters():
        is_projector = any(key in name for key in PROJECTOR_KEYS)
        is_vision = not is_projector and any(key in name for key in VISION_TOWER_KEYS)
        if (vision_tower and is_vision) or (projector and is_projector):
            param.requires_grad_(False)


def setup_peft(model_args):
    """The ``peft.LoraConfig`` of ``--use_peft true`` (TRL's ``get_peft_config``), or ``None``.

    Without ``--lora_target_modules`` the adapters go on the language model's projections (:data:`LORA_TARGETS`);
    ``model_args.lora_target_modules`` is set to that regex, so the model card shows what was trained.
    """
    if not model_args.use_peft:
        return None
    if not is_available("peft"):
        raise TrainingSetupError("--use_peft true needs the `peft` package: pip install 'redstar-geo[train]'")
    from trl import get_peft_config

    if model_args.lora_target_modules is None:
        model_args.lora_target_modules = LORA_TARGETS
    return get_peft_config(model_args)


def resolve_report_to(report_to) -> list[str]:
    """``auto`` -> the installed ones of tensorboard and wandb (none when neither is)."""
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    if names in (["auto"], ["all"]):
        return [name for name in ("tensorboard", "wandb") if is_available(name)]
    return [name for name in names if name != "none"]


def train_and_save(trainer, processor, resume: str | None, data) -> TrainingResult:
    """Train (from ``resume`` when given), then save model, ``trainer_state.json`` and processor to the output dir.

    ``data`` is the data report the result carries. Raises :class:`CheckpointLoadError` when ``resume`` cannot fill
    the model.
    """
    output_dir = trainer.args.output_dir
    # Counted on the trainer's model: with LoRA only the adapters are trainable.
    params = list(trainer.model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    frozen = sum(p.numel() for p in params if not p.requires_grad)
    logger.info("parameters: %d trainable, %d frozen", trainable, frozen)
    start = time.perf_counter()
    try:
        output = trainer.train(resume_from_checkpoint=resume)
    except CheckpointLoadError as exc:
        raise CheckpointLoadError(f"cannot resume: {exc}") from None
    seconds = time.perf_counter() - start
    trainer.save_model(output_dir)
    trainer.save_state()  # trainer_state.json (loss curve) next to the final weights
    if trainer.is_world_process_zero():
        processor.save_pretrained(output_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return TrainingResult(
        output_dir=output_dir,
        train_loss=output.training_loss,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        steps=trainer.state.global_step,
        seconds=seconds,
        data=data,
        trainable_parameters=trainable,
        frozen_parameters=frozen,
        log_history=list(trainer.state.log_history),
    )


# The trainer config's values a model card lists; a key the trainer's config lacks is left out.
CARD_HYPERPARAMETERS = (
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


def write_model_card(
    out: Path,
    *,
    stage: str,
    method: str,
    dataset: str,
    model_args,
    script_args,
    training_args,
    result: TrainingResult,
    extra_hyperparameters: tuple[str, ...] = (),
) -> Path:
    """``OUT/README.md``: base model, data and what was dropped, key hyperparameters, the loss curve's ends.

    ``stage``: ``"sft"``, ``"dpo"``... (title and tag); ``method``: how it was trained, in markdown
    (``"`train/sft_geo.py` (TRL `SFTTrainer`)"``); ``extra_hyperparameters``: trainer-config keys to list besides
    :data:`CARD_HYPERPARAMETERS` (DPO's ``beta``).
    """
    keys = CARD_HYPERPARAMETERS + tuple(extra_hyperparameters)
    hyper = {k: getattr(training_args, k) for k in keys if hasattr(training_args, k)}
    if "lr_scheduler_type" in hyper:
        hyper["lr_scheduler_type"] = str(hyper["lr_scheduler_type"])
    first = "n/a" if result.first_loss is None else f"{result.first_loss:.4f}"
    last = "n/a" if result.last_loss is None else f"{result.last_loss:.4f}"
    base = model_args.model_name_or_path
    card = f"""---
base_model: {base}
library_name: {"peft" if model_args.use_peft else "transformers"}
tags: [redstar-geo, {stage}, geometry, long-cot, trl]
---

# RedStar-Geo {stage.upper()} checkpoint

Fine-tuned from `{base}` with {method} on `{dataset}`.

- Data: {result.data.kept} of {result.data.total} samples used; dropped: {dict(result.data.dropped) or "none"}
- Training: {result.steps} steps in {result.seconds:.0f} s; logged loss {first} -> {last}
- Trainable parameters: {result.trainable_parameters:,} (frozen: {result.frozen_parameters:,}); vision tower frozen:
  {script_args.freeze_vision_tower}; projector frozen: {script_args.freeze_projector}; LoRA: {model_args.use_peft}

## Hyperparameters

```json
{json.dumps(hyper, indent=2)}
```

## Model arguments

```json
{json.dumps(asdict(model_args), indent=2)}
```

## Script arguments

```json
{json.dumps(asdict(script_args), indent=2)}
```
"""
    path = Path(out) / "README.md"
    path.write_text(card, encoding="utf-8")
    return path
