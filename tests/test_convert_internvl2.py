"""InternVL2 (remote-code format) -> native InternVL conversion: exact weights and logits, tokenizer ids equal to
SentencePiece's, InternVL2 tiling, clear errors, and the converted model through train/sft_geo.py and eval/run.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, run_script
from PIL import Image

pytest.importorskip("sentencepiece")
from internvl2_checkpoint import ADDED, SP_VOCAB, write_internvl2_checkpoint  # noqa: E402

from redstar_geo.convert_internvl2 import (  # noqa: E402
    ConversionError,
    convert_internvl2,
    convert_tokenizer,
    split_internlm2_wqkv,
)
from redstar_geo.models import ModelLoadError, load_model_and_processor  # noqa: E402


@pytest.fixture(scope="session")
def internvl2(tmp_path_factory):
    """(original-format dir, converted dir, reference native model with the same weights)."""
    root = tmp_path_factory.mktemp("internvl2")
    reference, _ = write_internvl2_checkpoint(root / "InternVL2-tiny")
    converted = convert_internvl2(root / "InternVL2-tiny", root / "InternVL2-tiny-hf", max_shard_gb=0.0002)
    return root / "InternVL2-tiny", converted, reference


def _diagram(width, height, seed=0):
    return Image.fromarray((np.random.RandomState(seed).rand(height, width, 3) * 255).astype("uint8"))


def test_wqkv_split_follows_internlm2_row_layout():
    # 4 query heads, 2 key/value heads, head_dim 1: per kv head the rows are q, q, k, v.
    config = type("C", (), {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 1})()
    wqkv = torch.arange(8.0).reshape(8, 1)  # rows: q0 q1 k0 v0 | q2 q3 k1 v1
    q, k, v = split_internlm2_wqkv(wqkv, config)
    assert q.flatten().tolist() == [0, 1, 4, 5]
    assert k.flatten().tolist() == [2, 6]
    assert v.flatten().tolist() == [3, 7]
    q, k, v = split_internlm2_wqkv(torch.arange(8.0), config)  # a bias splits the same way
    assert (q.tolist(), k.tolist(), v.tolist()) == ([0, 1, 4, 5], [2, 6], [3, 7])


def test_converted_checkpoint_reproduces_the_original_logits(internvl2, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, converted, reference = internvl2
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "internvl" and "auto_map" not in config  # no remote code
    assert config["text_config"]["rope_parameters"]["rope_type"] == "dynamic"
    assert len(json.loads((converted / "model.safetensors.index.json").read_text())["weight_map"]) == 67

    model, processor = load_model_and_processor(str(converted))
    assert type(model).__name__ == "InternVLForConditionalGeneration"
    # untied, as in InternLM2
    assert not torch.equal(model.lm_head.weight, model.model.language_model.embed_tokens.weight)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find angle ABC."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text == "<s><|im_start|>user\n<IMG_CONTEXT>\nFind angle ABC.<|im_end|>\n<|im_start|>assistant\n"
    # 170x60: InternVL2's tiling picks a 3x1 grid, plus a thumbnail; 4 image tokens per 56-px tile here.
    batch = processor(text=[text], images=[_diagram(170, 60)], return_tensors="pt")
    assert batch["pixel_values"].shape == (4, 3, 56, 56)
    ids = batch["input_ids"][0].tolist()
    context = processor.tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")
    assert ids[0] == 1 and ids.count(1) == 1 and ids.count(context) == 16
    assert context == model.config.image_token_id == SP_VOCAB + 2
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reference(**batch).logits)
    square = processor(text=[text], images=[_diagram(40, 40)], return_tensors="pt")
    assert square["pixel_values"].shape[0] == 1  # one tile, no thumbnail

    generation = json.loads((converted / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [processor.tokenizer.convert_tokens_to_ids("<|im_end|>"), 2]


def test_tokenizer_gives_sentencepiece_ids(internvl2):
    import sentencepiece as spm

    src, _, _ = internvl2
    sp = spm.SentencePieceProcessor(model_file=str(src / "tokenizer.model"))
    tokenizer = convert_tokenizer(src)
    texts = [
        "In triangle ABC, AB = AC and ∠A = 50°, so ∠B = 65°.",
        "  two  spaces\tand a tab\n\nnew lines",
        "如图，AB是⊙O的直径，求∠BAC的度数",
        "x = \\frac{1}{2} \\sqrt{3} π ≈ 1.5708",
        "emoji 😀 and ünïcödé",
        "12345 + 0.75 = 12345.75",
    ]
    for text in texts:
        assert tokenizer(text)["input_ids"] == sp.encode(text), text  # <s> comes from the chat template
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    for offset, token in enumerate(ADDED):
        assert tokenizer.convert_tokens_to_ids(token) == SP_VOCAB + offset
    assert tokenizer("<|im_start|>user\nhi<|im_end|>")["input_ids"] == sp.encode("<|im_start|>user\nhi<|im_end|>")
    assert tokenizer("<img><IMG_CONTEXT></img>", add_special_tokens=False)["input_ids"] == [400, 402, 401]


def test_bad_checkpoints_are_clear_errors(internvl2, tmp_path):
    src, converted, _ = internvl2
    prefixed = tmp_path / "prefixed"
    write_internvl2_checkpoint(prefixed, add_dummy_prefix=True)  # unlike InternLM2's tokenizer
    with pytest.raises(ConversionError, match=r"prefixed/tokenizer.model: .*add_dummy_prefix=True"):
        convert_internvl2(prefixed, tmp_path / "prefixed-hf")
    with pytest.raises(ConversionError, match="already holds a checkpoint"):
        convert_internvl2(src, converted)

    qwen = tmp_path / "qwen"
    write_internvl2_checkpoint(qwen)
    config = json.loads((qwen / "config.json").read_text())
    config["llm_config"]["architectures"] = ["Qwen2ForCausalLM"]
    (qwen / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match=r"qwen/config.json: language model Qwen2ForCausalLM"):
        convert_internvl2(qwen, tmp_path / "qwen-hf")

    renamed = tmp_path / "renamed"
    write_internvl2_checkpoint(renamed)
    from safetensors.torch import load_file, save_file

    shard = renamed / "model-00002-of-00002.safetensors"
    tensors = load_file(str(shard))
    tensors["language_model.model.layers.0.attention.wqkv_typo.weight"] = tensors.pop(
        "language_model.model.layers.0.attention.wqkv.weight"
    )
    save_file(tensors, str(shard))
    with pytest.raises(ConversionError, match=r"model-00002-of-00002.safetensors: unknown parameter .*wqkv_typo"):
        convert_internvl2(renamed, tmp_path / "renamed-hf")
    assert not (tmp_path / "renamed-hf").exists()  # nothing half-written under the output name

    shard.unlink()
    with pytest.raises(ConversionError, match="model-00002-of-00002.safetensors: listed in .* but missing"):
        convert_internvl2(renamed, tmp_path / "renamed-hf")


def test_unconverted_checkpoint_points_to_the_converter(internvl2):
    src, _, _ = internvl2
    with pytest.raises(ModelLoadError, match="data_prep/convert_internvl2.py"):
        load_model_and_processor(str(src))


def test_converted_model_trains_and_evaluates(internvl2, tmp_path):
    """The paper's architecture through the real job scripts: SFT (loss goes down, reloadable) then evaluation."""
    _, converted, _ = internvl2
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    out = tmp_path / "sft"
    args = [
        sys.executable,
        str(ROOT / "train" / "sft_geo.py"),
        "--config",
        str(ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"),
        "--model_name_or_path",
        str(converted),
        "--output_dir",
        str(out),
        "--dataset",
        str(ROOT / "tests" / "assets" / "sft" / "train.jsonl"),
        "--max_steps",
        "10",
        "--save_steps",
        "10",
        "--image_max_tiles",
        "2",
    ]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 of 6 samples kept" in proc.stdout
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert state["global_step"] == 10 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses
    model, processor = load_model_and_processor(str(out))
    assert type(model).__name__ == "InternVLForConditionalGeneration"
    assert processor.image_processor.max_patches == 2  # the training budget is saved with the checkpoint

    bad = subprocess.run(
        [*args, "--image_max_pixels", "50000", "--output_dir", str(tmp_path / "bad")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "for InternVL use image_max_tiles" in bad.stderr

    result = run_script(
        "eval/run.py",
        "--bench",
        "geosynth",
        "--data",
        "geosynth:eval:4",
        "--model",
        str(out),
        "--max_new_tokens",
        "8",
        "--out",
        str(tmp_path / "eval"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["n"] == 4 and summary["errors"] == 0 and summary["mean_response_tokens"] > 0
    samples = [json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").open()]
    assert [s["id"] for s in samples] == [f"eval-{i:04d}" for i in range(4)]


def test_label_masking_with_the_converted_processor(internvl2):
    """Literal ids: <s> <|im_start|>user\\n <img> 4 x <IMG_CONTEXT> </img> \\n Find x.<|im_end|>\\n
    <|im_start|>assistant\\n | x = 3<|im_end|>\\n -- one BOS at the very start, none before the completion."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from redstar_geo.sft_data import parse_record, to_trl_dataset

    _, converted, _ = internvl2
    _, processor = load_model_and_processor(str(converted))
    (sample,) = [
        parse_record(
            {
                "id": "m",
                "image": str(ROOT / "tests" / "assets" / "sft" / "images" / "tri_0.png"),
                "messages": [{"role": "user", "content": "Find x."}],
                "completion": "x = 3",
            }
        )
    ]
    collator = DataCollatorForVisionLanguageModeling(processor, max_length=512, completion_only_loss=True)
    batch = collator([to_trl_dataset([sample])[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    tok = processor.tokenizer
    encode = lambda text: tok(text, add_special_tokens=False)["input_ids"]
    tiles = batch["pixel_values"].shape[0]
    prompt = [
        1,
        *encode("<|im_start|>user\n"),
        400,
        *[402] * (4 * tiles),
        401,
        *encode("\nFind x.<|im_end|>\n<|im_start|>assistant\n"),
    ]
    completion = encode("x = 3<|im_end|>\n")
    assert ids == prompt + completion and ids.count(1) == 1
    assert labels == [-100] * len(prompt) + completion
    # Inference renders the very same prompt ids (the generation backend's path).
    image = Image.open(ROOT / "tests" / "assets" / "sft" / "images" / "tri_0.png")
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Find x."}]}]
    rendered = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert list(rendered["input_ids"][0]) == prompt
