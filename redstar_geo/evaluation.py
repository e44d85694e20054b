"""Scoring model outputs on a benchmark: predictions in, per-sample verdicts and a summary out.

Usage::

    from redstar_geo.evaluation import EvalConfig, run_evaluation
    summary = run_evaluation(EvalConfig(bench="geoqa", predictions="preds.jsonl", out="runs/geoqa"))

Writes ``OUT/samples.jsonl`` (one line per benchmark problem: id, extracted answer, correct, status, reason),
``OUT/summary.json`` and ``OUT/issues.txt`` (every bad prediction line, by file and line). A problem without a
prediction counts as wrong (status ``missing``) and is listed in the summary.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redstar_geo.benchmarks import BENCHMARKS, data_dir, get_benchmark
from redstar_geo.jsonl import DataError, IssueLog, iter_jsonl, read_json, write_json, write_jsonl
from redstar_geo.judge import PROTOCOLS, judge
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

# JSONL prediction formats: (id field, response field). G-LLaVA's published outputs use question_id/text.
PREDICTION_FORMATS = {"jsonl": ("id", "response"), "gllava": ("question_id", "text"), "mathvista": None}


@dataclass
class EvalConfig:
    """Options of ``eval/run.py``."""

    bench: str = field(metadata={"help": f"benchmark: {', '.join(BENCHMARKS)}"})
    predictions: str = field(metadata={"help": "model outputs to score (see --predictions_format)"})
    out: str = field(default="runs/eval", metadata={"help": "output directory for samples.jsonl and summary.json"})
    data: str | None = field(
        default=None, metadata={"help": "benchmark file, directory or HF dataset id (default: the bundled file)"}
    )
    image_root: str | None = field(default=None, metadata={"help": "directory that image paths are relative to"})
    split: str | None = field(default=None, metadata={"help": "dataset split, for Hugging Face datasets"})
    protocol: str | None = field(
        default=None,
        metadata={
            "help": "choice: letter vs gold letter (G-LLaVA); value: free-form value vs gold value (R1-V). "
            "Default: the benchmark's first protocol"
        },
    )
    predictions_format: str = field(
        default="jsonl",
        metadata={
            "help": "jsonl: {'id', 'response'} lines; gllava: {'question_id', 'text'} lines (G-LLaVA's "
            "outputs); mathvista: a JSON dict pid -> {'response': ...} (MathVista's output files)"
        },
    )

    def __post_init__(self):
        if self.bench not in BENCHMARKS:
            raise ValueError(f"unknown --bench {self.bench!r}; known: {', '.join(BENCHMARKS)}")
        bench = BENCHMARKS[self.bench]
        self.protocol = self.protocol or bench.protocols[0]
        if self.protocol not in PROTOCOLS or self.protocol not in bench.protocols:
            raise ValueError(f"--protocol {self.protocol!r} is not available for {self.bench}: {bench.protocols}")
        if self.predictions_format not in PREDICTION_FORMATS:
            raise ValueError(f"unknown --predictions_format {self.predictions_format!r}: {list(PREDICTION_FORMATS)}")


def load_predictions(path: str | Path, fmt: str, known_ids: set[str], issues: IssueLog) -> dict[str, str]:
    """``{problem id: response}``; malformed lines, wrong types, duplicates and unknown ids go to ``issues``."""
    path = Path(path)
    if fmt == "mathvista":
        data = read_json(path)
        if not isinstance(data, dict):
            raise DataError(f"{path}: a MathVista output file is a JSON object keyed by pid")
        rows = [
            (None, {"id": pid, "response": (rec or {}).get("response") if isinstance(rec, dict) else rec})
            for pid, rec in data.items()
        ]
        id_key, response_key = "id", "response"
    else:
        id_key, response_key = PREDICTION_FORMATS[fmt]
        rows = iter_jsonl(path, issues)
    predictions: dict[str, str] = {}
    for line, rec in rows:
        if not isinstance(rec, dict):
            issues.add(path, line, None, f"expected a JSON object, got {type(rec).__name__}")
            continue
        rid, response = rec.get(id_key), rec.get(response_key)
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            issues.add(path, line, None, f"field {id_key!r} must be a string or integer, got {rid!r:.60}")
            continue
        rid = str(rid)
        if not isinstance(response, str):
            issues.add(path, line, rid, f"field {response_key!r} must be a string, got {type(response).__name__}")
            continue
        if rid not in known_ids:
            issues.add(path, line, rid, "id is not in the benchmark; ignored")
            continue
        if rid in predictions:
            issues.add(path, line, rid, "duplicate prediction; kept the first")
            continue
        predictions[rid] = response
    return predictions


def score_predictions(problems: list[Problem], predictions: dict[str, str], protocol: str) -> list[dict]:
    """One sample record per problem, in benchmark order."""
    samples = []
    for problem in problems:
        gold = {"letter": problem.answer_letter, "value": problem.gold_value}
        response = predictions.get(problem.id)
        if response is None:
            samples.append(
                {
                    "id": problem.id,
                    "extracted": None,
                    "letter": None,
                    "correct": False,
                    "status": "missing",
                    "method": "none",
                    "reason": "no prediction for this id",
                    "gold": gold,
                }
            )
            continue
        verdict = judge(response, problem, protocol=protocol)
        samples.append({"id": problem.id, **verdict.to_dict(), "gold": gold, "response_chars": len(response)})
    return samples


def summarize(bench: str, protocol: str, problems: list[Problem], samples: list[dict], **extra) -> dict:
    """Accuracy (percent), status counts, the missing ids, and accuracy by each of the benchmark's breakdowns."""
    counts = Counter(s["status"] for s in samples)
    n = len(samples)
    summary = {
        "bench": bench,
        "protocol": protocol,
        "n": n,
        "accuracy": round(100.0 * counts["correct"] / n, 2) if n else 0.0,
        "correct": counts["correct"],
        "wrong": counts["wrong"],
        "no_answer": counts["no_answer"],
        "missing": counts["missing"],
        "missing_ids": [s["id"] for s in samples if s["status"] == "missing"],
        "extraction_methods": dict(Counter(s["method"] for s in samples if s["status"] != "missing")),
        **extra,
    }
    by_id = {p.id: p for p in problems}
    breakdowns = {}
    for key in get_benchmark(bench).breakdowns:
        groups = defaultdict(lambda: [0, 0])
        for s in samples:
            group = groups[by_id[s["id"]].group_value(key)]
            group[0] += 1
            group[1] += s["correct"]
        if len(groups) > 1:
            breakdowns[key] = {
                g: {"n": t, "correct": c, "accuracy": round(100.0 * c / t, 2)} for g, (t, c) in sorted(groups.items())
            }
    summary["breakdowns"] = breakdowns
    return summary


def format_summary(summary: dict) -> str:
    """A short fixed-width table of one or more summaries."""
    rows = summary if isinstance(summary, list) else [summary]
    header = (
        f"{'bench':<14}{'protocol':<9}{'n':>6}{'accuracy':>10}{'correct':>9}{'wrong':>7}{'no-ans':>8}{'missing':>9}"
    )
    lines = [header, "-" * len(header)]
    for s in rows:
        lines.append(
            f"{s['bench']:<14}{s['protocol']:<9}{s['n']:>6}{s['accuracy']:>9.2f}%{s['correct']:>9}"
            f"{s['wrong']:>7}{s['no_answer']:>8}{s['missing']:>9}"
        )
    return "\n".join(lines)


def run_evaluation(config: EvalConfig) -> dict:
    """Score ``config.predictions`` on ``config.bench`` and write the report files; returns the summary."""
    bench = get_benchmark(config.bench)
    issues = IssueLog()
    data = config.data or str(data_dir() / bench.default_data)
    problems = bench.load(data, config.image_root, issues, split=config.split)
    if not problems:
        raise DataError(f"{data}: no {config.bench} problems could be loaded")
    predictions = load_predictions(config.predictions, config.predictions_format, {p.id for p in problems}, issues)
    samples = score_predictions(problems, predictions, config.protocol)
    summary = summarize(
        config.bench,
        config.protocol,
        problems,
        samples,
        data=str(data),
        predictions=str(config.predictions),
        issues=len(issues),
    )
    out = Path(config.out)
    write_jsonl(out / "samples.jsonl", samples)
    write_json(out / "summary.json", summary)
    (out / "issues.txt").write_text("".join(f"{issue}\n" for issue in issues), encoding="utf-8")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
    return summary
