"""A tiny checkpoint in OpenGVLab's InternVL2 format (``internvl_chat`` config, InternViT + InternLM2 parameter names,
SentencePiece tokenizer.model), written without any remote code, for the conversion tests.

The weights are those of a tiny native ``InternVLForConditionalGeneration`` (returned as the reference), rewritten
into InternVL2's layout with the parameter names and fused-projection layouts of OpenGVLab/InternVL2-8B, spelled out
here independently of redstar_geo.convert_internvl2.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from redstar_geo.tiny_model import geometry_corpus

SP_VOCAB = 400
# InternVL2-8B's added tokens (ids 92544.. there), after the SentencePiece vocabulary here.
ADDED = ["<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"]
TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
IMAGE_SIZE, PATCH = 56, 14  # 4x4 patches -> 2x2 = 4 image tokens per tile after the 0.5 pixel shuffle


def train_sentencepiece(prefix: Path, add_dummy_prefix: bool = False) -> Path:
    """An InternLM2-like SentencePiece BPE: byte fallback, no normalisation, digits split, chat tokens built in."""
    import sentencepiece as spm

    corpus = prefix.with_suffix(".txt")
    corpus.write_text("\n".join(geometry_corpus() * 20), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=SP_VOCAB,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=add_dummy_prefix,
        split_digits=True,
        user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        character_coverage=1.0,
        minloglevel=2,
    )
    return prefix.with_suffix(".model")


def reference_model(seed: int = 0):
    """The tiny native InternVL whose weights the InternVL2-format checkpoint carries."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig, LlamaConfig

    text = LlamaConfig(
        vocab_size=SP_VOCAB + len(ADDED),
        rms_norm_eps=1e-5,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e6},
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
        tie_word_embeddings=False,
        **TEXT,
    )
    vision = InternVLVisionConfig(
        image_size=[IMAGE_SIZE, IMAGE_SIZE],
        patch_size=[PATCH, PATCH],
        attention_bias=True,
        norm_type="layer_norm",
        **VISION,
    )
    config = InternVLConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=SP_VOCAB + 2,
        image_seq_length=4,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    with torch.no_grad():  # layer scales and norms start at constants; randomise them so a mix-up shows
        for name, param in model.named_parameters():
            if "lambda" in name or "norm" in name:
                param.copy_(torch.randn_like(param) * 0.5 + 1)
    return model


def internvl2_state_dict(model) -> dict[str, torch.Tensor]:
    """The reference weights under InternVL2's own names and fused layouts."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {
        "vision_model.embeddings.class_embedding": sd["model.vision_tower.embeddings.cls_token"],
        "vision_model.embeddings.position_embedding": sd["model.vision_tower.embeddings.position_embeddings"],
        "vision_model.embeddings.patch_embedding.weight": sd[
            "model.vision_tower.embeddings.patch_embeddings.projection.weight"
        ],
        "vision_model.embeddings.patch_embedding.bias": sd[
            "model.vision_tower.embeddings.patch_embeddings.projection.bias"
        ],
        "mlp1.0.weight": sd["model.multi_modal_projector.layer_norm.weight"],
        "mlp1.0.bias": sd["model.multi_modal_projector.layer_norm.bias"],
        "mlp1.1.weight": sd["model.multi_modal_projector.linear_1.weight"],
        "mlp1.1.bias": sd["model.multi_modal_projector.linear_1.bias"],
        "mlp1.3.weight": sd["model.multi_modal_projector.linear_2.weight"],
        "mlp1.3.bias": sd["model.multi_modal_projector.linear_2.bias"],
        "language_model.model.tok_embeddings.weight": sd["model.language_model.embed_tokens.weight"],
        "language_model.model.norm.weight": sd["model.language_model.norm.weight"],
        "language_model.output.weight": sd["lm_head.weight"],
    }
    for i in range(VISION["num_hidden_layers"]):
        new, old = f"model.vision_tower.encoder.layer.{i}.", f"vision_model.encoder.layers.{i}."
        out[old + "ls1"], out[old + "ls2"] = sd[new + "lambda_1"], sd[new + "lambda_2"]
        for kind in ("weight", "bias"):
            out[old + f"attn.qkv.{kind}"] = torch.cat([sd[new + f"attention.{p}_proj.{kind}"] for p in "qkv"])
            out[old + f"attn.proj.{kind}"] = sd[new + f"attention.projection_layer.{kind}"]
            out[old + f"mlp.fc1.{kind}"] = sd[new + f"mlp.fc1.{kind}"]
            out[old + f"mlp.fc2.{kind}"] = sd[new + f"mlp.fc2.{kind}"]
            out[old + f"norm1.{kind}"] = sd[new + f"layernorm_before.{kind}"]
            out[old + f"norm2.{kind}"] = sd[new + f"layernorm_after.{kind}"]
    heads, kv_heads = TEXT["num_attention_heads"], TEXT["num_key_value_heads"]
    head_dim, hidden = TEXT["hidden_size"] // heads, TEXT["hidden_size"]
    for i in range(TEXT["num_hidden_layers"]):
        new, old = f"model.language_model.layers.{i}.", f"language_model.model.layers.{i}."
        q = sd[new + "self_attn.q_proj.weight"].reshape(kv_heads, heads // kv_heads, head_dim, hidden)
        k = sd[new + "self_attn.k_proj.weight"].reshape(kv_heads, 1, head_dim, hidden)
        v = sd[new + "self_attn.v_proj.weight"].reshape(kv_heads, 1, head_dim, hidden)
        out[old + "attention.wqkv.weight"] = torch.cat([q, k, v], dim=1).reshape(-1, hidden)  # per kv head: q.., k, v
        out[old + "attention.wo.weight"] = sd[new + "self_attn.o_proj.weight"]
        out[old + "feed_forward.w1.weight"] = sd[new + "mlp.gate_proj.weight"]
        out[old + "feed_forward.w3.weight"] = sd[new + "mlp.up_proj.weight"]
        out[old + "feed_forward.w2.weight"] = sd[new + "mlp.down_proj.weight"]
        out[old + "attention_norm.weight"] = sd[new + "input_layernorm.weight"]
        out[old + "ffn_norm.weight"] = sd[new + "post_attention_layernorm.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def internvl2_config(max_dynamic_patch: int = 4) -> dict:
    """config.json as OpenGVLab writes it for InternVL2-8B, with tiny sizes."""
    return {
        "architectures": ["InternVLChatModel"],
        "model_type": "internvl_chat",
        "torch_dtype": "float32",
        "auto_map": {
            "AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
            "AutoModel": "modeling_internvl_chat.InternVLChatModel",
        },
        "downsample_ratio": 0.5,
        "dynamic_image_size": True,
        "force_image_size": IMAGE_SIZE,
        "max_dynamic_patch": max_dynamic_patch,
        "min_dynamic_patch": 1,
        "ps_version": "v2",
        "select_layer": -1,
        "template": "internlm2-chat",
        "use_thumbnail": True,
        "use_backbone_lora": 0,
        "use_llm_lora": 0,
        "llm_config": {
            "architectures": ["InternLM2ForCausalLM"],
            "model_type": "internlm2",
            "attn_implementation": "eager",
            "bias": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 2,
            "hidden_act": "silu",
            "initializer_range": 0.02,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_scaling": {"factor": 2.0, "type": "dynamic"},
            "rope_theta": 1000000,
            "tie_word_embeddings": False,
            "vocab_size": SP_VOCAB + len(ADDED),
            "torch_dtype": "bfloat16",
            **TEXT,
        },
        "vision_config": {
            "architectures": ["InternVisionModel"],
            "model_type": "intern_vit_6b",
            "attention_dropout": 0.0,
            "drop_path_rate": 0.1,
            "dropout": 0.0,
            "hidden_act": "gelu",
            "image_size": IMAGE_SIZE,
            "initializer_factor": 1.0,
            "initializer_range": 0.02,
            "layer_norm_eps": 1e-6,
            "norm_type": "layer_norm",
            "num_channels": 3,
            "patch_size": PATCH,
            "qk_normalization": False,
            "qkv_bias": True,
            "use_flash_attn": True,
            **VISION,
        },
    }


def write_internvl2_checkpoint(path: Path, add_dummy_prefix: bool = False, seed: int = 0):
    """Write the tiny InternVL2-format checkpoint (two safetensors shards + index) to ``path``; returns
    ``(reference_native_model, sentencepiece_model_file)``."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    model = reference_model(seed)
    state = internvl2_state_dict(model)
    shards = {
        "model-00001-of-00002.safetensors": {k: v for k, v in state.items() if not k.startswith("language")},
        "model-00002-of-00002.safetensors": {k: v for k, v in state.items() if k.startswith("language")},
    }
    weight_map = {}
    for name, tensors in shards.items():
        save_file(tensors, str(path / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (path / "config.json").write_text(json.dumps(internvl2_config(), indent=2))
    sp_model = train_sentencepiece(path / "tokenizer", add_dummy_prefix=add_dummy_prefix)
    added = {
        str(SP_VOCAB + i): {
            "content": t,
            "special": True,
            "normalized": False,
            "lstrip": False,
            "rstrip": False,
            "single_word": False,
        }
        for i, t in enumerate(ADDED)
    }
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "InternLM2Tokenizer",
                "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer", None]},
                "add_bos_token": True,
                "add_eos_token": False,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "pad_token": "</s>",
                "unk_token": "<unk>",
                "model_max_length": 4096,
                "added_tokens_decoder": added,
            },
            indent=2,
        )
    )
    return model, sp_model
