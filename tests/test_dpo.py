"""DPO: preference-pair loading (every form synthesis writes), over-long pairs dropped rather than truncated, bad
records named by file/line/id, TRL options (rpo_alpha, ld_alpha), recipes, the real train/dpo_geo.py end to end on
the tiny model from an SFT checkpoint (loss falls, chosen-over-rejected margin rises), and resuming to the same
weights."""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

import torch  # noqa: E402
from conftest import ROOT  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForImageTextToText  # noqa: E402
from trl import ModelConfig  # noqa: E402

from redstar_geo.config import parse_config  # noqa: E402
from redstar_geo.dpo import (  # noqa: E402
    DPOConfig,
    DPOScriptArguments,
    check_dpo_args,
    load_and_validate_pairs,
    pair_lengths,
    run_dpo,
    setup_data,
    setup_trainer,
    to_trl_preference_dataset,
)
from redstar_geo.jsonl import DataError, IssueLog  # noqa: E402
from redstar_geo.sft import SFTConfig, SFTScriptArguments, run_sft  # noqa: E402
from redstar_geo.training import TrainingSetupError  # noqa: E402

ASSETS = ROOT / "tests" / "assets" / "dpo"
PAIRS = ASSETS / "dpo.jsonl"  # 15 pairs data_prep/synthesize.py wrote (offline teacher, 16 GeoSynth problems)
RECIPE = ROOT / "recipes" / "dpo" / "tiny_qwen2vl_cpu.yaml"
RECIPES = sorted((ROOT / "recipes" / "dpo").glob("*.yaml"))
# The pairs whose looping rejected trace passes 2,048 tokens under the tiny tokenizer (image + prompt + trace).
TOO_LONG_AT_2048 = {"000001#s2-s1", "000006#s2-s1", "000009#s1-s2", "000010#s3-s1"}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _records() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]


def _parse(*args: str):
    return parse_config(DPOScriptArguments, DPOConfig, ModelConfig, args=["--config", str(RECIPE), *args])


@pytest.fixture(scope="module")
def sft_checkpoint(tiny_dir, tmp_path_factory):
    """The tiny model after a few steps of train/sft_geo.py's tiny recipe: where DPO starts."""
    out = tmp_path_factory.mktemp("sft") / "sft-tiny"
    sft_args = parse_config(
        SFTScriptArguments,
        SFTConfig,
        ModelConfig,
        args=[
            "--config",
            str(ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"),
            "--model_name_or_path",
            str(tiny_dir),
            "--build_tiny_model",
            "false",
            "--dataset",
            str(ROOT / "tests" / "assets" / "sft" / "train.jsonl"),
            "--output_dir",
            str(out),
            "--max_steps",
            "4",
            "--save_strategy",
            "no",
        ],
    )
    run_sft(*sft_args)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Data


def _texts(pair) -> tuple:
    return (pair.prompt, pair.chosen, pair.rejected, len(pair.images))


def test_synthesis_pairs_and_their_exports_load_alike(tmp_path):
    """dpo.jsonl as synthesis writes it, its Hugging Face export (TRL's preference form) and its LLaMA-Factory
    ShareGPT export give the same pairs."""
    from redstar_geo.synthesis.export import export_hf, export_sharegpt

    pairs, report = load_and_validate_pairs(str(PAIRS))
    assert (report.kept, report.total) == (15, 15) and not report.dropped
    first = pairs[0]
    assert first.id == "000000#s1-s0" and first.images[0] == str(ASSETS / "images" / "000000.png")
    assert first.prompt[0]["role"] == "user" and first.prompt[0]["content"][0] == {"type": "image"}
    assert first.chosen[0]["role"] == "assistant" and first.chosen[0]["content"][0]["text"].startswith("<think>")
    assert first.rejected[0]["content"][0]["text"] == _records()[0]["rejected"]

    hf = export_hf([], _records(), ASSETS, tmp_path / "hf")["dpo"]
    from_hf, hf_report = load_and_validate_pairs(str(hf))
    assert hf_report.kept == 15 and [p.id for p in from_hf] == [p.id for p in pairs]
    assert [_texts(p) for p in from_hf] == [_texts(p) for p in pairs]
    assert isinstance(from_hf[0].images[0], bytes)  # embedded image bytes

    sharegpt = export_sharegpt([], _records(), ASSETS, tmp_path / "sharegpt")["dpo"]
    from_sharegpt, sharegpt_report = load_and_validate_pairs(str(sharegpt))
    assert sharegpt_report.kept == 15
    assert [_texts(p) for p in from_sharegpt] == [_texts(p) for p in pairs]
    # What survives converts to TRL's vision preference dataset.
    dataset = to_trl_preference_dataset(pairs[:2])
    assert dataset.column_names == ["id", "images", "prompt", "chosen", "rejected"]
    assert dataset[0]["images"][0].size == (360, 208)


def test_over_long_pairs_are_dropped_and_the_rest_never_truncated(processor, tiny_dir):
    kept, report = load_and_validate_pairs(str(PAIRS), processor, max_length=2048)
    assert (report.kept, report.total, dict(report.dropped)) == (11, 15, {"too_long": 4})
    assert {example.split(":")[0] for example in report.examples["too_long"]} == TOO_LONG_AT_2048
    assert "dpo.jsonl line 2: chosen 1278 / rejected 5290 tokens > max_length 2048" in report.format()
    assert "11 of 15 pairs kept" in report.format()
    # The counted length is the whole sequence training sees: every image token (as many as the processor's patch
    # grid gives, plus <|vision_start|> and <|vision_end|>) and every trace token.
    pair = kept[0]
    images = pair.as_sample().load_images()
    chosen, rejected = pair_lengths(pair, processor, images)
    assert max(chosen, rejected) <= report.max_tokens <= 2048
    without_image = dataclasses.replace(
        pair,
        images=[],
        prompt=[{**m, "content": [b for b in m["content"] if b["type"] != "image"]} for m in pair.prompt],
    )
    grid = processor.image_processor(images=images, return_tensors="pt")["image_grid_thw"]
    image_tokens = int(grid.prod()) // processor.image_processor.merge_size**2
    assert image_tokens > 0
    assert pair_lengths(without_image, processor, []) == (chosen - image_tokens - 2, rejected - image_tokens - 2)

    # The trainer is built without a cut (TRL would truncate at max_length) while the run keeps its max_length.
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    script_args, training_args, _ = _parse("--dataset", str(PAIRS), "--output_dir", "unused", "--max_length", "2048")
    dataset, _ = setup_data(script_args, processor, training_args)
    trainer = setup_trainer(
        model=model, processor=processor, train_dataset=dataset, peft_config=None, training_args=training_args
    )
    assert trainer.data_collator.max_length is None and training_args.max_length == 2048
    batch = trainer.data_collator([dict(row) for row in dataset.select(range(2))])
    lengths = sorted(batch["attention_mask"].sum(dim=1).tolist())
    expected = []
    for p in kept[:2]:
        expected.extend(pair_lengths(p, processor, p.as_sample().load_images()))
    assert lengths == sorted(expected)


def test_bad_records_are_dropped_and_named_by_file_line_and_id(processor, tmp_path):
    good = _records()[0]
    image = str(ASSETS / good["image"])
    ok = {**good, "image": image}
    lines = [
        json.dumps(ok),  # 1
        json.dumps({**ok, "id": "no_rejected", "rejected": None}),  # 2
        json.dumps({**ok, "id": "rejected_int", "rejected": 42}),  # 3
        json.dumps({**ok, "id": "same_twice", "rejected": ok["chosen"]}),  # 4
        json.dumps({**ok, "id": "no_image_file", "image": str(tmp_path / "gone.png")}),  # 5
        '{"id": "cut", "prompt": [',  # 6: a line cut off mid-write
        json.dumps(["not", "an", "object"]),  # 7
        json.dumps({**ok, "id": "two_placeholders", "prompt": [{"role": "user", "content": "<image><image>Find x"}]}),
        json.dumps({**ok, "id": "no_prompt", "prompt": None}),  # 9
        json.dumps({**ok, "id": "empty_chosen", "chosen": "  "}),  # 10
        json.dumps({**ok, "rejected": [{"role": "user", "content": "x"}], "id": None}),  # 11: no id
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    issues = IssueLog()
    kept, report = load_and_validate_pairs(str(path), processor, max_length=4096, issues=issues)
    assert [p.id for p in kept] == [good["id"]]
    assert report.total == 11 and report.kept == 1
    assert dict(report.dropped) == {
        "bad_record": 6,
        "missing_image": 1,
        "no_assistant": 1,
        "placeholder_mismatch": 1,
        "same_completion": 1,
    }
    # Every record the parser refused is in the issues log (file, line, id); the report keeps 5 examples per reason.
    messages = "\n".join([str(issue) for issue in issues] + report.examples["missing_image"])
    for expected in (
        "bad.jsonl line 2, pair 'no_rejected': no 'rejected' trace",
        "bad.jsonl line 3, pair 'rejected_int' (rejected): completion must be a string",
        "bad.jsonl line 4, pair 'same_twice': chosen and rejected are the same text",
        "bad.jsonl line 5: sample 'no_image_file'",  # images are opened after parsing: in the report
        "bad.jsonl:6: invalid JSON",
        "bad.jsonl line 7: not a JSON object",
        "bad.jsonl line 8, pair 'two_placeholders'",
        "bad.jsonl line 9, pair 'no_prompt': no 'prompt' messages",
        "bad.jsonl line 10, pair 'empty_chosen' (chosen): the assistant turn is empty",
        "bad.jsonl line 11 (rejected): completion messages must all be assistant turns",
    ):
        assert expected in messages, (expected, messages)
    assert "gone.png: file not found" in messages
    assert "dropped 6: malformed record; e.g. no_rejected: bad.jsonl line 2" in report.format()
    by_line = {issue.line: issue for issue in issues}
    assert by_line[3].id == "rejected_int" and by_line[3].file == str(path)
    assert by_line[6].message.startswith("invalid JSON") and by_line[11].id is None

    # A file with nothing usable stops before any training, naming the file and what was wrong.
    only_bad = tmp_path / "only_bad.jsonl"
    only_bad.write_text("\n".join(lines[1:4]) + "\n", encoding="utf-8")
    script_args, training_args, _ = _parse("--dataset", str(only_bad), "--output_dir", str(tmp_path / "out"))
    with pytest.raises(
        DataError,
        match=r"no usable preference pairs in .*only_bad\.jsonl:\n(.|\n)*no_rejected: only_bad\.jsonl line 1",
    ):
        setup_data(script_args, processor, training_args)


def test_options_that_cannot_work_are_refused_before_loading(tmp_path):
    script_args, training_args, model_args = _parse(
        "--dataset", str(tmp_path / "none.jsonl"), "--output_dir", str(tmp_path / "out")
    )
    with pytest.raises(TrainingSetupError, match="none.jsonl: no such file"):
        check_dpo_args(script_args, training_args, model_args)
    adapter = tmp_path / "sft-lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    script_args, training_args, model_args = _parse("--model_name_or_path", str(adapter), "--output_dir", "x")
    with pytest.raises(TrainingSetupError, match="a LoRA adapter, not a model; merge it"):
        check_dpo_args(script_args, training_args, model_args)


# ---------------------------------------------------------------------------------------------------------------------
# Options and recipes


def test_rpo_alpha_and_ld_alpha_are_trl_options(capsys):
    _, plain, _ = _parse()
    assert plain.loss_type == ["sigmoid"] and plain.loss_weights is None and plain.ld_alpha is None
    _, rpo, _ = _parse("--rpo_alpha", "0.5", "--ld_alpha", "0.3")
    assert rpo.loss_type == ["sigmoid", "sft"] and rpo.loss_weights == [1.0, 0.5] and rpo.ld_alpha == 0.3
    for bad, message in (
        (["--ld_alpha", "1.5"], "ld_alpha must be in [0, 1]"),
        (["--rpo_alpha", "1", "--loss_type", "sigmoid", "sft"], "rpo_alpha adds the 'sft' loss term"),
    ):
        with pytest.raises(SystemExit):
            _parse(*bad)
        assert message in capsys.readouterr().err


def test_rpo_and_ld_dpo_train_through_trl(sft_checkpoint, tmp_path):
    """rpo_alpha adds the chosen trace's NLL to the loss (TRL's 'sft' term); ld_alpha runs TRL's LD-DPO weighting."""
    args = _parse(
        "--model_name_or_path",
        str(sft_checkpoint),
        "--output_dir",
        str(tmp_path / "rpo"),
        "--max_length",
        "1100",
        "--max_steps",
        "2",
        "--save_strategy",
        "no",
        "--rpo_alpha",
        "1.0",
        "--ld_alpha",
        "0.5",
    )
    result = run_dpo(*args)
    losses = [e["loss"] for e in result.log_history if "loss" in e]
    # Step 1: policy == reference, so the DPO term is ln 2; the loss adds the chosen tokens' mean NLL (several nats
    # for a barely trained tiny model): far above ln 2 alone, which is what plain DPO logs at step 1.
    assert losses[0] > math.log(2) + 1.0, losses
    assert all(math.isfinite(loss) for loss in losses)


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_every_recipe_parses(recipe):
    text = recipe.read_text()
    assert text.startswith("# Hardware:") and "Launch:" in text.split("\n\n")[0]
    script_args, training_args, model_args = parse_config(
        DPOScriptArguments, DPOConfig, ModelConfig, args=["--config", str(recipe), "--use_cpu", "true"]
    )
    assert model_args.model_name_or_path and training_args.output_dir.startswith("runs/")
    assert training_args.max_length and training_args.learning_rate > 0 and training_args.beta > 0


# ---------------------------------------------------------------------------------------------------------------------
# Training


def _curve(out) -> tuple[list[float], list[float], list[dict]]:
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    steps = [e for e in history if "loss" in e and "rewards/margins" in e]
    return [e["loss"] for e in steps], [e["rewards/margins"] for e in steps], steps


def test_train_script_end_to_end_from_an_sft_checkpoint(sft_checkpoint, processor, tmp_path):
    """The default recipe (flags on top) from an SFT checkpoint: the loss falls from ln 2, the reward margin of chosen
    over rejected rises, every pair is trained on whole, and the model, processor and card are saved. (The 3 pairs
    of <= 1,200 tokens, all in each step, keep it quick on 2 cores; the default recipe trains on 11.)"""
    out = tmp_path / "dpo"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train" / "dpo_geo.py"),
            "--model_name_or_path",
            str(sft_checkpoint),
            "--output_dir",
            str(out),
            "--max_length",
            "1200",
            "--per_device_train_batch_size",
            "3",
            "--max_steps",
            "5",
            "--save_steps",
            "5",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DPO data: 3 of 15 pairs kept" in proc.stdout and "dropped 12: image + prompt + trace" in proc.stdout
    assert "reward margin 0.000 -> " in proc.stdout
    losses, margins, steps = _curve(out)
    assert len(losses) == 5
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4) and margins[0] == pytest.approx(0.0, abs=1e-6)
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.2, losses  # the loss falls
    assert sum(margins[-2:]) / 2 > sum(margins[:2]) / 2 + 1.0, margins  # chosen pulls away from rejected
    assert all(later > earlier for earlier, later in zip(margins[:-1], margins[1:], strict=True)), margins
    # Each step saw every token of the 3 pairs (chosen and rejected sequences): nothing was truncated.
    kept, _ = load_and_validate_pairs(str(PAIRS), processor, max_length=1200)
    total = sum(sum(pair_lengths(p, processor, p.as_sample().load_images())) for p in kept)
    assert [step["num_tokens"] for step in steps] == [total * n for n in range(1, 6)]
    for name in ("config.json", "model.safetensors", "processor_config.json", "chat_template.jinja", "README.md"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert "RedStar-Geo DPO checkpoint" in card and "DPOTrainer" in card and '"beta": 0.1' in card
    assert f"base_model: {sft_checkpoint}" in card
    trained, start = load_file(str(out / "model.safetensors")), load_file(str(sft_checkpoint / "model.safetensors"))
    assert trained.keys() == start.keys() and any(not torch.equal(trained[k], start[k]) for k in start)


def test_missing_start_model_is_trained_first_with_the_sft_recipe(tiny_dir, tmp_path):
    """sft_recipe (the default recipe's way to start from nothing): no model at model_name_or_path -> SFT first."""
    sft_recipe = tmp_path / "sft.yaml"
    text = (ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml").read_text()
    text = text.replace("model_name_or_path: runs/tiny-qwen2vl", f"model_name_or_path: {tiny_dir}")
    text = text.replace("max_steps: 30", "max_steps: 2").replace("geosynth_count: 64", "geosynth_count: 4")
    sft_recipe.write_text(text)
    start = tmp_path / "sft-start"
    args = _parse(
        "--model_name_or_path",
        str(start),
        "--sft_recipe",
        str(sft_recipe),
        "--output_dir",
        str(tmp_path / "dpo"),
        "--max_length",
        "1200",
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
    )
    result = run_dpo(*args)
    assert (start / "model.safetensors").is_file() and (start / "README.md").read_text().count("SFT") >= 1
    assert result.steps == 1 and result.data.kept == 3


STEPS = 4  # checkpoint at STEPS // 2; the 2 pairs of <= 1,100 tokens, 1 per step: the resumed half is epoch 2


def _resume_options(model, out, *extra) -> list[str]:
    return [
        "--model_name_or_path",
        str(model),
        "--output_dir",
        str(out),
        "--max_length",
        "1100",
        "--per_device_train_batch_size",
        "1",
        "--max_steps",
        str(STEPS),
        "--save_steps",
        str(STEPS // 2),
        *extra,
    ]


def _weights(out) -> dict:
    name = "adapter_model.safetensors" if (out / "adapter_model.safetensors").is_file() else "model.safetensors"
    return load_file(str(out / name))


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_resume_continues_to_the_same_weights(sft_checkpoint, tmp_path, lora):
    """A run killed after its checkpoint and resumed with --resume_from_checkpoint auto ends with the weights and
    the loss curve of the uninterrupted run (full: the mixin loads the weights; LoRA: the adapter, verified)."""
    extra = ["--use_peft", "true", "--lora_r", "4", "--lora_dropout", "0.1"] if lora else []
    full = tmp_path / "full"
    run_dpo(*_parse(*_resume_options(sft_checkpoint, full, *extra)))
    assert (full / f"checkpoint-{STEPS // 2}").is_dir()
    resumed = tmp_path / "resumed"
    resumed.mkdir()  # what a kill right after the checkpoint leaves: the checkpoint is byte for byte the same
    shutil.copytree(full / f"checkpoint-{STEPS // 2}", resumed / f"checkpoint-{STEPS // 2}")
    result = run_dpo(*_parse(*_resume_options(sft_checkpoint, resumed, *extra, "--resume_from_checkpoint", "auto")))
    assert result.steps == STEPS
    expected, got = _weights(full), _weights(resumed)
    assert got.keys() == expected.keys()
    worst = max((got[k].float() - expected[k].float()).abs().max().item() for k in expected)
    assert worst <= 1e-5, f"resumed weights differ from the uninterrupted run's by {worst}"
    start = load_file(str(sft_checkpoint / "model.safetensors"))
    if not lora:  # the run did move away from the start, so equal weights mean the checkpoint was really loaded
        assert max((got[k] - start[k]).abs().max().item() for k in start) > 1e-4
    reference, losses = _curve(full)[0], _curve(resumed)[0]
    assert losses == pytest.approx(reference, abs=1e-4)


def test_under_torchrun_with_two_processes(sft_checkpoint, tmp_path):
    """The multi-GPU code path on CPU: two DDP ranks (gloo) with the reference model, disjoint pairs, one save."""
    import socket

    with socket.socket() as sock:  # a free port, so a port left over from an earlier run cannot clash
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(port),
            str(ROOT / "train" / "dpo_geo.py"),
            "--model_name_or_path",
            str(sft_checkpoint),
            "--output_dir",
            str(out),
            "--max_length",
            "1200",
            "--per_device_train_batch_size",
            "1",
            "--max_steps",
            "3",
            "--save_steps",
            "3",
            "--ddp_backend",
            "gloo",
        ],
        cwd=ROOT,
        env={**ENV, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("wrote ") == 1  # one summary, from rank 0
    state = json.loads((out / "trainer_state.json").read_text())
    # 2 ranks x 1 pair per step over the 3 pairs: 3 steps are 1.5 epochs
    assert state["global_step"] == 3 and state["log_history"][-1]["epoch"] == 1.5
    losses, margins, _ = _curve(out)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4) and margins[-1] > margins[0]
    assert (out / "model.safetensors").is_file()
