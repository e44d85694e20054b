"""Resuming SFT from a checkpoint continues the run exactly: after ``--resume_from_checkpoint auto`` the final weights
and the loss curve equal those of the uninterrupted run (Qwen2-VL and converted InternVL, full weights and LoRA), and
a checkpoint that cannot fill the model is an error rather than training on from the base weights."""

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

import torch  # noqa: E402
from conftest import ROOT  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForImageTextToText, Qwen2_5_VLConfig, Trainer, TrainingArguments  # noqa: E402
from trl import ModelConfig  # noqa: E402

from redstar_geo.config import parse_config  # noqa: E402
from redstar_geo.sft import SFTConfig, SFTScriptArguments, run_sft  # noqa: E402
from redstar_geo.training import CheckpointLoadError, ResumeMixin, load_checkpoint_weights  # noqa: E402

RECIPE = ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"
DATASET = ROOT / "tests" / "assets" / "sft" / "train.jsonl"
STEPS = 8  # checkpoint at STEPS // 2; 6 samples, 2 per step: the resumed half starts inside the second epoch


def _options(model, out, *extra) -> list[str]:
    """The tiny recipe on the 6-sample set; the interrupted and the resumed run use the very same options."""
    return [
        "--model_name_or_path",
        str(model),
        "--build_tiny_model",
        "false",
        "--dataset",
        str(DATASET),
        "--output_dir",
        str(out),
        "--max_steps",
        str(STEPS),
        "--save_steps",
        str(STEPS // 2),
        *extra,
    ]


def _train(model, out, *extra):
    script_args, training_args, model_args = parse_config(
        SFTScriptArguments, SFTConfig, ModelConfig, args=["--config", str(RECIPE), *_options(model, out, *extra)]
    )
    return run_sft(script_args, training_args, model_args)


def _killed_at_half(full, tmp_path):
    """The output directory of a run with the same options killed right after it saved checkpoint-STEPS/2: the
    uninterrupted run's checkpoint is byte for byte what that run leaves, so it is copied instead of retrained."""
    out = tmp_path / "resumed"
    out.mkdir()
    shutil.copytree(full / f"checkpoint-{STEPS // 2}", out / f"checkpoint-{STEPS // 2}")
    return out


def _weights(out) -> dict:
    name = "adapter_model.safetensors" if (out / "adapter_model.safetensors").is_file() else "model.safetensors"
    return load_file(str(out / name))


def _losses(out) -> dict[int, float]:
    state = json.loads((out / "trainer_state.json").read_text())
    return {entry["step"]: entry["loss"] for entry in state["log_history"] if "loss" in entry}


def _assert_continues_like_uninterrupted(full, resumed):
    expected, got = _weights(full), _weights(resumed)
    assert got.keys() == expected.keys()
    worst = max((got[k].float() - expected[k].float()).abs().max().item() for k in expected)
    assert worst <= 1e-5, f"resumed weights differ from the uninterrupted run's by {worst}"
    reference, losses = _losses(full), _losses(resumed)
    assert sorted(losses) == list(range(1, STEPS + 1))  # the checkpoint's history, then the resumed steps
    first = STEPS // 2 + 1
    for step in range(first, STEPS + 1):
        assert losses[step] == pytest.approx(reference[step], abs=1e-4), (step, losses, reference)
    # Continues from the trained weights, not back at the starting loss (what training from the base weights gives).
    assert losses[first] < (reference[1] + reference[first]) / 2, (losses, reference)


@pytest.fixture(scope="module")
def internvl_dir(tmp_path_factory):
    """A tiny InternVL2 checkpoint converted to transformers' native ``internvl`` (data_prep/convert_internvl2.py)."""
    pytest.importorskip("sentencepiece")
    from internvl2_checkpoint import write_internvl2_checkpoint

    from redstar_geo.convert_internvl2 import convert_internvl2

    root = tmp_path_factory.mktemp("internvl2")
    write_internvl2_checkpoint(root / "InternVL2-tiny")
    return convert_internvl2(root / "InternVL2-tiny", root / "InternVL2-tiny-hf")


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("arch", ["qwen2_vl", "internvl"])
def test_resume_continues_exactly_where_it_stopped(arch, lora, request, tmp_path):
    model = request.getfixturevalue("tiny_dir" if arch == "qwen2_vl" else "internvl_dir")
    extra = ["--image_max_tiles", "2"] if arch == "internvl" else []
    if lora:
        extra += ["--use_peft", "true", "--lora_r", "4"]  # lora_dropout stays on: the checkpoint's RNG state counts
    full = tmp_path / "full"
    _train(model, full, *extra)
    assert (full / f"checkpoint-{STEPS // 2}").is_dir()
    resumed = _killed_at_half(full, tmp_path)
    result = _train(model, resumed, *extra, "--resume_from_checkpoint", "auto")
    assert result.steps == STEPS
    _assert_continues_like_uninterrupted(full, resumed)


def test_resume_through_the_script_with_the_default_recipe(tiny_dir, tmp_path):
    """train/sft_geo.py with flags but no --config (the default recipe underneath) resumes to the same weights."""
    full = tmp_path / "full"
    script_args, training_args, model_args = parse_config(
        SFTScriptArguments, SFTConfig, ModelConfig, args=_options(tiny_dir, full), default_config=RECIPE
    )
    run_sft(script_args, training_args, model_args)
    resumed = _killed_at_half(full, tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train" / "sft_geo.py"),
            *_options(tiny_dir, resumed),
            "--resume_from_checkpoint",
            "auto",
        ],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"trained {STEPS} steps" in proc.stdout
    _assert_continues_like_uninterrupted(full, resumed)


def test_resume_auto_without_the_output_dir_is_one_clean_error(tmp_path):
    nowhere = tmp_path / "never-trained"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train" / "sft_geo.py"),
            "--model_name_or_path",
            str(tmp_path / "tiny"),
            "--output_dir",
            str(nowhere),
            "--resume_from_checkpoint",
            "auto",
        ],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert str(nowhere) in line and "does not exist" in line
    assert not (tmp_path / "tiny").exists()  # refused before building or loading anything


def _tiny_qwen25vl(seed: int):
    """A tiny random Qwen2.5-VL with tied embeddings (like Qwen2.5-VL-3B), built from its config."""
    ids = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": 128,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [1, 1, 2]},
            "tie_word_embeddings": True,
            **ids,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "out_hidden_size": 32,
            "fullatt_block_indexes": [1],
        },
        tie_word_embeddings=True,
        image_token_id=2,
        video_token_id=3,
        vision_start_token_id=4,
        **ids,
    )
    torch.manual_seed(seed)
    return AutoModelForImageTextToText.from_config(config)


class _Trainer(ResumeMixin, Trainer):
    pass


def test_sharded_checkpoint_in_the_original_layout_loads_through_the_mixin(tmp_path):
    """Qwen2.5-VL: save_pretrained writes the original layout (visual.*, model.layers.*), here in shards, without
    the tied lm_head; both of the mixin's loads fill every weight of a differently initialised model."""
    trained = _tiny_qwen25vl(seed=0)
    checkpoint = tmp_path / "checkpoint-1"
    trained.save_pretrained(checkpoint, max_shard_size="20KB")
    weight_map = json.loads((checkpoint / "model.safetensors.index.json").read_text())["weight_map"]
    assert len(set(weight_map.values())) > 1 and "lm_head.weight" not in weight_map
    assert any(k.startswith("visual.") for k in weight_map) and any(k.startswith("model.layers.") for k in weight_map)
    own = {name for name, _ in trained.named_parameters()}
    assert not set(weight_map) & own  # no saved key is a module name: a raw load_state_dict would load nothing

    expected = trained.state_dict()
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    for load in ("_load_from_checkpoint", "_load_best_model"):
        model = _tiny_qwen25vl(seed=1)
        trainer = _Trainer(model=model, args=args)
        trainer.state.best_model_checkpoint = str(checkpoint)
        getattr(trainer, load)(*([str(checkpoint)] if load == "_load_from_checkpoint" else []))
        got = model.state_dict()
        assert got.keys() == expected.keys()
        for name in expected:
            assert torch.equal(got[name], expected[name]), (load, name)
        assert model.lm_head.weight is model.model.language_model.embed_tokens.weight  # still tied


def test_checkpoint_missing_weights_is_an_error(tiny_dir, tmp_path):
    checkpoint = tmp_path / "checkpoint-5"
    shutil.copytree(tiny_dir, checkpoint)
    tensors = load_file(str(checkpoint / "model.safetensors"))
    del tensors["visual.merger.mlp.0.weight"]
    tensors["visual.merger.mlp.0.weight_typo"] = torch.zeros(1)
    save_file(tensors, str(checkpoint / "model.safetensors"))
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    with pytest.raises(
        CheckpointLoadError, match=r"1 of the model's \d+ weights .*model\.visual\.merger\.mlp\.0\.weight"
    ):
        load_checkpoint_weights(model, checkpoint)
