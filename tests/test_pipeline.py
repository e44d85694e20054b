"""The whole pipeline (redstar_geo.pipeline, run_pipeline.py): options, commands, fingerprints, and a small run end to
end that is killed mid-training, resumed, rerun (every stage skipped) and rerun with a changed setting."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redstar_geo.pipeline import (
    PipelineConfig,
    PipelineError,
    base_model,
    fingerprint,
    join_repeated_flag,
    run_pipeline,
    stage_commands,
)

ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path, **kwargs) -> PipelineConfig:
    sections = {
        "synthesize": {"config": "recipes/synth/offline_geosynth.yaml", "geosynth_n": 40},
        "sft": {"config": "recipes/sft/tiny_qwen2vl_cpu.yaml", "max_steps": 4},
        "dpo": {"config": "recipes/dpo/tiny_qwen2vl_cpu.yaml", "max_steps": 2},
        "eval": {"benches": "geosynth,mathverse", "limit": 4, "max_new_tokens": 8},
    }
    for name, section in sections.items():
        kwargs.setdefault(name, section)
    return PipelineConfig(output_dir=str(tmp_path / "out"), **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# options and commands
# ---------------------------------------------------------------------------------------------------------------
def test_set_overrides_a_section_option_and_repeated_set_flags_all_count(tmp_path):
    assert join_repeated_flag(["--set", "a.b=1", "--output_dir", "x", "--set", "c.d=2", "e.f=3"]) == [
        "--output_dir",
        "x",
        "--set",
        "a.b=1",
        "c.d=2",
        "e.f=3",
    ]
    cfg = config(
        tmp_path, overrides=["sft.max_steps=50", "eval.benches=geosynth", "synthesize.offline_think_tags=false"]
    )
    assert cfg.sft["max_steps"] == 50 and cfg.eval["benches"] == "geosynth"
    assert cfg.synthesize["offline_think_tags"] is False  # a YAML value: the flag becomes "false"
    (synth,) = stage_commands(cfg, "synthesize")
    assert synth[:3] == ["data_prep/synthesize.py", "--config", "recipes/synth/offline_geosynth.yaml"]
    assert synth[synth.index("--offline_think_tags") + 1] == "false"
    assert synth[synth.index("--output_dir") + 1] == str(tmp_path / "out" / "synthesize")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stages": "synthesize,sft,train,eval_trained"}, r"unknown stages \['train'\]"),
        ({"stages": "synthesize,eval_trained"}, r"must include sft"),
        ({"from_stage": "dpo", "stages": "synthesize,sft,eval_trained"}, r"--from 'dpo': not one of the stages"),
        ({"from_stage": "eval_trained", "until_stage": "sft"}, r"--from eval_trained comes after --until sft"),
        ({"overrides": ["sft.max_steps"]}, r"write SECTION.OPTION=VALUE"),
        ({"overrides": ["training.max_steps=3"]}, r"SECTION one of synthesize, sft, dpo, eval"),
        ({"sft": {"output_dir": "elsewhere"}}, r"sft: output_dir are set by the pipeline"),
        ({"launcher": "torchrun"}, r"use python or accelerate"),
    ],
)
def test_bad_options_say_how_to_fix(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **kwargs)


def test_stages_read_each_others_outputs_and_evaluate_base_and_trained_models(tmp_path):
    cfg = config(tmp_path)
    out = tmp_path / "out"
    (sft,) = stage_commands(cfg, "sft")
    assert sft[sft.index("--dataset") + 1] == str(out / "synthesize" / "sft.jsonl")
    (dpo,) = stage_commands(cfg, "dpo")
    assert dpo[dpo.index("--model_name_or_path") + 1] == str(out / "sft")
    assert dpo[dpo.index("--dataset") + 1] == str(out / "synthesize" / "dpo.jsonl")
    base = stage_commands(cfg, "eval_base")
    assert [c[c.index("--bench") + 1] for c in base] == ["geosynth", "mathverse"]
    assert {c[c.index("--model") + 1] for c in base} == {base_model(cfg)} == {"runs/tiny-qwen2vl"}  # the SFT recipe's
    trained = stage_commands(cfg, "eval_trained")
    assert {c[c.index("--model") + 1] for c in trained} == {str(out / "dpo")}
    assert all(c[c.index("--limit") + 1] == "4" for c in base + trained)
    without_dpo = config(tmp_path, stages="synthesize,sft,eval_base,eval_trained,report")
    assert {c[c.index("--model") + 1] for c in stage_commands(without_dpo, "eval_trained")} == {str(out / "sft")}


def fingerprints(cfg) -> dict[str, str]:
    fps = {}
    for stage in ("synthesize", "sft", "dpo", "eval_base", "eval_trained"):
        fps[stage] = fingerprint(cfg, stage, fps)
    return fps


def test_a_changed_setting_changes_that_stage_and_the_stages_that_read_it(tmp_path):
    before = fingerprints(config(tmp_path))
    assert fingerprints(config(tmp_path)) == before
    changed_sft = fingerprints(config(tmp_path, overrides=["sft.learning_rate=1e-3"]))
    assert [s for s in before if changed_sft[s] != before[s]] == ["sft", "dpo", "eval_trained"]
    changed_eval = fingerprints(config(tmp_path, overrides=["eval.limit=5"]))
    assert [s for s in before if changed_eval[s] != before[s]] == ["eval_base", "eval_trained"]
    # The accelerate launcher runs the same scripts with the same options: nothing to redo.
    assert fingerprints(config(tmp_path, launcher="accelerate")) == before
    # A recipe file's contents count, not only its name.
    recipe = tmp_path / "synth.yaml"
    recipe.write_text((ROOT / "recipes/synth/offline_geosynth.yaml").read_text())
    cfg = config(tmp_path, synthesize={"config": str(recipe), "geosynth_n": 40})
    first = fingerprints(cfg)
    recipe.write_text(recipe.read_text().replace("samples_per_problem: 10", "samples_per_problem: 8"))
    assert fingerprints(cfg)["synthesize"] != first["synthesize"]
    assert fingerprints(cfg)["sft"] != first["sft"]


def test_from_a_stage_whose_predecessors_are_not_done_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="the earlier stage synthesize is not finished"):
        run_pipeline(config(tmp_path, from_stage="sft"))


# ---------------------------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------------------------
def pipeline_args(tmp_path, tiny_dir, *extra: str) -> list[str]:
    return [
        str(ROOT / "run_pipeline.py"),
        "--output_dir",
        str(tmp_path / "out"),
        "--set",
        "synthesize.geosynth_n=40",
        "synthesize.decontaminate=geosynth",
        "synthesize.export=jsonl",
        "synthesize.offline_min_chars=0",
        "synthesize.geosynth_language=en",
        f"sft.model_name_or_path={tiny_dir}",
        "sft.max_steps=6",
        "sft.save_steps=2",
        "sft.max_length=2048",
        "dpo.max_steps=2",
        "dpo.save_steps=2",
        "eval.benches=geosynth",
        "eval.limit=4",
        "eval.max_new_tokens=8",
        *extra,
    ]


def run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def kill_during_sft(args: list[str], out: Path) -> None:
    """Start the pipeline in its own process group and SIGKILL all of it once SFT has saved a checkpoint."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while not (out / "sft" / "checkpoint-2").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the pipeline ended before SFT saved its first checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_pipeline_killed_resumed_rerun_and_changed(tmp_path, tiny_dir):
    out = tmp_path / "out"
    args = pipeline_args(tmp_path, tiny_dir)
    kill_during_sft(args, out)
    assert json.loads((out / "sft" / "stage.json").read_text())["status"] == "running"
    synth_state = (out / "synthesize" / "stage.json").read_text()

    resumed = run(args)
    assert "synthesize: done earlier with these settings, skipped" in resumed.stdout
    assert "sft was interrupted: resuming from its last checkpoint" in resumed.stdout
    assert (out / "synthesize" / "stage.json").read_text() == synth_state  # not run again
    sft_state = json.loads((out / "sft" / "trainer_state.json").read_text())
    assert sft_state["global_step"] == 6
    steps = [e["step"] for e in sft_state["log_history"] if "loss" in e]
    assert steps == sorted(set(steps)) and steps[-1] == 6  # one entry per step: resumed, not restarted halfway
    for stage in ("sft", "dpo", "eval_base", "eval_trained"):
        assert json.loads((out / stage / "stage.json").read_text())["status"] == "done", stage
    summary = json.loads((out / "eval_trained" / "geosynth" / "summary.json").read_text())
    assert summary["n"] == 4 and summary["model"] == str(out / "dpo")
    report = (out / "report" / "report.md").read_text()
    assert "## Benchmarks: accuracy before and after training" in report
    assert "| geosynth | 4 |" in report
    assert "| sft | 6 |" in report and "| dpo | 2 |" in report
    assert "| DPO pairs |" in report and "report: " in resumed.stdout
    assert (out / "report" / "index.html").is_file() and (out / "report" / "training.png").is_file()

    again = run(args)
    for stage in ("synthesize", "sft", "dpo", "eval_base", "eval_trained"):
        assert f"{stage}: done earlier with these settings, skipped" in again.stdout, stage
    weights = (out / "dpo" / "model.safetensors").read_bytes()

    changed = run(pipeline_args(tmp_path, tiny_dir, "eval.limit=3"))
    for stage in ("synthesize", "sft", "dpo"):
        assert f"{stage}: done earlier with these settings, skipped" in changed.stdout, stage
    assert "==> [4/6] eval_base (log:" in changed.stdout and "==> [5/6] eval_trained (log:" in changed.stdout
    assert json.loads((out / "eval_base" / "geosynth" / "summary.json").read_text())["n"] == 3
    assert (out / "dpo" / "model.safetensors").read_bytes() == weights
