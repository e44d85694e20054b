"""A run directory: the files one evaluation of one benchmark writes (``eval/run.py --out OUT``), and reading them.

Layout (the run's own files are named by the constants below, and only here; the reports are named by
:mod:`redstar_geo.reports`, which writes them)::

    OUT/responses.jsonl     generation records of a model run, appended as they finish (redstar_geo.generation)
    OUT/extractions.jsonl   answers the LLM extractor gave (--extractor llm), cached across reruns
    OUT/samples.jsonl       one ScoredSample per problem, in benchmark order
    OUT/summary.json        accuracy, status counts, breakdowns (redstar_geo.evaluation.summarize_scores)
    OUT/issues.txt          every bad input line and unreadable image, one per line
    OUT/config.json         the run's options (EvalConfig; GenerationConfig under "generation")
    OUT/report.html, report.md, accuracy.png, response_lengths.png   written by redstar_geo.reports

``--bench all`` writes one such directory per benchmark (``OUT/geoqa``, ...) and ``OUT/summary.json``, the list of
their summaries. Usage::

    from redstar_geo.run_dir import load_problems, load_responses, load_samples, load_summary, write_run

    write_run("runs/x", samples=samples, summary=summary, issues=issues, config=config)
    summary, samples = load_summary("runs/x"), load_samples("runs/x")      # dict, list[ScoredSample]
    problems, responses = load_problems("runs/x"), load_responses("runs/x")  # as the run's config.json says
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redstar_geo.benchmarks import BENCHMARKS, load_benchmark
from redstar_geo.jsonl import (
    DataError,
    IssueLog,
    append_jsonl,
    iter_jsonl,
    read_json,
    write_json,
    write_jsonl,
    write_text,
)
from redstar_geo.predictions import load_predictions
from redstar_geo.schema import Problem

RESPONSES = "responses.jsonl"
EXTRACTIONS = "extractions.jsonl"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
ISSUES = "issues.txt"
CONFIG = "config.json"


@dataclass(frozen=True)
class ScoredSample:
    """One problem's line of ``samples.jsonl``: the judge's verdict, the gold answer and what generation recorded.

    ``status``: "correct", "wrong" or "no_answer" (judged), "missing" (no prediction for the id) or "error" (its
    generation or its image failed; ``reason`` says how). ``method``: how the answer was extracted ("none" when
    there was no response). ``gold``: ``{"letter", "value"}``. ``response_chars``: the length of the scored (first)
    response, None without one. ``model_run``: the sample comes from a model run, so ``finish_reason`` is recorded
    (None when the generation failed); ``response_tokens``: the scored response's length in tokens, where the
    backend counts them; ``error``: the generation or image error, also on a sample answered without its image
    (``text_only``). ``n_correct`` of ``n_responses``: the responses judged correct when sampling n > 1.

    :meth:`to_dict` writes the line: the fields up to ``gold`` always, the others only where they apply.
    """

    id: str
    extracted: str | None
    letter: str | None
    correct: bool
    status: str
    method: str
    reason: str
    gold: dict
    response_chars: int | None = None
    model_run: bool = False
    finish_reason: str | None = None
    response_tokens: int | None = None
    error: str | None = None
    text_only: bool = False
    n_correct: int | None = None
    n_responses: int | None = None

    def to_dict(self) -> dict:
        record = {
            "id": self.id,
            "extracted": self.extracted,
            "letter": self.letter,
            "correct": self.correct,
            "status": self.status,
            "method": self.method,
            "reason": self.reason,
            "gold": self.gold,
        }
        if self.response_chars is not None:
            record["response_chars"] = self.response_chars
        if self.model_run:  # null when the generation failed: a model run records a finish reason for every sample
            record["finish_reason"] = self.finish_reason
        if self.response_tokens is not None:
            record["response_tokens"] = self.response_tokens
        if self.error is not None:
            record["error"] = self.error
        if self.text_only:
            record["text_only"] = True
        if self.n_responses is not None:
            record["n_correct"] = self.n_correct
            record["n_responses"] = self.n_responses
        return record

    @classmethod
    def from_dict(cls, record: dict) -> ScoredSample:
        """Read a ``samples.jsonl`` line back, from this version or an older one (absent optional keys are None)."""
        return cls(
            id=str(record["id"]),
            extracted=record.get("extracted"),
            letter=record.get("letter"),
            correct=record.get("correct", False),
            status=record["status"],
            method=record.get("method", "none"),
            reason=record.get("reason", ""),
            gold=record.get("gold") or {},
            response_chars=record.get("response_chars"),
            model_run="finish_reason" in record,
            finish_reason=record.get("finish_reason"),
            response_tokens=record.get("response_tokens"),
            error=record.get("error"),
            text_only=bool(record.get("text_only")),
            n_correct=record.get("n_correct"),
            n_responses=record.get("n_responses"),
        )


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def write_run(
    run_dir: str | Path, *, samples: list[ScoredSample], summary: dict, issues: Iterable, config: dict
) -> None:
    """Write ``samples.jsonl``, ``summary.json``, ``issues.txt`` (one issue per line) and ``config.json``, each
    replaced atomically."""
    run_dir = Path(run_dir)
    write_jsonl(run_dir / SAMPLES, (sample.to_dict() for sample in samples))
    write_json(run_dir / SUMMARY, summary)
    write_text(run_dir / ISSUES, "".join(f"{issue}\n" for issue in issues))
    write_json(run_dir / CONFIG, config)


def write_summaries(out: str | Path, summaries: list[dict]) -> None:
    """``OUT/summary.json`` of a ``--bench all`` run: the list of its benchmarks' summaries."""
    write_json(Path(out) / SUMMARY, summaries)


def load_extractions(run_dir: str | Path) -> dict[str, str | None]:
    """The LLM extractor's cached answers, ``{problem id: answer or None}``; empty before the first extraction."""
    path = Path(run_dir) / EXTRACTIONS
    return {rec["id"]: rec["answer"] for _, rec in iter_jsonl(path, IssueLog())} if path.exists() else {}


def append_extractions(run_dir: str | Path, records: list[dict]) -> None:
    """Add ``{"id", "answer", "error"}`` records to the extractor's cache."""
    append_jsonl(Path(run_dir) / EXTRACTIONS, records)


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a run's summary (a ``--bench all`` directory does too, and is refused on loading)."""
    return (Path(path) / SUMMARY).is_file()


def load_summary(run_dir: str | Path) -> dict:
    """The run's ``summary.json``; a :class:`DataError` for a directory that is not one run of one benchmark."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise DataError(f"{run_dir}: not a run directory (no {SUMMARY})")
    summary = read_json(run_dir / SUMMARY)
    if isinstance(summary, list):
        benches = ", ".join(str(run_dir / str(s.get("bench"))) for s in summary if isinstance(s, dict))
        raise DataError(f"{run_dir}: a --bench all run; give its directories of one benchmark each: {benches}")
    if not isinstance(summary, dict):
        raise DataError(f"{run_dir / SUMMARY}: expected a JSON object, got {type(summary).__name__}")
    return summary


def load_samples(run_dir: str | Path) -> list[ScoredSample]:
    """The per-problem records of ``samples.jsonl`` (bad lines are skipped; ``eval/run.py`` writes none)."""
    return [
        ScoredSample.from_dict(rec)
        for _, rec in iter_jsonl(Path(run_dir) / SAMPLES, IssueLog())
        if isinstance(rec, dict) and "id" in rec and "status" in rec
    ]


def load_config(run_dir: str | Path) -> dict:
    """The run's options as ``config.json`` holds them."""
    return read_json(Path(run_dir) / CONFIG)


def load_problems(run_dir: str | Path) -> list[Problem]:
    """The benchmark problems a run was scored on, loaded again as its ``config.json`` says."""
    config = load_config(run_dir)
    # A `--bench all` run writes one directory per benchmark, each with the shared config: the summary names it.
    bench = load_summary(run_dir)["bench"]
    if bench not in BENCHMARKS:
        raise DataError(f"{Path(run_dir) / SUMMARY}: unknown benchmark {bench!r}; known: {', '.join(BENCHMARKS)}")
    return load_benchmark(
        bench,
        data=config.get("data"),
        image_root=config.get("image_root"),
        split=config.get("split"),
        limit=config.get("limit"),
    )


def load_responses(run_dir: str | Path) -> dict[str, str]:
    """``{problem id: response text}``: the first response of ``responses.jsonl`` for a model run, else the
    predictions file that ``config.json`` names (score-only runs)."""
    run_dir = Path(run_dir)
    if (run_dir / RESPONSES).is_file():
        responses = {}
        for _, rec in iter_jsonl(run_dir / RESPONSES, IssueLog()):
            if isinstance(rec, dict) and rec.get("responses"):
                responses[str(rec["id"])] = rec["responses"][0]
        return responses
    config = load_config(run_dir)
    if not config.get("predictions"):
        raise DataError(f"{run_dir}: neither {RESPONSES} (a model run) nor a predictions file named in {CONFIG}")
    ids = {s.id for s in load_samples(run_dir)}
    return load_predictions(config["predictions"], config.get("predictions_format", "jsonl"), ids, IssueLog())


__all__ = [
    "CONFIG",
    "EXTRACTIONS",
    "ISSUES",
    "RESPONSES",
    "SAMPLES",
    "SUMMARY",
    "ScoredSample",
    "append_extractions",
    "is_run_dir",
    "load_config",
    "load_extractions",
    "load_problems",
    "load_responses",
    "load_samples",
    "load_summary",
    "write_run",
    "write_summaries",
]
