"""SFT data validation, label masking, recipes, and the real train/sft_geo.py end to end on the tiny model (CPU)."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import train_sft

pytest.importorskip("torch")
pytest.importorskip("trl")

from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402
from trl import ModelConfig  # noqa: E402
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling  # noqa: E402

from redstar_geo.config import parse_config  # noqa: E402
from redstar_geo.jsonl import IssueLog  # noqa: E402
from redstar_geo.schema import Problem  # noqa: E402
from redstar_geo.sft import SFTConfig, SFTScriptArguments, SFTSetupError, run_sft  # noqa: E402
from redstar_geo.sft_data import (  # noqa: E402
    DROP_REASONS,
    SFTRecordError,
    load_and_validate,
    parse_record,
    problems_to_samples,
    to_trl_dataset,
    write_sft_jsonl,
)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "tests" / "assets" / "sft"
RECIPES = sorted((ROOT / "recipes" / "sft").glob("*.yaml"))


@pytest.fixture
def tiny_model(tiny_dir) -> str:
    return str(tiny_dir)


def test_label_masking_keeps_only_the_completion(processor):
    (sample,) = [
        parse_record(
            {
                "id": "m",
                "image": str(ASSETS / "images" / "tri_0.png"),
                "messages": [{"role": "user", "content": "Find x."}],
                "completion": "x = 3",
            }
        )
    ]
    collator = DataCollatorForVisionLanguageModeling(processor, max_length=512, completion_only_loss=True)
    batch = collator([to_trl_dataset([sample])[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    tok = processor.tokenizer
    im_start, im_end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    # Literal layout: <|im_start|>system ... <|im_start|>user\n <|vision_start|> 16 x <|image_pad|> ... Find x.
    # <|im_end|>\n <|im_start|>assistant\n | x = 3 <|im_end|>\n
    assert ids[0] == im_start and ids.count(image_pad) == 16
    prompt = tok(
        processor.apply_chat_template(sample.prompt, add_generation_prompt=True, tokenize=False),
        add_special_tokens=False,
    )["input_ids"]
    n_prompt = len(prompt) + 15  # the template has one <|image_pad|>; the processor expands it to 16
    completion = tok("x = 3<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert ids == ids[:n_prompt] + completion and len(ids) == n_prompt + len(completion)
    assert labels[:n_prompt] == [-100] * n_prompt  # system, user text and every image token are masked
    assert labels[n_prompt:] == completion  # completion tokens keep their literal ids
    assert completion[-2] == im_end  # the model learns to stop


def test_formats_ours_sharegpt_and_hf_dataset_agree(processor, tmp_path):
    ours, report = load_and_validate(str(ASSETS / "train.jsonl"), processor, 512)
    assert (report.kept, report.total) == (6, 6) and not report.dropped
    sharegpt, _ = load_and_validate(str(ASSETS / "sharegpt.json"), processor, 512)
    assert [s.prompt for s in sharegpt] == [s.prompt for s in ours[:2]]
    assert [s.completion for s in sharegpt] == [s.completion for s in ours[:2]]
    datasets = pytest.importorskip("datasets")
    rows = [
        {
            "id": s.id,
            "images": s.images,
            "conversations": [
                {"role": "user", "content": "<image>" + s.prompt[0]["content"][1]["text"]},
                {"role": "assistant", "content": s.completion[0]["content"][0]["text"]},
            ],
        }
        for s in ours
    ]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    from_hf, _ = load_and_validate(str(tmp_path / "hf"), processor, 512)
    assert [(s.id, s.prompt, s.completion, s.images) for s in from_hf] == [
        (s.id, s.prompt, s.completion, s.images) for s in ours
    ]


def test_bad_records_are_counted_with_their_ids(processor):
    kept, report = load_and_validate(str(ASSETS / "bad.jsonl"), processor, max_length=256)
    assert [s.id for s in kept] == ["ok"]
    assert report.total == 5 and report.kept == 1
    assert dict(report.dropped) == {"missing_image": 1, "no_assistant": 1, "placeholder_mismatch": 1, "too_long": 1}
    text = report.format()
    for sid in ("no_image_file", "no_answer", "two_placeholders", "very_long"):
        assert sid in text
    assert "missing.png: file not found" in text and "> max_length 256" in text


def test_malformed_records_are_dropped_with_their_ids(processor, tmp_path):
    """Wrong types anywhere in a record drop that record (named by id, or by line without one), never the run."""
    ok = {"image": str(ASSETS / "images" / "tri_0.png"), "messages": [{"role": "user", "content": "Find x."}]}
    records = [
        {"id": "good", **ok, "completion": "x = 3"},
        {"id": "image_int", **ok, "image": 5, "completion": "x"},
        {"id": "bare_string_block", **ok, "messages": [{"role": "user", "content": ["some text"]}], "completion": "x"},
        {"id": "bare_string_completion_block", **ok, "completion": [{"role": "assistant", "content": ["x = 3"]}]},
        {"id": "image_list_of_ints", **ok, "images": [1, 2], "completion": "x"},
        {"id": "image_dict", **ok, "image": {"size": 3}, "completion": "x"},
        {"id": "image_none_in_list", **ok, "images": [None], "completion": "x"},
        {"id": "messages_not_a_list", **ok, "messages": "Find x.", "completion": "x"},
        {"id": "role_missing", **ok, "messages": [{"content": "Find x."}], "completion": "x"},
        {"id": "role_a_list", **ok, "messages": [{"role": ["user"], "content": "Find x."}], "completion": "x"},
        {"id": "content_42", **ok, "messages": [{"role": "user", "content": 42}], "completion": "x"},
        {"id": "text_not_a_string", **ok, "messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]},
        {"id": "completion_42", **ok, "completion": 42},
        {**ok, "image": [3], "completion": "x"},  # no id: named by its line, 14
        ["not", "an", "object"],
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    kept, report = load_and_validate(str(path), processor, max_length=512)
    assert [s.id for s in kept] == ["good"]
    assert report.total == len(records) and dict(report.dropped) == {"bad_record": len(records) - 1}
    text = "\n".join(report.examples["bad_record"])
    assert "image_int: sample 'image_int': image 0 must be a path" in text and "got int 5" in text
    assert "bare_string_block: sample 'bare_string_block': messages[0] content[0] is str 'some text'" in text
    issues = IssueLog()
    load_and_validate(str(path), processor, max_length=512, issues=issues)
    named = {issue.id or f"line {issue.line}": issue.message for issue in issues}
    for record in records[1:13]:
        assert f"sample {record['id']!r}: " in named[record["id"]], named[record["id"]]
    assert named["line 14"].startswith("line 14: image 0 ") and named["line 15"].startswith("line 15: not a JSON")
    assert "completion must be a string or a list of assistant messages, got int 42" in named["completion_42"]
    assert "unknown role ['user']" in named["role_a_list"] and "unknown role None" in named["role_missing"]


WRONG_VALUES = [5, 1.5, True, None, "text", [], {}, [1, 2], ["text"], [None], {"a": 1}, [{"a": 1}]]
FUZZ_BASE = {
    "id": "f",
    "images": [str(ASSETS / "images" / "tri_0.png")],
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find x."}]},
    ],
    "completion": [{"role": "assistant", "content": [{"type": "text", "text": "x = 3"}]}],
}


def _paths(value, path=()):
    """Every position in a nested record (dict keys and list indexes), outermost first."""
    if path:
        yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def test_fuzzed_records_parse_or_are_dropped_with_a_reason(processor, tmp_path):
    """Each position of a valid record replaced by each wrong value: the record parses or is dropped with a reason
    naming it; the whole file then loads and validates without an exception."""
    records = []
    for path in _paths(FUZZ_BASE):
        if path == ("id",):
            continue
        for wrong in WRONG_VALUES:
            record = copy.deepcopy(FUZZ_BASE)
            target = record
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            record["id"] = f"f{len(records)}"
            records.append(record)
            try:
                parse_record(record)
            except SFTRecordError as exc:
                assert exc.reason in DROP_REASONS and f"sample {record['id']!r}: " in str(exc), (path, wrong, exc)
    path = tmp_path / "fuzz.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    kept, report = load_and_validate(str(path), processor, max_length=512)
    assert report.total == len(records) and report.kept + sum(report.dropped.values()) == len(records)
    assert 0 < report.kept < len(records) and report.dropped["bad_record"] > 0
    to_trl_dataset(kept)  # what survives converts to the training dataset


def test_problems_become_samples_and_round_trip_through_jsonl(processor, tmp_path):
    png = (ASSETS / "images" / "circ_0.png").read_bytes()
    problems = [
        Problem(
            id="g1",
            source="geosynth",
            question="Find AB.",
            choices=["5", "10"],
            answer_letter="B",
            answer_type="choice",
            image=png,
            metadata={"steps": ["AB = 2r.", {"statement": "AB = 2 \\times 5", "expr": "2 * 5", "value": 10}]},
        ),
        Problem(id="g2", source="geosynth", question="Find r.", answer="5", image=png),  # no solution: skipped
    ]
    samples = problems_to_samples(problems, "steps")
    assert [s.id for s in samples] == ["g1"]
    expected = "AB = 2r.\nAB = 2 \\times 5: 2 * 5 = 10\nSo the answer is \\boxed{B}."
    assert samples[0].completion[0]["content"][0]["text"] == expected
    assert "Choices:\nA. 5\nB. 10" in samples[0].prompt[0]["content"][1]["text"]
    path = write_sft_jsonl(samples, tmp_path)
    reread, report = load_and_validate(str(path), processor, 512)
    assert report.kept == 1 and reread[0].prompt == samples[0].prompt
    assert reread[0].load_images()[0].size == (224, 224)
    custom = problems_to_samples(problems, lambda p: f"The answer is \\boxed{{{p.gold_value}}}.")
    assert [s.completion[0]["content"][0]["text"] for s in custom] == [
        "The answer is \\boxed{10}.",
        "The answer is \\boxed{5}.",
    ]


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_every_recipe_parses(recipe):
    text = recipe.read_text()
    assert text.startswith("# Hardware:") and "Launch:" in text.split("\n\n")[0]
    # bf16 recipes are validated against the machine's hardware; use_cpu lets them parse on a CPU-only host.
    script_args, training_args, model_args = parse_config(
        SFTScriptArguments, SFTConfig, ModelConfig, args=["--config", str(recipe), "--use_cpu", "true"]
    )
    assert model_args.model_name_or_path and training_args.output_dir.startswith("runs/")
    assert training_args.learning_rate > 0


def test_flags_without_config_apply_on_top_of_the_default_recipe(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("sft_geo", ROOT / "train" / "sft_geo.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    default = script.DEFAULT_RECIPE
    assert default == ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"
    script_args, training_args, _ = parse_config(
        SFTScriptArguments,
        SFTConfig,
        ModelConfig,
        args=["--output_dir", str(tmp_path), "--max_steps", "3"],
        default_config=default,
    )
    assert training_args.output_dir == str(tmp_path) and training_args.max_steps == 3  # the flags
    assert script_args.build_tiny_model and script_args.dataset == "geosynth"  # the recipe underneath
    assert training_args.use_cpu and not training_args.bf16 and training_args.learning_rate == 2.0e-3
    _, with_config, _ = parse_config(
        SFTScriptArguments,
        SFTConfig,
        ModelConfig,
        args=["--config", str(ROOT / "recipes" / "sft" / "qwen25vl_7b_lora_1gpu.yaml"), "--use_cpu", "true"],
        default_config=default,
    )
    assert with_config.learning_rate != 2.0e-3  # an explicit --config replaces the default recipe


def test_unknown_recipe_key_and_missing_model_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 1.0e-5\nlerning_rate: 2\n")
    with pytest.raises(SystemExit):
        parse_config(SFTScriptArguments, SFTConfig, ModelConfig, args=["--config", str(bad)])
    assert "unknown keys ['lerning_rate']" in capsys.readouterr().err
    script_args, training_args, model_args = parse_config(
        SFTScriptArguments,
        SFTConfig,
        ModelConfig,
        args=[
            "--model_name_or_path",
            str(tmp_path / "nowhere"),
            "--output_dir",
            str(tmp_path / "out"),
            "--use_cpu",
            "true",
        ],
    )
    with pytest.raises(SFTSetupError, match="nowhere"):
        run_sft(script_args, training_args, model_args)


def test_train_script_end_to_end(tiny_dir, tmp_path):
    """Loss goes down, everything is saved and reloads. (Resuming: tests/test_sft_resume.py.)"""
    out = tmp_path / "sft"
    common = [
        "--config",
        str(ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"),
        "--model_name_or_path",
        str(tiny_dir),
        "--output_dir",
        str(out),
        "--save_steps",
        "6",
        "--dataset",
        str(ROOT / "tests" / "assets" / "sft" / "train.jsonl"),
    ]
    proc = train_sft([*common, "--max_steps", "12"])
    assert "6 of 6 samples kept" in proc.stdout

    state = json.loads((out / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert len(losses) == 12 and state["global_step"] == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses  # the loss goes down
    for name in (
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "README.md",
    ):
        assert (out / name).is_file(), name
    assert "logged loss" in (out / "README.md").read_text()
    model = AutoModelForImageTextToText.from_pretrained(out)
    AutoProcessor.from_pretrained(out)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert (out / "checkpoint-6" / "model.safetensors").is_file()


def test_default_recipe_trains_on_geosynth(tmp_path):
    """The default job: the tiny recipe builds the model and trains on 64 generated GeoSynth problems. Flags without
    --config apply on top of that default recipe."""
    out = tmp_path / "sft"
    proc = train_sft(
        [
            "--model_name_or_path",
            str(tmp_path / "tiny"),
            "--output_dir",
            str(out),
        ]
    )
    assert "64 of 64 samples kept" in proc.stdout
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert state["global_step"] == 30 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0, losses
    assert (tmp_path / "tiny" / "config.json").is_file()  # built on first use


def test_default_recipe_under_torchrun_with_two_processes(tmp_path):
    """The multi-GPU code path on CPU: two DDP ranks (gloo) build the default model once, shard the data, save once."""
    import socket

    out = tmp_path / "sft"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }
    with socket.socket() as sock:  # a free port, so a port left over from an earlier run cannot clash
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(port),
            str(ROOT / "train" / "sft_geo.py"),
            "--config",
            str(ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"),
            "--model_name_or_path",
            str(tmp_path / "tiny"),
            "--output_dir",
            str(out),
            "--max_steps",
            "4",
            "--save_steps",
            "4",
            "--ddp_backend",
            "gloo",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("wrote ") == 1  # one summary, from rank 0
    state = json.loads((out / "trainer_state.json").read_text())
    # 2 ranks x 2 samples per step: 4 steps cover 16 of the 64 samples
    assert state["global_step"] == 4 and state["log_history"][-1]["epoch"] == 0.25
    assert (tmp_path / "tiny" / "model.safetensors").is_file() and (out / "model.safetensors").is_file()
