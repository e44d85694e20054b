"""The whole job as one command: problems -> synthesis and verification -> SFT -> DPO -> evaluation before and after
training -> a report.

Usage (``run_pipeline.py`` is the script)::

    python run_pipeline.py                                    # the embedded default: recipes/pipeline/tiny_cpu.yaml
    python run_pipeline.py --config recipes/pipeline/redstar_geo_8b.yaml
    python run_pipeline.py --from sft --until eval_trained    # a part; the stages before --from must be done
    python run_pipeline.py --set sft.max_steps=50 --set eval.limit=100

Each stage is one of the project's own job scripts, run as a child process with the options of its recipe section
(so the same recipe runs on one machine or, with ``launcher: accelerate``, trains under ``accelerate launch`` on a
cluster), writing into its own directory::

    OUT/synthesize/     data_prep/synthesize.py: SFT set, DPO pairs, synthesis report
    OUT/sft/            train/sft_geo.py on OUT/synthesize/sft.jsonl
    OUT/dpo/            train/dpo_geo.py from OUT/sft on OUT/synthesize/dpo.jsonl
    OUT/eval_base/B/    eval/run.py of the base model (the SFT recipe's model) on benchmark B
    OUT/eval_trained/B/ eval/run.py of the trained model (DPO's, else SFT's) on benchmark B
    OUT/report/         report.md, index.html, training.png, accuracy.png, pipeline.json

A stage's ``stage.json`` records a fingerprint of its commands, the contents of the recipe files they name and the
fingerprints of the stages it reads from. A rerun skips a stage that finished with the same fingerprint; a stage
whose settings (or an upstream stage) changed is started again from an empty directory, and so is every stage
after it that reads its outputs; a stage that was killed is run again with the same command, which resumes
(synthesis and evaluation go on from their JSONL, training from its last checkpoint). Input data files are
tracked by path, not content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from redstar_geo.jsonl import read_json, write_json

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]  # the repository: the job scripts live in data_prep/, train/, eval/
STAGES = ("synthesize", "sft", "dpo", "eval_base", "eval_trained", "report")
REQUIRED_STAGES = ("synthesize", "sft", "eval_trained")
# Where the SFT recipe's model comes from when neither the pipeline recipe nor the SFT recipe names one.
DEFAULT_SFT_RECIPE = ROOT / "recipes" / "sft" / "tiny_qwen2vl_cpu.yaml"
# Options each stage's command gets from the pipeline; a recipe section may not set them.
PIPELINE_OPTIONS = {
    "synthesize": ("output_dir",),
    "sft": ("output_dir", "dataset"),
    "dpo": ("output_dir", "dataset", "model_name_or_path"),
    "eval": ("out", "model", "bench", "predictions"),
}
STAGE_FILE = "stage.json"
LOG_FILE = "log.txt"


class PipelineError(RuntimeError):
    """A pipeline that cannot go on: a stage failed, or the options cannot work. The message says what to do."""


@dataclass
class PipelineConfig:
    """Options of ``run_pipeline.py``; each stage's own options are in its section (a mapping of that script's
    options, ``config`` naming its recipe)."""

    output_dir: str = field(default="runs/pipeline", metadata={"help": "every stage writes into OUTPUT_DIR/<stage>"})
    stages: str = field(
        default=",".join(STAGES),
        metadata={"help": f"the stages to run, in this order: {', '.join(STAGES)}; leave out dpo to evaluate SFT's"},
    )
    from_stage: str | None = field(
        default=None, metadata={"aliases": ["--from"], "help": "start here (the stages before must be done)"}
    )
    until_stage: str | None = field(default=None, metadata={"aliases": ["--until"], "help": "stop after this stage"})
    synthesize: dict = field(default_factory=dict, metadata={"help": "data_prep/synthesize.py options (recipe)"})
    sft: dict = field(default_factory=dict, metadata={"help": "train/sft_geo.py options (recipe)"})
    dpo: dict = field(default_factory=dict, metadata={"help": "train/dpo_geo.py options (recipe)"})
    eval: dict = field(
        default_factory=dict,
        metadata={"help": "eval/run.py options (recipe) for both evaluations, and benches: a comma-separated list"},
    )
    overrides: list[str] = field(
        default_factory=list,
        metadata={"aliases": ["--set"], "help": "SECTION.OPTION=VALUE, e.g. --set sft.max_steps=50 (repeatable)"},
    )
    launcher: str = field(
        default="python",
        metadata={"help": "python, or accelerate: the training stages run under `accelerate launch`"},
    )
    accelerate_config: str | None = field(
        default=None, metadata={"help": "accelerate launch --config_file (recipes/accelerate/*.yaml)"}
    )

    def __post_init__(self):
        unknown = [s for s in self.stage_list if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stages {unknown} in --stages; choose from {', '.join(STAGES)}")
        missing = [name for name in REQUIRED_STAGES if name not in self.stage_list]
        if missing:
            raise ValueError(
                f"--stages must include {', '.join(missing)}; only dpo, eval_base and report are optional"
            )
        for flag, value in (("--from", self.from_stage), ("--until", self.until_stage)):
            if value is not None and value not in self.stage_list:
                raise ValueError(f"{flag} {value!r}: not one of the stages run ({', '.join(self.stage_list)})")
        if self.from_stage and self.until_stage and STAGES.index(self.from_stage) > STAGES.index(self.until_stage):
            raise ValueError(f"--from {self.from_stage} comes after --until {self.until_stage}")
        if self.launcher not in ("python", "accelerate"):
            raise ValueError(f"--launcher {self.launcher!r}: use python or accelerate")
        for override in self.overrides:
            target, has_value, value = override.partition("=")
            name, _, option = target.partition(".")
            if not has_value or not option or name not in PIPELINE_OPTIONS:
                raise ValueError(
                    f"--set {override!r}: write SECTION.OPTION=VALUE with SECTION one of "
                    f"{', '.join(PIPELINE_OPTIONS)}, e.g. --set sft.max_steps=50"
                )
            getattr(self, name)[option] = yaml.safe_load(value) if value else ""
        for name, owned in PIPELINE_OPTIONS.items():
            section = getattr(self, name)
            if not isinstance(section, dict):
                raise ValueError(f"{name}: a recipe section is a mapping of option: value, got {section!r}")
            taken = sorted(set(section) & set(owned))
            if taken:
                raise ValueError(
                    f"{name}: {', '.join(taken)} are set by the pipeline (stage directories); remove them"
                )

    @property
    def stage_list(self) -> list[str]:
        names = [s.strip() for s in self.stages.split(",") if s.strip()]
        return sorted(names, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES))

    def stage_dir(self, stage: str) -> Path:
        return Path(self.output_dir) / stage

    @property
    def final_stage(self) -> str:
        """The training stage whose model is evaluated as the trained one."""
        return "dpo" if "dpo" in self.stage_list else "sft"


def join_repeated_flag(argv: list[str], flag: str = "--set") -> list[str]:
    """``--set a=1 --set b=2`` as ``--set a=1 b=2``: argparse's ``nargs="+"`` would keep only the last ``--set``."""
    values, rest, taking = [], [], False
    for arg in argv:
        if arg == flag:
            taking = True
        elif taking and not arg.startswith("--"):
            values.append(arg)
        else:
            taking = False
            rest.append(arg)
    return rest + ([flag, *values] if values else [])


# ---------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------
def _flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def script_args(options: dict, **pipeline_options) -> list[str]:
    """``--option value`` flags from a recipe section (``config`` first) and the options the pipeline sets."""
    items = dict(options)
    args = ["--config", str(items.pop("config"))] if items.get("config") else []
    items.pop("config", None)
    for key, value in {**items, **pipeline_options}.items():
        if value is not None:
            args += [f"--{key}", _flag_value(value)]
    return args


def base_model(config: PipelineConfig) -> str:
    """The model training starts from: the SFT section's ``model_name_or_path``, else its recipe's."""
    if config.sft.get("model_name_or_path"):
        return str(config.sft["model_name_or_path"])
    recipe = Path(config.sft.get("config") or DEFAULT_SFT_RECIPE)
    data = yaml.safe_load(recipe.read_text(encoding="utf-8")) if recipe.is_file() else None
    if not isinstance(data, dict) or not data.get("model_name_or_path"):
        raise PipelineError(f"sft: no model_name_or_path in the sft section or its recipe {recipe}")
    return str(data["model_name_or_path"])


def stage_commands(config: PipelineConfig, stage: str) -> list[list[str]]:
    """The stage's commands as script argv lists (``scripts/x.py --flag value ...``), without the interpreter."""
    out = Path(config.output_dir)
    synth = out / "synthesize"
    if stage == "synthesize":
        return [["data_prep/synthesize.py", *script_args(config.synthesize, output_dir=synth)]]
    if stage == "sft":
        return [["train/sft_geo.py", *script_args(config.sft, dataset=synth / "sft.jsonl", output_dir=out / "sft")]]
    if stage == "dpo":
        options = {"model_name_or_path": out / "sft", "dataset": synth / "dpo.jsonl", "output_dir": out / "dpo"}
        return [["train/dpo_geo.py", *script_args(config.dpo, **options)]]
    if stage in ("eval_base", "eval_trained"):
        model = base_model(config) if stage == "eval_base" else str(out / config.final_stage)
        options = dict(config.eval)
        benches = options.pop("benches", "geosynth")
        benches = benches if isinstance(benches, list) else str(benches).split(",")
        return [
            ["eval/run.py", *script_args(options, bench=b.strip(), model=model, out=out / stage / b.strip())]
            for b in benches
            if b.strip()
        ]
    return []


def launch_prefix(config: PipelineConfig, stage: str) -> list[str]:
    """The interpreter, or ``accelerate launch`` for the training stages with ``launcher: accelerate``."""
    if config.launcher == "accelerate" and stage in ("sft", "dpo"):
        prefix = [sys.executable, "-m", "accelerate.commands.launch"]
        return prefix + (["--config_file", config.accelerate_config] if config.accelerate_config else [])
    return [sys.executable]


# The stages whose outputs a stage reads (eval_trained: the final training stage, see PipelineConfig.final_stage).
UPSTREAM = {"synthesize": (), "sft": ("synthesize",), "dpo": ("synthesize", "sft"), "eval_base": ()}


def fingerprint(config: PipelineConfig, stage: str, upstream: dict[str, str]) -> str:
    """A hash of the stage's commands, the recipe files they name and the fingerprints of the stages it reads."""
    commands = stage_commands(config, stage)
    recipes = {}
    for command in commands:
        for flag, value in zip(command, command[1:], strict=False):
            if flag == "--config" and Path(value).is_file():
                recipes[value] = Path(value).read_text(encoding="utf-8")
    deps = UPSTREAM.get(stage, (config.final_stage,))
    payload = {"stage": stage, "commands": commands, "recipes": recipes, "upstream": {d: upstream[d] for d in deps}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
def stage_outputs_complete(config: PipelineConfig, stage: str) -> bool:
    """Whether the files later stages read are there (a finished ``stage.json`` alone is not trusted)."""
    d = config.stage_dir(stage)
    if stage == "synthesize":
        return (d / "sft.jsonl").is_file() and (d / "dpo.jsonl").is_file()
    if stage in ("sft", "dpo"):
        return (d / "config.json").is_file() or (d / "adapter_config.json").is_file()
    if stage in ("eval_base", "eval_trained"):
        return all((Path(c[c.index("--out") + 1]) / "summary.json").is_file() for c in stage_commands(config, stage))
    return True


def run_logged(command: list[str], log_path: Path) -> int:
    """Run ``command``, its output shown as it comes and appended to ``log_path``; its exit status.

    Output is copied in chunks, not lines, so progress bars (``\\r``) keep working. On Ctrl-C the child, in the same
    process group, gets the signal too; it is waited for, so nothing is left running.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            while chunk := os.read(child.stdout.fileno(), 65536):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                log.write(chunk)
            return child.wait()
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait()


def _has_checkpoint(directory: Path) -> bool:
    return directory.is_dir() and any(p.name.startswith("checkpoint-") for p in directory.iterdir())


def _run_stage(config: PipelineConfig, stage: str, fp: str) -> None:
    d = config.stage_dir(stage)
    state_path = d / STAGE_FILE
    state = read_json(state_path) if state_path.is_file() else None
    if state and state.get("fingerprint") != fp and d.exists():
        print(f"    settings of {stage} (or of a stage it reads) changed: starting it again in an empty {d}")
        shutil.rmtree(d)
        state = None
    d.mkdir(parents=True, exist_ok=True)
    started = time.time()
    previous = (state or {}).get("seconds", 0.0)  # a killed attempt's time counts
    write_json(state_path, {"stage": stage, "fingerprint": fp, "status": "running", "seconds": previous})
    for command in stage_commands(config, stage):
        command = launch_prefix(config, stage) + [str(ROOT / command[0]), *command[1:]]
        if stage in ("sft", "dpo") and _has_checkpoint(d):
            print(f"    {stage} was interrupted: resuming from its last checkpoint in {d}")
            command += ["--resume_from_checkpoint", "auto"]
        status = run_logged(command, d / LOG_FILE)
        seconds = previous + time.time() - started
        write_json(state_path, {"stage": stage, "fingerprint": fp, "status": "running", "seconds": seconds})
        if status != 0:
            raise PipelineError(
                f"stage {stage} failed (exit status {status}); its output is in {d / LOG_FILE}. Fix the cause and run "
                "the same command again: finished stages are skipped and this one resumes"
            )
    if not stage_outputs_complete(config, stage):
        raise PipelineError(f"stage {stage} ended without its outputs in {d}; see {d / LOG_FILE}")
    write_json(
        state_path, {"stage": stage, "fingerprint": fp, "status": "done", "seconds": previous + time.time() - started}
    )


def run_pipeline(config: PipelineConfig) -> dict:
    """Run the stages (skipping those finished with the same settings); return ``{"stages": [...], "report": path}``.

    Raises :class:`PipelineError` when a stage fails or one that ``--from`` skips is not finished.
    """
    stages = config.stage_list
    start = stages.index(config.from_stage) if config.from_stage else 0
    end = stages.index(config.until_stage) if config.until_stage else len(stages) - 1
    fingerprints: dict[str, str] = {}
    rows = []
    t0 = time.time()
    for i, stage in enumerate(stages):
        if i > end:
            break
        if stage == "report":
            print(f"==> [{i + 1}/{len(stages)}] report")
            continue
        fp = fingerprint(config, stage, fingerprints)
        fingerprints[stage] = fp
        state_path = config.stage_dir(stage) / STAGE_FILE
        state = read_json(state_path) if state_path.is_file() else {}
        done = (
            state.get("status") == "done" and state.get("fingerprint") == fp and stage_outputs_complete(config, stage)
        )
        if i < start:
            if not done:
                raise PipelineError(
                    f"--from {config.from_stage}: the earlier stage {stage} is not finished with these settings; run "
                    f"it first (--from {stage}, or without --from)"
                )
            rows.append({"stage": stage, "status": "done earlier", "seconds": state.get("seconds")})
            continue
        if done:
            print(f"==> [{i + 1}/{len(stages)}] {stage}: done earlier with these settings, skipped")
            rows.append({"stage": stage, "status": "skipped (done)", "seconds": state.get("seconds")})
            continue
        print(f"==> [{i + 1}/{len(stages)}] {stage} (log: {config.stage_dir(stage) / LOG_FILE})", flush=True)
        _run_stage(config, stage, fp)
        seconds = read_json(state_path)["seconds"]
        print(f"<== {stage} done in {seconds:.0f} s", flush=True)
        rows.append({"stage": stage, "status": "ran", "seconds": seconds})
    result = {"stages": rows, "seconds": time.time() - t0, "output_dir": config.output_dir}
    if "report" in stages and end >= stages.index("report"):
        from redstar_geo.pipeline_report import write_pipeline_report

        result["report"] = write_pipeline_report(config, rows)
    return result
