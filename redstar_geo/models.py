"""Loading the multimodal models this project trains and evaluates.

Usage::

    from redstar_geo.models import load_model_and_processor

    model, processor = load_model_and_processor("Qwen/Qwen2.5-VL-7B-Instruct", torch_dtype="bfloat16")
    model, processor = load_model_and_processor("models/InternVL2-8B-hf")   # data_prep/convert_internvl2.py
    model, processor = load_model_and_processor("runs/tiny-qwen2vl")        # redstar_geo.tiny_model.build_tiny_model
    model, processor = load_model_and_processor("runs/sft-lora")            # a LoRA adapter: base + adapter, merged

A checkpoint that cannot be loaded as asked raises :class:`ModelLoadError`, whose message says what to change. The
tiny random Qwen2-VL for tests and CPU smoke runs is built by :mod:`redstar_geo.tiny_model`.
"""

from __future__ import annotations

import json
from pathlib import Path

from redstar_geo.import_utils import require

# Checkpoints whose config.json needs the repository's own modelling code (model_type unknown to transformers).
REMOTE_CODE_MODEL_TYPES = {"internvl_chat": "InternVL2 / InternVL2.5 (OpenGVLab/InternVL2-8B)"}
CONVERT_HINT = "python data_prep/convert_internvl2.py --source OpenGVLab/InternVL2-8B --out models/InternVL2-8B-hf"


class ModelLoadError(ValueError):
    """A model that cannot be loaded as asked; the message says what to change."""


def load_model_and_processor(
    name_or_path: str,
    trust_remote_code: bool = False,
    torch_dtype: str | None = "auto",
    attn_implementation: str | None = None,
    revision: str | None = None,
):
    """``(model, processor)`` for a local directory or hub id of a supported vision-language model.

    Qwen2-VL, Qwen2.5-VL and transformers-native InternVL (``OpenGVLab/InternVL3-8B-hf``, or InternVL2-8B after
    ``data_prep/convert_internvl2.py``) load through ``AutoModelForImageTextToText`` / ``AutoProcessor``. An
    unconverted InternVL2 checkpoint ships its own modelling code: it loads only with ``trust_remote_code=True``
    (never implied), through ``AutoModel`` and ``AutoTokenizer`` (it has no processor, so it cannot be trained or
    evaluated here); the processor returned is then the tokenizer.
    ``torch_dtype``: ``"auto"``, ``"bfloat16"``, ``"float32"``...

    A PEFT adapter directory (``adapter_config.json``, no ``config.json``: what a LoRA run of ``train/sft_geo.py``
    or ``train/dpo_geo.py`` saves) loads its base model, applies the adapter and merges it, so evaluation, the demo
    and a next training stage see one plain model; the processor comes from the adapter directory when it has one.
    """
    adapter_config = Path(name_or_path) / "adapter_config.json"
    if adapter_config.is_file() and not (Path(name_or_path) / "config.json").is_file():
        return _load_merged_adapter(name_or_path, trust_remote_code, torch_dtype, attn_implementation, revision)
    torch = require("torch", extra="train", feature="loading models")
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    model_type = _peek_model_type(name_or_path)
    remote = model_type in REMOTE_CODE_MODEL_TYPES
    if remote and not trust_remote_code:
        raise ModelLoadError(
            f"{name_or_path}: {REMOTE_CODE_MODEL_TYPES[model_type]} runs code from the model repository. Convert it "
            f"once to transformers' native InternVL (no remote code; trains and evaluates here): {CONVERT_HINT}. "
            "Or pass --trust_remote_code true (off by default) to load the original as it is."
        )
    if not Path(name_or_path).exists() and (name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1):
        # A path, not a hub id (``owner/name``): the hub's repo-id complaint would only confuse.
        raise ModelLoadError(f"{name_or_path}: not a local model directory (no such path)")
    try:
        AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, revision=revision)
    except OSError as exc:
        raise ModelLoadError(
            f"{name_or_path}: not a local model directory and not on the hub (or offline): {exc}"
        ) from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelLoadError(
                f"{name_or_path}: this checkpoint needs its own modelling code; pass --trust_remote_code true if you "
                "trust it (off by default)"
            ) from None
        raise ModelLoadError(f"{name_or_path}: {exc}") from None

    dtype = torch_dtype if torch_dtype in (None, "auto") else getattr(torch, torch_dtype)
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code, "revision": revision}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if remote:
        model = AutoModel.from_pretrained(name_or_path, **kwargs)
        processor = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=True, revision=revision)
    else:
        model = AutoModelForImageTextToText.from_pretrained(name_or_path, **kwargs)
        processor = AutoProcessor.from_pretrained(name_or_path, revision=revision)
    return model, processor


def _load_merged_adapter(path: str, trust_remote_code, torch_dtype, attn_implementation, revision):
    require("peft", extra="train", feature="loading a LoRA adapter")
    from peft import PeftModel
    from transformers import AutoProcessor

    base = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"{path}/adapter_config.json: no base_model_name_or_path, so the adapter has no base")
    try:
        model, processor = load_model_and_processor(
            base, trust_remote_code, torch_dtype, attn_implementation, revision
        )
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path}: the adapter's base model cannot be loaded: {exc}") from None
    model = PeftModel.from_pretrained(model, path).merge_and_unload()
    if (Path(path) / "preprocessor_config.json").is_file() or (Path(path) / "processor_config.json").is_file():
        processor = AutoProcessor.from_pretrained(path)
    return model, processor


def _peek_model_type(name_or_path: str) -> str | None:
    """``model_type`` from a local config.json (a hub id is resolved through the cache by AutoConfig instead)."""
    config = Path(name_or_path) / "config.json"
    if Path(name_or_path).is_dir() and not config.is_file():
        raise ModelLoadError(f"{name_or_path}: a directory without config.json is not a model checkpoint")
    if config.is_file():
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    try:
        from transformers.utils import cached_file

        path = cached_file(name_or_path, "config.json", _raise_exceptions_for_missing_entries=False)
    except OSError:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8")).get("model_type") if path else None
