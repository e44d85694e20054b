"""A synthesis run from problems to training data: load → decontaminate → sample and verify → select → export →
report. ``data_prep/synthesize.py`` is its command line.

Usage::

    from redstar_geo.synthesis.pipeline import run_synthesis

    summary = run_synthesis(synth_config, gen_config, verify_config)

Output directory (``--output_dir``)::

    problems/                GeoSynth problems generated for the run (problems.jsonl + images/)
    decontamination.jsonl    problems dropped as duplicates of evaluation problems, with the match
    samples.jsonl            every (problem, sample): trace, verdict, reasons, spend (resumable)
    status.jsonl             per problem: budget, samples, verified, failed, pass rate, tokens, why it stopped
    sft.jsonl, dpo.jsonl     the SFT set and the preference pairs (images/ beside them)
    hf/, sharegpt/           the same as Hugging Face datasets and for LLaMA-Factory
    report/                  stats.json, report.md, index.html, PNGs
    settings.json            the teacher and verification settings the samples were made with
    shards/I-of-N/           with --shard: that machine's samples.jsonl and status.jsonl

Every stage can be run again: sampling resumes (see :mod:`redstar_geo.synthesis.sampling`), the rest is rebuilt
from the samples. Changed verification settings re-verify the stored traces (no teacher call); a different teacher
in the same directory is refused, since mixing two teachers' samples would make the run's numbers meaningless.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from pathlib import Path

from redstar_geo.benchmarks import load_benchmark
from redstar_geo.generation import GenerationConfig
from redstar_geo.images import check_images
from redstar_geo.jsonl import DataError, IssueLog, read_json, write_json, write_jsonl, write_text
from redstar_geo.run_dir import ISSUES
from redstar_geo.schema import Problem
from redstar_geo.synthesis.config import SynthConfig, parse_shard, split_names
from redstar_geo.synthesis.sampling import (
    SampleStore,
    make_teacher,
    problem_status,
    reverify,
    run_sampling,
    shard_of,
)
from redstar_geo.synthesis.selection import select_pairs, select_sft, write_training_data
from redstar_geo.verify import VerifyConfig

logger = logging.getLogger(__name__)

# Generation settings that change what the teacher writes: samples made under others cannot be mixed in.
TEACHER_SETTINGS = ("backend", "model", "temperature", "top_p", "max_new_tokens", "seed")
# The offline teacher's own settings (SynthConfig fields), which change what it writes just as much.
OFFLINE_TEACHER_SETTINGS = (
    "offline_failure_rate",
    "offline_min_chars",
    "offline_think_tags",
    "offline_separate_reasoning",
)


def load_problems(config: SynthConfig, issues: IssueLog) -> list[Problem]:
    """The run's problems: GeoSynth generated into ``OUT/problems`` (once; reused by later runs), or a benchmark
    loader's, or a problems.jsonl in the schema."""
    if config.problems == "geosynth":
        problems = load_benchmark("geosynth", data=str(_geosynth_set(config)), issues=issues)
    elif config.problems == "jsonl":
        problems = load_benchmark("geosynth", data=config.problems_path, issues=issues)
    else:
        problems = load_benchmark(
            config.problems, data=config.problems_path, split=config.problems_split, issues=issues
        )
    return problems[: config.limit] if config.limit else problems


def _geosynth_set(config: SynthConfig) -> Path:
    from redstar_geo.geosynth.dataset import write_problem_set

    target = Path(config.output_dir) / "problems"
    wanted = {"n": config.geosynth_n, "seed": config.geosynth_seed, "language": config.geosynth_language}
    settings = target / "settings.json"
    if settings.exists():
        if read_json(settings) == wanted:
            return target / "problems.jsonl"
        raise DataError(
            f"{target}: holds GeoSynth problems made with {read_json(settings)}, not {wanted}; use another "
            "--output_dir (or delete it) to synthesise from other problems"
        )
    # Generated beside the target and renamed into place, so a killed run never leaves half a problem set (and
    # shards starting at once on a shared disk keep whichever finished first).
    partial = target.with_name(f"problems.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    write_problem_set(
        partial, config.geosynth_n, config.geosynth_seed, language=config.geosynth_language, progress=config.progress
    )
    write_json(partial / "settings.json", wanted)
    try:
        os.rename(partial, target)
    except OSError:  # another shard got there first: same seeds, same problems
        shutil.rmtree(partial, ignore_errors=True)
    return target / "problems.jsonl"


def decontaminate_problems(
    problems: list[Problem], benchmarks: list[str], out_dir: Path, issues: IssueLog
) -> tuple[list[Problem], list[dict], dict | None]:
    """Drop problems that duplicate evaluation problems; write ``OUT/decontamination.jsonl``."""
    if not benchmarks:
        return problems, [], None
    from redstar_geo.decontam import EvalIndex, decontaminate, decontamination_summary

    index = EvalIndex.from_benchmarks(benchmarks, issues)
    kept, dropped = decontaminate(problems, index)
    write_jsonl(out_dir / "decontamination.jsonl", dropped)
    summary = decontamination_summary(dropped, len(problems), index)
    if dropped:
        logger.warning("dropped %d of %d problems as duplicates of evaluation problems", len(dropped), len(problems))
    return kept, dropped, summary


def _check_settings(
    work_dir: Path, config: SynthConfig, gen_config: GenerationConfig, verify: dict, store: SampleStore
) -> bool:
    """Refuse another teacher's directory; return whether the verification settings changed since the samples."""
    path = work_dir / "settings.json"
    teacher = {key: getattr(gen_config, key) for key in TEACHER_SETTINGS}
    if gen_config.backend == "offline":
        teacher.update({key: getattr(config, key) for key in OFFLINE_TEACHER_SETTINGS})
    stored = read_json(path) if path.exists() else None
    if stored and stored.get("teacher") != teacher and store.n_loaded:
        raise DataError(
            f"{work_dir}: its {store.n_loaded} samples come from teacher {stored.get('teacher')}, not {teacher}; "
            "use another --output_dir (mixing teachers would make the run's numbers meaningless)"
        )
    write_json(path, {"teacher": teacher, "verification": verify})
    return bool(stored) and stored.get("verification") != verify and store.n_loaded > 0


def merge_shards(out_dir: Path, issues: IssueLog) -> tuple[SampleStore, list[dict]]:
    """Join ``OUT/shards/*/samples.jsonl`` into ``OUT/samples.jsonl``; every shard of the set must be there, all
    from one teacher. Returns the store and the shards' settings."""
    shard_dirs = sorted(p for p in (out_dir / "shards").glob("*-of-*") if re.fullmatch(r"\d+-of-\d+", p.name))
    if not shard_dirs:
        raise DataError(f"{out_dir / 'shards'}: no shard directories (I-of-N) to merge; run with --shard i/n first")
    counts = {int(p.name.split("-of-")[1]) for p in shard_dirs}
    if len(counts) != 1:
        raise DataError(f"{out_dir / 'shards'}: shards of different splits {sorted(counts)}; keep one set")
    (n,) = counts
    missing = sorted(set(range(n)) - {int(p.name.split("-of-")[0]) for p in shard_dirs})
    if missing:
        raise DataError(f"{out_dir / 'shards'}: shards {missing} of {n} are missing: run them (--shard i/{n})")
    settings = [read_json(d / "settings.json") for d in shard_dirs]
    if any(s["teacher"] != settings[0]["teacher"] for s in settings):
        raise DataError(f"{out_dir / 'shards'}: the shards were sampled from different teachers; merge one teacher's")
    (out_dir / "samples.jsonl").unlink(missing_ok=True)
    store = SampleStore(out_dir / "samples.jsonl", issues)
    for shard_dir in shard_dirs:
        for pid, samples in SampleStore(shard_dir / "samples.jsonl", issues).by_problem.items():
            store.by_problem.setdefault(pid, {}).update(samples)
    return store, settings


def run_synthesis(config: SynthConfig, gen_config: GenerationConfig, verify_config: VerifyConfig) -> dict:
    """Run every stage (see the module docstring); returns a summary with the counts and the output paths."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    issues = IssueLog()
    problems = load_problems(config, issues)
    problems, dropped, decontam = decontaminate_problems(problems, split_names(config.decontaminate), out, issues)
    by_id = {p.id: p for p in problems}
    filters = split_names(config.filters)
    verify = {"filters": filters, **dataclasses.asdict(verify_config)}
    shard = parse_shard(config.shard)

    if config.merge:
        store, shard_settings = merge_shards(out, issues)
        write_json(out / "settings.json", {"teacher": shard_settings[0]["teacher"], "verification": verify})
        if any(s["verification"] != verify for s in shard_settings):
            reverify(store, by_id, filters, verify_config)
        store.rewrite([p.id for p in problems])
    else:
        work_dir = out if shard is None else out / "shards" / f"{shard[0]}-of-{shard[1]}"
        mine = problems if shard is None else [p for p in problems if shard_of(p.id, shard[1]) == shard[0]]
        store = SampleStore(work_dir / "samples.jsonl", issues)
        if _check_settings(work_dir, config, gen_config, verify, store):
            changed = reverify(store, by_id, filters, verify_config)
            logger.warning("verification settings changed: verified the stored traces again, %d changed", changed)
        teacher = make_teacher(gen_config, config, verify_config.protocol, mine)
        if getattr(teacher, "needs_images", True):
            unreadable = check_images(mine)
            for pid, error in unreadable.items():
                issues.add(config.problems_path or config.problems, None, pid, f"not sampled: {error}")
            mine = [p for p in mine if p.id not in unreadable]
        statuses = run_sampling(mine, teacher, store, config, gen_config, verify_config, progress=config.progress)
        write_jsonl(work_dir / "status.jsonl", statuses)
        if shard is not None:
            _write_issues(work_dir, issues)
            return {
                "shard": config.shard,
                "problems": len(mine),
                "samples": sum(s["n_samples"] for s in statuses),
                "verified": sum(s["n_verified"] for s in statuses),
                "errors": sum(s["n_errors"] for s in statuses),
                "output_dir": str(work_dir),
            }

    statuses = [problem_status(p, store.samples(p.id), config) for p in problems]
    write_jsonl(out / "status.jsonl", statuses)
    by_status = {s["problem_id"]: s for s in statuses}
    chosen = select_sft(
        problems, store, by_status, config.max_traces_per_problem, config.sft_size, config.selection_seed
    )
    pairs = select_pairs(problems, store, config.pairs_per_problem, config.selection_seed)
    sft_records, pair_records = write_training_data(out, chosen, pairs, verify_config.protocol)
    paths = {"sft": out / "sft.jsonl", "dpo": out / "dpo.jsonl", "samples": store.path}
    exports = split_names(config.export)
    if "sharegpt" in exports:
        from redstar_geo.synthesis.export import export_sharegpt

        written = export_sharegpt(sft_records, pair_records, out, out / "sharegpt")
        paths.update({f"sharegpt_{k}": v for k, v in written.items()})
    if "hf" in exports:
        from redstar_geo.synthesis.export import export_hf

        paths.update({f"hf_{k}": v for k, v in export_hf(sft_records, pair_records, out, out / "hf").items()})
    samples = store.records([p.id for p in problems])
    if config.report:
        from redstar_geo.synthesis.report import write_synthesis_report

        paths.update(
            write_synthesis_report(
                out / "report", by_id, samples, statuses, sft_records, pair_records, decontam and (decontam, dropped)
            )
        )
    _write_issues(out, issues)
    return {
        "problems": len(problems),
        "samples": sum(s["n_samples"] for s in statuses),
        "verified": sum(s["n_verified"] for s in statuses),
        "errors": sum(s["n_errors"] for s in statuses),
        "sft": len(sft_records),
        "dpo": len(pair_records),
        "issues": len(issues),
        "paths": {k: str(v) for k, v in paths.items()},
    }


def _write_issues(out_dir: Path, issues: IssueLog) -> None:
    write_text(out_dir / ISSUES, "".join(f"{issue}\n" for issue in issues))
