"""The tiny offline Qwen2-VL and model loading (CPU, no network)."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from PIL import Image  # noqa: E402
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402

from redstar_geo.models import ModelLoadError, load_model_and_processor  # noqa: E402
from redstar_geo.tiny_model import QWEN2_VL_SPECIAL_TOKENS  # noqa: E402


@pytest.fixture
def tiny_model(tiny_dir) -> str:
    return str(tiny_dir)


def test_tiny_model_reloads_offline_with_auto_classes(tiny_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = AutoProcessor.from_pretrained(tiny_dir)
    tok = processor.tokenizer
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    # Every special id the model relies on is the tokenizer's id for that token, inside the tiny vocabulary.
    config = model.config
    assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert config.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert config.text_config.eos_token_id == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert config.text_config.pad_token_id == tok.pad_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert all(tok.convert_tokens_to_ids(t) < config.text_config.vocab_size for t in QWEN2_VL_SPECIAL_TOKENS)
    head_dim = config.text_config.hidden_size // config.text_config.num_attention_heads
    assert sum(config.text_config.rope_parameters["mrope_section"]) == head_dim // 2


def test_tiny_model_runs_a_224px_diagram_with_few_image_tokens(tiny_dir):
    model, processor = load_model_and_processor(str(tiny_dir), torch_dtype="float32")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find angle ABC."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert text.endswith("<|im_start|>assistant\n")
    batch = processor(text=[text], images=[Image.new("RGB", (224, 224), "white")], return_tensors="pt")
    n_image_tokens = int((batch["input_ids"] == model.config.image_token_id).sum())
    assert n_image_tokens == 16  # 112x112 after resizing: 8x8 patches of 14 px, merged 2x2
    out = model(**batch, labels=batch["input_ids"])
    assert torch.isfinite(out.loss)
    generated = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert generated.shape[1] <= batch["input_ids"].shape[1] + 3


def test_tokenizer_round_trips_geometry_text(tiny_dir):
    tok = AutoProcessor.from_pretrained(tiny_dir).tokenizer
    text = "∠ABC = 40°, so x = \\frac{1}{2} \\times 80° 如图"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_remote_code_model_needs_explicit_trust(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "internvl_chat", "auto_map": {}}))
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        load_model_and_processor(str(tmp_path))


def test_missing_model_path_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="without config.json"):
        load_model_and_processor(str(tmp_path))
    with pytest.raises(ModelLoadError, match="not a local model directory"):
        load_model_and_processor(str(tmp_path / "no" / "such-model"))


def test_lora_adapter_directory_loads_merged_onto_its_base(tiny_dir, tmp_path):
    peft = pytest.importorskip("peft")
    base, processor = load_model_and_processor(str(tiny_dir), torch_dtype="float32")
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lora = peft.get_peft_model(base, config)
    lora.save_pretrained(tmp_path / "adapter")  # adapter_config.json names tiny_dir as its base
    processor.save_pretrained(tmp_path / "adapter")
    inputs = {"input_ids": torch.tensor([[5, 6, 7, 8]])}
    with torch.no_grad():
        expected = lora(**inputs).logits
        merged, merged_processor = load_model_and_processor(str(tmp_path / "adapter"), torch_dtype="float32")
        plain, _ = load_model_and_processor(str(tiny_dir), torch_dtype="float32")
        assert type(merged).__name__ == "Qwen2VLForConditionalGeneration"  # merged: a plain model, no PEFT wrapper
        torch.testing.assert_close(merged(**inputs).logits, expected, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(plain(**inputs).logits, expected, atol=1e-4)  # the adapter changed the outputs
    assert merged_processor.tokenizer.vocab_size == processor.tokenizer.vocab_size


def test_adapter_without_base_is_a_clear_error(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ModelLoadError, match="no base_model_name_or_path"):
        load_model_and_processor(str(tmp_path))
