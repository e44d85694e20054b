"""Convert OpenGVLab's InternVL2 / InternVL2.5 checkpoints (the ``internvl_chat`` remote-code format with an InternLM2
language model, e.g. the paper's base model ``OpenGVLab/InternVL2-8B``) into transformers' native InternVL.

Usage::

    python data_prep/convert_internvl2.py --source OpenGVLab/InternVL2-8B --out models/InternVL2-8B-hf

    from redstar_geo.convert_internvl2 import convert_internvl2
    convert_internvl2("OpenGVLab/InternVL2-8B", "models/InternVL2-8B-hf")

The result loads with ``AutoModelForImageTextToText`` / ``AutoProcessor`` and without ``trust_remote_code``, so the
paper's base model trains (``train/sft_geo.py``), evaluates and serves through the same code as Qwen2-VL and InternVL3.

What the conversion does:

- parameter names: InternViT ``vision_model`` -> ``vision_tower``, the ``mlp1`` projector -> ``multi_modal_projector``,
  InternLM2 -> Llama; InternViT's fused ``qkv`` and InternLM2's grouped ``wqkv`` are split into q/k/v projections;
- the SentencePiece ``tokenizer.model`` is rebuilt as a fast tokenizer giving the same ids (checked against
  SentencePiece in the tests), with InternVL's added tokens (``<img>``, ``<IMG_CONTEXT>``, ...) at their original ids;
- InternVL2's dynamic tiling (448-px tiles up to ``max_dynamic_patch``, plus a thumbnail) becomes
  ``GotOcr2ImageProcessor(crop_to_patches=True)``; each tile gives ``image_seq_length`` (256) image tokens;
- prompts use InternLM2's ``<s><|im_start|>role ... <|im_end|>`` chat format (the template writes the ``<s>``; the
  tokenizer adds none), without the default Chinese system message that InternVL2's own ``chat()`` adds; generation
  stops at ``<|im_end|>``.

Why our own converter: transformers' InternVL2.5/3 conversion script is in its source tree, not in the wheel; it runs
the checkpoint's remote code (written for transformers 4.x) to read the weights, holds the whole model in memory and
needs a tokenizer directory that is not published. This one reads config.json, the safetensors shards and
tokenizer.model directly, one shard at a time, and executes nothing from the model repository. The output is written
to ``OUT.partial`` and renamed to ``OUT`` only when complete and checked against the native model's parameter list.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

from redstar_geo.import_utils import require

logger = logging.getLogger(__name__)

# InternVL's special tokens for images, as the native processor names them.
IMAGE_TOKENS = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>"}
# The native processor insists on a video placeholder. InternVL2's vocabulary has none, so "<video>" is appended
# after the model's vocabulary: video input is not supported by converted checkpoints.
VIDEO_TOKEN = "<video>"

# InternLM2 prompts start with <s>. The template writes it and the tokenizer does not add one, so every path gives
# exactly one: TRL's collator tokenizes rendered templates with add_special_tokens=False, generation does not.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '<IMG_CONTEXT>\\n' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_PATCH_PROJECTION = "model.vision_tower.embeddings.patch_embeddings.projection"
# Exact names outside the repeated layers: original -> native.
_FIXED_NAMES = {
    "vision_model.embeddings.class_embedding": "model.vision_tower.embeddings.cls_token",
    "vision_model.embeddings.position_embedding": "model.vision_tower.embeddings.position_embeddings",
    **{
        f"vision_model.embeddings.patch_embedding.{kind}": f"{_PATCH_PROJECTION}.{kind}" for kind in ("weight", "bias")
    },
    "language_model.model.tok_embeddings.weight": "model.language_model.embed_tokens.weight",
    "language_model.model.norm.weight": "model.language_model.norm.weight",
    "language_model.output.weight": "lm_head.weight",
}
# Module names inside an InternViT layer / an InternLM2 layer / the projector: original -> native.
_VISION_LAYER_MODULES = {
    "ls1": "lambda_1",
    "ls2": "lambda_2",
    "attn.proj": "attention.projection_layer",
    "attn.q_norm": "attention.q_norm",
    "attn.k_norm": "attention.k_norm",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
}
_TEXT_LAYER_MODULES = {
    "attention.wo": "self_attn.o_proj",
    "feed_forward.w1": "mlp.gate_proj",
    "feed_forward.w3": "mlp.up_proj",
    "feed_forward.w2": "mlp.down_proj",
    "attention_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_PROJECTOR_MODULES = {"mlp1.0": "layer_norm", "mlp1.1": "linear_1", "mlp1.3": "linear_2"}
_LAYER_KEY = re.compile(r"^(vision_model\.encoder\.layers|language_model\.model\.layers)\.(\d+)\.(.+)$")


class ConversionError(ValueError):
    """A checkpoint this converter cannot convert; the message names the file and what is wrong."""


class ConversionArgumentError(ConversionError):
    """A ``source`` or ``out`` that cannot be used at all (no checkpoint there, not an InternVL2 checkpoint, an
    output directory already in use), as opposed to a checkpoint that is broken; the message names the path."""


def convert_internvl2(source: str, out: str | Path, max_shard_gb: float = 5.0, revision: str | None = None) -> Path:
    """Convert the InternVL2 checkpoint ``source`` (local directory or hub id) into a native checkpoint at ``out``."""
    require("torch", extra="train", feature="checkpoint conversion")
    out = Path(out)
    if (out / "config.json").is_file():
        raise ConversionArgumentError(f"{out}: already holds a checkpoint; choose another --out or delete it")
    if out.exists() and not out.is_dir():
        raise ConversionArgumentError(f"{out}: exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        # The finished checkpoint replaces OUT as a whole; a directory with other files in it is not ours to delete.
        raise ConversionArgumentError(f"{out}: a directory with files but no checkpoint; choose another --out")
    src = _local_checkpoint(source, revision)
    source_config = _read_json(src / "config.json")
    _check_model_type(source_config, src / "config.json")  # before the tokenizer: name the wrong kind of checkpoint
    tokenizer = convert_tokenizer(src)
    config = native_config(source_config, tokenizer, where=src / "config.json")

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    expected = _expected_parameters(config)
    written = _convert_weights(src, partial, config, expected, int(max_shard_gb * 2**30))
    missing = sorted(set(expected) - written)
    if missing:
        raise ConversionError(
            f"{src}: the checkpoint lacks {len(missing)} parameters of the native model, e.g. {missing[:3]}"
        )
    config.architectures = ["InternVLForConditionalGeneration"]
    config.dtype = str(source_config.get("torch_dtype", "bfloat16"))
    config.save_pretrained(partial)
    get_generation_config(tokenizer).save_pretrained(partial)
    get_processor(tokenizer, source_config, config).save_pretrained(partial)
    shutil.rmtree(out, ignore_errors=True)  # an empty directory; anything else was refused above
    partial.rename(out)
    logger.info("wrote %s (%d tensors) from %s", out, len(written), src)
    return out


def native_config(source: dict, tokenizer, where: Path | str = "config.json"):
    """The ``InternVLConfig`` equivalent to an ``internvl_chat`` config.json (InternLM2 language model)."""
    from transformers import InternVLConfig, InternVLVisionConfig, LlamaConfig

    _check_model_type(source, where)
    llm, vision = source.get("llm_config") or {}, source.get("vision_config") or {}
    architecture = (llm.get("architectures") or ["?"])[0]
    if architecture != "InternLM2ForCausalLM":
        raise ConversionError(
            f"{where}: language model {architecture}; this converter handles InternLM2-based InternVL2/2.5 (2B, 8B, "
            "26B). Qwen2/Llama-based InternVL models have native checkpoints on the hub (OpenGVLab/InternVL3-*-hf)"
        )
    if source.get("ps_version", "v1") != "v2":
        raise ConversionError(
            f"{where}: ps_version {source.get('ps_version')!r}; native InternVL implements the 'v2' pixel shuffle only"
        )
    theta = float(llm.get("rope_theta", 10000.0))
    scaling = llm.get("rope_scaling") or {}
    rope = {"rope_type": "default", "rope_theta": theta}
    if scaling:
        rope = {
            "rope_type": scaling.get("rope_type") or scaling.get("type"),
            "factor": float(scaling["factor"]),
            "rope_theta": theta,
        }
    tie = bool(llm.get("tie_word_embeddings", False))
    text_config = LlamaConfig(
        vocab_size=llm["vocab_size"],
        hidden_size=llm["hidden_size"],
        intermediate_size=llm["intermediate_size"],
        num_hidden_layers=llm["num_hidden_layers"],
        num_attention_heads=llm["num_attention_heads"],
        num_key_value_heads=llm.get("num_key_value_heads", llm["num_attention_heads"]),
        hidden_act=llm.get("hidden_act", "silu"),
        max_position_embeddings=llm.get("max_position_embeddings", 32768),
        rms_norm_eps=llm.get("rms_norm_eps", 1e-6),
        rope_parameters=rope,
        attention_bias=bool(llm.get("bias", False)),
        tie_word_embeddings=tie,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    size = int(source.get("force_image_size") or vision["image_size"])
    patch = int(vision["patch_size"])
    vision_config = InternVLVisionConfig(
        hidden_size=vision["hidden_size"],
        num_hidden_layers=vision["num_hidden_layers"],
        num_attention_heads=vision["num_attention_heads"],
        intermediate_size=vision["intermediate_size"],
        hidden_act=vision.get("hidden_act", "gelu"),
        layer_norm_eps=vision.get("layer_norm_eps", 1e-6),
        norm_type=vision.get("norm_type", "rms_norm"),
        attention_bias=bool(vision.get("qkv_bias", False)),
        use_qk_norm=bool(vision.get("qk_normalization", False)),
        image_size=[size, size],
        patch_size=[patch, patch],
        num_channels=vision.get("num_channels", 3),
        use_absolute_position_embeddings=True,
    )
    ratio = float(source.get("downsample_ratio", 0.5))
    return InternVLConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=round((size // patch) ** 2 * ratio**2),
        downsample_ratio=ratio,
        projector_hidden_act="gelu",
        vision_feature_layer=int(source.get("select_layer", -1)),
        vision_feature_select_strategy="default",
        tie_word_embeddings=tie,
    )


def convert_tensors(tensors: dict, text_config) -> dict:
    """Rename one shard's tensors to native names, splitting fused q/k/v projections; unknown names are an error."""
    converted = {}
    for name, tensor in tensors.items():
        if name in _FIXED_NAMES:
            converted[_FIXED_NAMES[name]] = tensor
            continue
        module, _, suffix = name.rpartition(".")
        if module in _PROJECTOR_MODULES:
            converted[f"model.multi_modal_projector.{_PROJECTOR_MODULES[module]}.{suffix}"] = tensor
            continue
        match = _LAYER_KEY.match(name)
        if not match:
            raise ConversionError(f"unknown parameter {name!r}")
        stack, index, rest = match.groups()
        vision = stack.startswith("vision")
        base = f"model.vision_tower.encoder.layer.{index}." if vision else f"model.language_model.layers.{index}."
        module, suffix = (rest, "") if rest in ("ls1", "ls2") else rest.rsplit(".", 1)
        suffix = f".{suffix}" if suffix else ""
        if vision and module == "attn.qkv":
            # InternViT: rows are [q; k; v], each hidden_size wide.
            for part, chunk in zip("qkv", tensor.chunk(3, dim=0), strict=True):
                converted[f"{base}attention.{part}_proj{suffix}"] = chunk.contiguous()
        elif not vision and module == "attention.wqkv":
            for part, chunk in zip("qkv", split_internlm2_wqkv(tensor, text_config), strict=True):
                converted[f"{base}self_attn.{part}_proj{suffix}"] = chunk
        else:
            table = _VISION_LAYER_MODULES if vision else _TEXT_LAYER_MODULES
            if module not in table:
                raise ConversionError(f"unknown parameter {name!r}")
            converted[f"{base}{table[module]}{suffix}"] = tensor
    return converted


def split_internlm2_wqkv(wqkv, text_config):
    """Split InternLM2's fused ``wqkv`` (weight or bias) into Llama's q, k and v projections.

    InternLM2 stores the rows per key/value head: for each of the ``num_key_value_heads`` groups, its
    ``heads_per_group`` query heads, then its key head, then its value head, each ``head_dim`` rows.
    """
    heads, kv_heads = text_config.num_attention_heads, text_config.num_key_value_heads
    head_dim = text_config.head_dim
    group = heads // kv_heads
    grouped = wqkv.reshape(kv_heads, group + 2, head_dim, *wqkv.shape[1:])  # (kv, group + 2, head_dim[, hidden])
    rest = wqkv.shape[1:]
    q = grouped[:, :group].reshape(heads * head_dim, *rest)
    k = grouped[:, group].reshape(kv_heads * head_dim, *rest)
    v = grouped[:, group + 1].reshape(kv_heads * head_dim, *rest)
    return q.contiguous(), k.contiguous(), v.contiguous()


def convert_tokenizer(src: Path):
    """A fast ``LlamaTokenizer`` with the ids of the checkpoint's SentencePiece tokenizer and added tokens."""
    require("sentencepiece", extra="convert", feature="InternVL2 tokenizer conversion")
    require("google.protobuf", extra="convert", feature="InternVL2 tokenizer conversion")
    from tokenizers import AddedToken
    from tokenizers.models import BPE
    from transformers import LlamaTokenizer
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    model_file, config_file = src / "tokenizer.model", src / "tokenizer_config.json"
    if not model_file.is_file():
        raise ConversionError(f"{model_file}: missing; InternVL2 checkpoints ship a SentencePiece tokenizer.model")
    extractor = SentencePieceExtractor(str(model_file))
    spec = extractor.proto.normalizer_spec
    if extractor.proto.trainer_spec.model_type != 2:  # sentencepiece ModelType.BPE
        raise ConversionError(f"{model_file}: a SentencePiece BPE model is expected (InternLM2's tokenizer)")
    if (
        spec.name not in ("identity", "")
        or spec.remove_extra_whitespaces
        or spec.precompiled_charsmap
        or spec.add_dummy_prefix
    ):
        raise ConversionError(
            f"{model_file}: text normalisation {spec.name!r} (remove_extra_whitespaces={spec.remove_extra_whitespaces}"
            f", add_dummy_prefix={spec.add_dummy_prefix}) is not supported; InternLM2's tokenizer has none"
        )
    pieces = extractor.extract(BPE)
    config = _read_json(config_file) if config_file.is_file() else {}
    tokenizer = LlamaTokenizer(
        vocab=pieces["vocab"],
        merges=pieces["merges"],
        add_prefix_space=False,
        legacy=False,
        unk_token=_token(config.get("unk_token"), "<unk>"),
        bos_token=_token(config.get("bos_token"), "<s>"),
        eos_token=_token(config.get("eos_token"), "</s>"),
        pad_token=_token(config.get("pad_token"), "</s>"),
        add_bos_token=False,
        add_eos_token=False,
        model_max_length=config.get("model_max_length", 32768),
    )
    tokenizer.add_tokens(pieces["additional_special_tokens"])
    added = dict(config.get("added_tokens_decoder") or {})
    added_file = src / "added_tokens.json"
    if added_file.is_file():  # {"<img>": 92544, ...}: older checkpoints list added tokens here
        added.update({str(i): {"content": t, "special": True} for t, i in _read_json(added_file).items()})
    for index, entry in sorted(added.items(), key=lambda item: int(item[0])):
        content = entry["content"]
        if content not in tokenizer.get_vocab():
            tokenizer.add_tokens(
                [AddedToken(content, special=entry.get("special", True), normalized=False)],
                special_tokens=entry.get("special", True),
            )
        if tokenizer.convert_tokens_to_ids(content) != int(index):
            raise ConversionError(
                f"{config_file}: added token {content!r} has id {index} but lands at "
                f"{tokenizer.convert_tokens_to_ids(content)}; its ids are not contiguous"
            )
    missing = [t for t in (*IMAGE_TOKENS.values(), "<|im_start|>", "<|im_end|>") if t not in tokenizer.get_vocab()]
    if missing:
        raise ConversionError(f"{src}: the tokenizer lacks InternVL's tokens {missing}")
    # extra_special_tokens are attached at load time, so round-trip through a directory to set them.
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        tokenizer = LlamaTokenizer.from_pretrained(
            tmp, extra_special_tokens={**IMAGE_TOKENS, "video_token": VIDEO_TOKEN}
        )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def get_processor(tokenizer, source_config: dict, config):
    """``InternVLProcessor`` with InternVL2's dynamic tiling (``min/max_dynamic_patch``, thumbnail) and template."""
    from transformers import GotOcr2ImageProcessor, InternVLProcessor
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    if not source_config.get("use_thumbnail", True):
        raise ConversionError("use_thumbnail: false is not supported by the native InternVL image processor")
    size = config.vision_config.image_size[0]
    image_processor = GotOcr2ImageProcessor(
        size={"height": size, "width": size},
        crop_to_patches=bool(source_config.get("dynamic_image_size", True)),
        min_patches=int(source_config.get("min_dynamic_patch", 1)),
        max_patches=int(source_config.get("max_dynamic_patch", 12)),
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        do_convert_rgb=True,
    )
    return InternVLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(),
        image_seq_length=config.image_seq_length,
        chat_template=CHAT_TEMPLATE,
    )


def get_generation_config(tokenizer):
    """Stop at ``<|im_end|>`` (the end of an assistant turn) as InternVL2's chat() does, or at ``</s>``."""
    from transformers import GenerationConfig

    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[im_end, tokenizer.eos_token_id],
        pad_token_id=tokenizer.pad_token_id,
    )


def _convert_weights(src: Path, out: Path, config, expected: dict, max_shard_bytes: int) -> set[str]:
    """Stream the source shards through :func:`convert_tensors` into ``out``; returns the names written."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    index = src / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(_read_json(index)["weight_map"].values()))
    elif (src / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise ConversionError(
            f"{src}: no model.safetensors or model.safetensors.index.json (.bin checkpoints are not supported)"
        )
    shards, current, current_bytes, total_size = [], {}, 0, 0

    def flush():
        nonlocal current, current_bytes, total_size
        if current:
            name = f"shard-{len(shards):05d}.safetensors"
            save_file(current, str(out / name), metadata={"format": "pt"})
            shards.append((name, list(current)))
            total_size += current_bytes
            current, current_bytes = {}, 0

    written = set()
    for file in files:
        path = src / file
        if not path.is_file():
            raise ConversionError(f"{path}: listed in {index.name} but missing")
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        try:
            converted = convert_tensors(tensors, config.text_config)
        except ConversionError as exc:
            raise ConversionError(f"{path}: {exc}") from None
        for name, tensor in converted.items():
            if name not in expected:
                raise ConversionError(f"{path}: converted parameter {name} is not in the native model")
            if tuple(tensor.shape) != expected[name]:
                raise ConversionError(
                    f"{path}: {name} has shape {tuple(tensor.shape)}, the native model expects "
                    f"{expected[name]}; config.json and the weights disagree"
                )
            current[name] = tensor
            current_bytes += tensor.numel() * tensor.element_size()
            written.add(name)
            if current_bytes >= max_shard_bytes:
                flush()
    flush()
    if len(shards) == 1:
        (out / shards[0][0]).rename(out / "model.safetensors")
        return written
    weight_map = {}
    for number, (name, names) in enumerate(shards, start=1):
        final = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        (out / name).rename(out / final)
        weight_map.update(dict.fromkeys(names, final))
    index_data = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index_data, indent=2), encoding="utf-8")
    return written


def _check_model_type(source: dict, where: Path | str) -> None:
    if source.get("model_type") != "internvl_chat":
        raise ConversionArgumentError(
            f"{where}: model_type {source.get('model_type')!r} is not an InternVL2 'internvl_chat' "
            "checkpoint; native InternVL (…-hf) checkpoints need no conversion"
        )


def _expected_parameters(config) -> dict[str, tuple]:
    """Native parameter names and shapes, from a model built on the meta device (no memory used)."""
    import torch
    from transformers import InternVLForConditionalGeneration

    with torch.device("meta"):
        model = InternVLForConditionalGeneration(config)
    names = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    if config.tie_word_embeddings:
        names.pop("lm_head.weight", None)
    return names


def _local_checkpoint(source: str, revision: str | None) -> Path:
    path = Path(source)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConversionArgumentError(f"{path}: no config.json; not a model checkpoint directory")
        return path
    if path.exists():
        raise ConversionArgumentError(f"{path}: a file, not a checkpoint directory or hub id")
    if source.startswith(("/", ".", "~")) or source.count("/") > 1:  # a path, not a hub id (``owner/name``)
        raise ConversionArgumentError(f"{source}: no such directory")
    try:
        from huggingface_hub import snapshot_download

        patterns = ["*.json", "*.safetensors", "tokenizer.model"]
        return Path(snapshot_download(source, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # offline, unknown id, no access: say which (the first line says it)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConversionArgumentError(
            f"{source}: no such local directory, and it could not be downloaded from the hub: {reason}"
        ) from None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path}: cannot read: {exc}") from None


def _token(value, default: str) -> str:
    """A tokenizer_config special token, given either as a string or as a serialised AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content", default)
    return value or default
