"""Trainer pieces shared by the project's trainers (SFT now, DPO later): resuming from a checkpoint that really loads.

Usage::

    from trl import SFTTrainer   # or DPOTrainer, or transformers.Trainer
    from redstar_geo.training import ResumeMixin

    class GeoSFTTrainer(ResumeMixin, SFTTrainer):
        pass

    GeoSFTTrainer(model=model, args=args, ...).train(resume_from_checkpoint="runs/x/checkpoint-500")

The mixin goes first so its ``_load_from_checkpoint`` / ``_load_best_model`` win. With full weights (no DeepSpeed,
FSDP or PEFT) they load ``model.safetensors`` (or the shards of ``model.safetensors.index.json``) the way
``from_pretrained`` would, and raise :class:`CheckpointLoadError` when any parameter of the model is not in the
checkpoint, instead of training on from the base weights. :func:`load_checkpoint_weights` is the same load on its own.
With PEFT, transformers' own adapter loading is kept and then checked tensor by tensor against
``adapter_model.safetensors``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

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
