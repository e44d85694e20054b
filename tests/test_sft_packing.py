"""Padding-free packed SFT (redstar_geo.sft.PackedVisionCollator, --padding_free true) on the tiny Qwen2-VL, CPU."""

import json
import types
from pathlib import Path

import pytest
from conftest import train_sft

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402
from trl import ModelConfig  # noqa: E402
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling  # noqa: E402

from redstar_geo import training  # noqa: E402
from redstar_geo.config import parse_config  # noqa: E402
from redstar_geo.packing import enable_varlen_attention  # noqa: E402
from redstar_geo.sft import PackedVisionCollator, SFTConfig, SFTScriptArguments, SFTSetupError, run_sft  # noqa: E402
from redstar_geo.sft_data import load_and_validate, to_trl_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "tests" / "assets" / "sft"


@pytest.fixture
def tiny_model(tiny_dir) -> str:
    return str(tiny_dir)


@pytest.fixture(scope="module")
def rows(processor):
    samples, _ = load_and_validate(str(ASSETS / "train.jsonl"), processor, 512)
    dataset = to_trl_dataset(samples)
    return [dataset[i] for i in range(len(dataset))]


def trl_collator(processor):
    return DataCollatorForVisionLanguageModeling(processor, max_length=512, completion_only_loss=True)


def test_packed_row_is_the_concatenation_of_trl_samples(tiny_dir, processor, rows):
    config = AutoModelForImageTextToText.from_pretrained(tiny_dir).config
    batch_rows = rows[:3]
    alone = [trl_collator(processor)([dict(r)]) for r in batch_rows]  # each sample by itself: no padding
    ids = [a["input_ids"][0].tolist() for a in alone]
    labels = [a["labels"][0].tolist() for a in alone]
    packed = PackedVisionCollator(processor, config, max_length=512)([dict(r) for r in batch_rows])

    assert packed["input_ids"].tolist() == [ids[0] + ids[1] + ids[2]]
    assert packed["labels"].tolist() == [labels[0] + labels[1] + labels[2]]
    assert packed["attention_mask"].tolist() == [[1] * sum(map(len, ids))]
    assert torch.equal(packed["pixel_values"], torch.cat([a["pixel_values"] for a in alone]))
    assert packed["image_grid_thw"].tolist() == [a["image_grid_thw"][0].tolist() for a in alone]
    text_pos = packed["position_ids"][0, 0].tolist()  # (4, 1, T): row 0 restarts at every sample
    assert text_pos == [i for n in map(len, ids) for i in range(n)]

    # Literal layout of the first sample: <|im_start|> ... 16 x <|image_pad|> ... assistant\n | completion <|im_end|>\n
    tok = processor.tokenizer
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    completion = tok(batch_rows[0]["completion"][0]["content"][0]["text"] + "<|im_end|>\n", add_special_tokens=False)[
        "input_ids"
    ]
    n_prompt = len(ids[0]) - len(completion)
    assert ids[0][0] == tok.convert_tokens_to_ids("<|im_start|>") and ids[0].count(image_pad) == 16
    assert ids[0][n_prompt:] == completion and labels[0][n_prompt:] == completion
    assert labels[0][:n_prompt] == [-100] * n_prompt  # system, user text and every image token are masked

    # The padded TRL batch of the same rows holds the same tokens and labels, plus padding.
    padded = trl_collator(processor)([dict(r) for r in batch_rows])
    for r in range(3):
        real = padded["attention_mask"][r].bool()
        assert padded["input_ids"][r][real].tolist() == ids[r]
        assert padded["labels"][r][real].tolist() == labels[r]
    assert padded["input_ids"].numel() > packed["input_ids"].numel() == sum(map(len, ids))


@pytest.fixture(scope="module")
def tiny_qwen25_dir(tiny_dir, tmp_path_factory):
    """A tiny random Qwen2.5-VL (windowed vision attention) with the tiny Qwen2-VL's text model and processor."""
    from transformers import AutoConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    base = AutoConfig.from_pretrained(tiny_dir)
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "patch_size": 14,
        "out_hidden_size": base.text_config.hidden_size,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    tokens = {
        k: getattr(base, k)
        for k in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    }
    config = Qwen2_5_VLConfig(text_config=base.text_config.to_dict(), vision_config=vision, **tokens)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny") / "qwen25vl"
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(out)
    AutoProcessor.from_pretrained(tiny_dir).save_pretrained(out)
    return out


@pytest.mark.parametrize("arch", ["qwen2_vl", "qwen2_5_vl"])
def test_packed_loss_equals_padded_loss(arch, request, processor, rows):
    """Same weights, same 4 samples: the packed row's loss is the padded batch's token-weighted mean loss."""
    path = request.getfixturevalue("tiny_dir" if arch == "qwen2_vl" else "tiny_qwen25_dir")
    padded_model = AutoModelForImageTextToText.from_pretrained(
        path, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    packed_model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32).eval()
    assert packed_model.config.model_type == arch
    enable_varlen_attention(packed_model)
    batch_rows = rows[:4]
    padded = trl_collator(processor)([dict(r) for r in batch_rows])
    packed = PackedVisionCollator(processor, packed_model.config, max_length=512)([dict(r) for r in batch_rows])
    with torch.no_grad():
        expected = padded_model(**padded).loss
        got = packed_model(**packed).loss
    # Attention leaking across samples moves this tiny model's loss by ~1e-3 (checked by hand with stock SDPA).
    assert torch.allclose(got, expected, atol=1e-5), (got, expected)


def test_packing_and_unsupported_models_are_clear_errors(tmp_path, monkeypatch):
    args = [
        "--model_name_or_path",
        str(tmp_path / "model"),
        "--output_dir",
        str(tmp_path / "out"),
        "--use_cpu",
        "true",
        "--dataset",
        "geosynth",  # never generated: both errors come first
    ]
    configs = (SFTScriptArguments, SFTConfig, ModelConfig)
    script_args, training_args, model_args = parse_config(*configs, args=[*args, "--packing", "true"])
    with pytest.raises(SFTSetupError, match="use padding_free: true"):
        run_sft(script_args, training_args, model_args)
    internvl = types.SimpleNamespace(config=types.SimpleNamespace(model_type="internvl"))
    monkeypatch.setattr(training, "load_model_and_processor", lambda *a, **k: (internvl, None))
    script_args, training_args, model_args = parse_config(*configs, args=[*args, "--padding_free", "true"])
    with pytest.raises(SFTSetupError, match="qwen2_vl, qwen2_5_vl .* not 'internvl'"):
        run_sft(script_args, training_args, model_args)


def test_train_script_with_padding_free(tiny_dir, processor, rows, tmp_path):
    def train(out, *extra):
        proc = train_sft(
            [
                "--config",
                str(ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"),
                "--model_name_or_path",
                str(tiny_dir),
                "--output_dir",
                str(out),
                "--save_steps",
                "100",
                "--max_steps",
                "12",
                "--dataset",
                str(ASSETS / "train.jsonl"),
                *extra,
            ]
        )
        assert "6 of 6 samples kept" in proc.stdout
        return [e for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in e]

    out = tmp_path / "packed"
    logged = train(out, "--padding_free", "true")
    losses = [e["loss"] for e in logged]
    assert len(losses) == 12 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses  # the loss goes down
    # Same seed, same batches: the padded run's loss curve is the same, step for step (equal losses and gradients).
    padded = [e["loss"] for e in train(tmp_path / "padded")]
    assert losses == pytest.approx(padded, abs=1e-4)
    # 6 samples, 2 per packed row: every 3 steps is one epoch, and each step's row holds exactly its samples' tokens
    # (no padding), so the token count after each epoch is a multiple of the dataset's total length.
    epoch_tokens = sum(trl_collator(processor)([dict(r)])["input_ids"].shape[1] for r in rows)
    assert [e["num_tokens"] for e in logged[2::3]] == [epoch_tokens * k for k in (1, 2, 3, 4)]
    assert '"padding_free": true' in (out / "README.md").read_text()
