"""Evaluating on geometry benchmarks: generate (or read) responses, judge them, summarise.

Usage::

    from redstar_geo.evaluation import EvalConfig, run_evaluation
    from redstar_geo.generation import GenerationConfig

    # score existing outputs
    run_evaluation(EvalConfig(bench="geoqa", predictions="preds.jsonl", out="runs/geoqa"))
    # run a model on every benchmark
    run_evaluation(EvalConfig(bench="all", out="runs/tiny"), GenerationConfig(model="runs/tiny-qwen2vl"))

The stages persist separately, so each can be redone alone: ``OUT/responses.jsonl`` (generation; appended as batches
finish, resumed on rerun), ``OUT/extractions.jsonl`` (LLM answer extraction, when asked for; cached), then
``OUT/samples.jsonl`` (one :class:`~redstar_geo.run_dir.ScoredSample` per problem: id, extracted answer, correct,
status, reason), ``OUT/summary.json`` and ``OUT/issues.txt`` (every bad input line, by file and line, and every
unreadable image); :mod:`redstar_geo.run_dir` names these files, writes them and reads them back. Rerunning with a
changed judge re-scores from the stored responses without generating again. A problem without a prediction counts as
wrong (status ``missing``), one whose generation failed or whose image could not be read counts as wrong with status
``error``; both are listed. With ``--missing_image text_only`` a problem whose image could not be read is asked
without it and scored on that answer; the summary counts these apart (``text_only``, ``text_only_ids``) and each
sample says so (``"text_only": true`` and the image ``error``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from redstar_geo.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from redstar_geo.generation import GenerationConfig, OpenAIBackend, Request, generate_responses, get_backend
from redstar_geo.jsonl import IssueLog, replace_surrogates
from redstar_geo.judge import PROTOCOLS, judge
from redstar_geo.predictions import PREDICTION_FORMATS, load_predictions
from redstar_geo.reports import write_reports
from redstar_geo.run_dir import (
    RESPONSES,
    ScoredSample,
    append_extractions,
    load_extractions,
    write_run,
    write_summaries,
)
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

EXTRACTORS = ("rules", "llm")
LLM_EXTRACT_PROMPT = (
    "Below is a model's response to a math question. Reply with only its final answer (a choice letter, a number "
    "or an expression), exactly as the response states it, or with NONE if it states no final answer.\n\n"
    "Question:\n{question}\n\nResponse:\n{response}"
)


@dataclass
class EvalConfig:
    """Options of ``eval/run.py`` (the model and sampling options are in ``GenerationConfig``)."""

    bench: str = field(metadata={"help": f"benchmark: {', '.join(BENCHMARKS)}, or all"})
    predictions: str | None = field(
        default=None, metadata={"help": "score these model outputs instead of running --model"}
    )
    out: str = field(default="runs/eval", metadata={"help": "output directory (one subdirectory per bench for all)"})
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
    limit: int | None = field(default=None, metadata={"help": "only the first N problems of each benchmark"})
    extractor: str = field(
        default="rules",
        metadata={
            "help": "rules: the rule-based judge only; llm: when the rules find no answer, ask an "
            "OpenAI-compatible model to extract it (as MathVista's official pipeline does)"
        },
    )
    extractor_api_base: str = field(default="http://127.0.0.1:8000/v1", metadata={"help": "LLM extractor URL"})
    extractor_model: str | None = field(default=None, metadata={"help": "LLM extractor model name"})
    report: bool = field(default=True, metadata={"help": "write report.html, report.md and plots per benchmark"})

    def __post_init__(self):
        names = list(BENCHMARKS) if self.bench == "all" else [self.bench]
        if self.bench != "all" and self.bench not in BENCHMARKS:
            raise ValueError(f"unknown --bench {self.bench!r}; known: {', '.join(BENCHMARKS)}, all")
        if self.bench == "all" and (self.data or self.predictions):
            raise ValueError("--bench all runs a model on each bundled benchmark; --data/--predictions need one bench")
        for name in names:
            protocols = BENCHMARKS[name].protocols
            if self.protocol is not None and (self.protocol not in PROTOCOLS or self.protocol not in protocols):
                raise ValueError(f"--protocol {self.protocol!r} is not available for {name}: {protocols}")
        if self.predictions_format not in PREDICTION_FORMATS:
            raise ValueError(f"unknown --predictions_format {self.predictions_format!r}: {list(PREDICTION_FORMATS)}")
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"unknown --extractor {self.extractor!r}: {EXTRACTORS}")
        if self.extractor == "llm" and not self.extractor_model:
            raise ValueError("--extractor llm needs --extractor_model")
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be >= 1")
        # Checked now, not when the first results are written: a model run would otherwise generate a chunk first.
        existing = next((p for p in (Path(self.out), *Path(self.out).parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise ValueError(
                f"--out {self.out}: {existing} is an existing file, not a directory; --out names the output "
                "directory, so choose another path or remove the file"
            )

    @property
    def benches(self) -> list[str]:
        return list(BENCHMARKS) if self.bench == "all" else [self.bench]

    def run_dir(self, bench: str) -> Path:
        """The run directory of ``bench``: ``--out`` itself, or its subdirectory ``bench`` for ``--bench all``."""
        return Path(self.out) / bench if self.bench == "all" else Path(self.out)


def _generation_fields(record: dict | None) -> dict:
    """The :class:`ScoredSample` fields a generation record (``responses.jsonl``) fills; none for score-only runs."""
    if record is None:
        return {}
    return {
        "model_run": True,
        "finish_reason": (record.get("finish_reasons") or [None])[0],
        "response_tokens": record["n_tokens"][0] if record.get("n_tokens") else None,
        "error": record.get("error") or None,
        # answered without its unreadable image (--missing_image text_only)
        "text_only": bool(record.get("text_only") and record.get("responses")),
    }


def score_predictions(
    problems: list[Problem],
    predictions: dict[str, list[str]],
    protocol: str,
    generations: dict[str, dict] | None = None,
    llm_answers: dict[str, str] | None = None,
) -> list[ScoredSample]:
    """One scored sample per problem, in benchmark order.

    ``predictions`` maps ids to their responses (several when sampling n > 1; the first one is scored, all count
    towards pass@n). ``generations`` holds the generation records (finish reasons, errors); ``llm_answers`` the
    answers an LLM extracted where the rules found none.
    """
    generations, llm_answers = generations or {}, llm_answers or {}
    samples = []
    for problem in problems:
        gold = {"letter": problem.answer_letter, "value": problem.gold_value}
        responses = predictions.get(problem.id)
        record = generations.get(problem.id)
        if not responses:
            if record is not None and record.get("error"):
                status, reason = "error", record["error"]
            else:
                status, reason = "missing", "no prediction for this id"
            samples.append(
                ScoredSample(
                    id=problem.id,
                    extracted=None,
                    letter=None,
                    correct=False,
                    status=status,
                    method="none",
                    reason=reason,
                    gold=gold,
                    **_generation_fields(record),
                )
            )
            continue
        verdict = judge(responses[0], problem, protocol=protocol)
        if verdict.status == "no_answer" and llm_answers.get(problem.id):
            llm = judge(f"Answer: {llm_answers[problem.id]}", problem, protocol=protocol)
            if llm.extracted is not None:
                verdict = dataclasses.replace(llm, method="llm")
        sampled = {}
        if len(responses) > 1:
            sampled["n_correct"] = sum(judge(r, problem, protocol=protocol).correct for r in responses)
            sampled["n_responses"] = len(responses)
        samples.append(
            ScoredSample(
                id=problem.id,
                **verdict.to_dict(),
                gold=gold,
                response_chars=len(responses[0]),
                **_generation_fields(record),
                **sampled,
            )
        )
    return samples


def error_kind(reason: str) -> str:
    """The kind of a failed sample's error: ``image``, or ``generation: <kind>`` (``generation: timeout``,
    ``generation: HTTP 500``, ``generation: malformed reply``, ...; see :mod:`redstar_geo.openai_client`)."""
    if "generation: " in reason:
        return "generation: " + reason.split("generation: ", 1)[1].split(":", 1)[0]
    return reason.split(":", 1)[0]


def summarize_scores(bench: str, protocol: str, problems: list[Problem], samples: list[ScoredSample], **extra) -> dict:
    """A run's ``summary.json``: accuracy (percent), status counts, the missing, failed and text-only ids, response
    lengths, pass@n when sampling, and accuracy by each of the benchmark's breakdowns; ``extra`` is added as it is."""
    counts = Counter(s.status for s in samples)
    n = len(samples)
    answered = [s for s in samples if s.response_chars is not None]
    summary = {
        "bench": bench,
        "protocol": protocol,
        "n": n,
        "accuracy": round(100.0 * counts["correct"] / n, 2) if n else 0.0,
        "correct": counts["correct"],
        "wrong": counts["wrong"],
        "no_answer": counts["no_answer"],
        "missing": counts["missing"],
        "errors": counts["error"],
        "missing_ids": [s.id for s in samples if s.status == "missing"],
        "error_ids": [s.id for s in samples if s.status == "error"],
        "error_kinds": dict(Counter(error_kind(s.reason) for s in samples if s.status == "error")),
        # Answered without their diagram (its image could not be read), and scored: already in correct/wrong/no_answer.
        "text_only": sum(s.text_only for s in samples),
        "text_only_ids": [s.id for s in samples if s.text_only],
        "truncated": sum(s.finish_reason == "length" for s in samples),
        "mean_response_chars": round(sum(s.response_chars for s in answered) / len(answered), 1) if answered else 0,
        "extraction_methods": dict(Counter(s.method for s in samples if s.status not in ("missing", "error"))),
        **extra,
    }
    tokens = [s.response_tokens for s in samples if s.response_tokens is not None]
    if tokens:
        summary["mean_response_tokens"] = round(sum(tokens) / len(tokens), 1)
    sampled = [s for s in samples if s.n_responses is not None]
    if sampled:
        k = sampled[0].n_responses
        summary[f"pass@{k}"] = round(100.0 * sum(s.n_correct > 0 for s in sampled) / n, 2)
        summary[f"mean_accuracy@{k}"] = round(100.0 * sum(s.n_correct / k for s in sampled) / n, 2)
    by_id = {p.id: p for p in problems}
    breakdowns = {}
    # Rows that are no benchmark's (batch QA) break down by language only.
    for key in get_benchmark(bench).breakdowns if bench in BENCHMARKS else ("language",):
        groups = defaultdict(lambda: [0, 0])
        for s in samples:
            group = groups[by_id[s.id].group_value(key)]
            group[0] += 1
            group[1] += s.correct
        if len(groups) > 1:
            breakdowns[key] = {
                g: {"n": t, "correct": c, "accuracy": round(100.0 * c / t, 2)} for g, (t, c) in sorted(groups.items())
            }
    summary["breakdowns"] = breakdowns
    return summary


def format_summary(summary: dict | list[dict]) -> str:
    """A short fixed-width table of one or more summaries."""
    rows = summary if isinstance(summary, list) else [summary]
    header = (
        f"{'bench':<14}{'protocol':<9}{'n':>6}{'accuracy':>10}{'correct':>9}{'wrong':>7}{'no-ans':>8}"
        f"{'missing':>9}{'errors':>8}{'truncated':>10}"
    )
    lines = [header, "-" * len(header)]
    for s in rows:
        lines.append(
            f"{s['bench']:<14}{s['protocol']:<9}{s['n']:>6}{s['accuracy']:>9.2f}%{s['correct']:>9}"
            f"{s['wrong']:>7}{s['no_answer']:>8}{s['missing']:>9}{s['errors']:>8}{s['truncated']:>10}"
        )
    return "\n".join(lines)


def llm_extract(
    problems: list[Problem], predictions: dict[str, list[str]], config: EvalConfig, run_dir: Path
) -> dict[str, str]:
    """Ask an LLM for the final answer of each response the rules find none in; cached in the run directory."""
    cache = load_extractions(run_dir)
    todo = [
        p
        for p in problems
        if p.id not in cache and predictions.get(p.id) and judge(predictions[p.id][0], p).status == "no_answer"
    ]
    if todo:
        backend = OpenAIBackend(
            GenerationConfig(
                backend="openai", model=config.extractor_model, max_new_tokens=64, api_base=config.extractor_api_base
            )
        )
        requests = [
            Request(p.id, LLM_EXTRACT_PROMPT.format(question=p.question, response=predictions[p.id][0][-8000:]))
            for p in todo
        ]
        records = []
        for p, gen in zip(todo, backend.generate(requests), strict=True):
            answer = None if gen.error else replace_surrogates(gen.texts[0]).strip()
            records.append(
                {"id": p.id, "answer": None if answer in (None, "", "NONE") else answer, "error": gen.error}
            )
        append_extractions(run_dir, records)
        cache.update({r["id"]: r["answer"] for r in records})
    return {k: v for k, v in cache.items() if v}


def evaluate_benchmark(
    name: str, config: EvalConfig, backend=None, gen_config: GenerationConfig | None = None
) -> dict:
    """Run the stages for one benchmark into its output directory; returns the summary."""
    bench = get_benchmark(name)
    protocol = config.protocol or bench.protocols[0]
    out = config.run_dir(name)
    issues = IssueLog()
    data = bench.data_path(config.data)
    problems = load_benchmark(
        name, data=data, image_root=config.image_root, split=config.split, limit=config.limit, issues=issues
    )
    generations = {}
    extra = {"data": str(data)}
    if backend is not None:
        generations = generate_responses(
            problems,
            lambda p: bench.prompt(p, protocol),
            backend,
            out / RESPONSES,
            missing_image=gen_config.missing_image,
            chunk_size=gen_config.save_every,
            issues=issues,
        )
        for problem in problems:  # from the stored records, so a resumed run lists them all again
            record = generations[problem.id]
            if record.get("image_error"):
                what = (
                    "asked without the image (--missing_image text_only)"
                    if record.get("text_only")
                    else "not asked; counts as an error (--missing_image text_only would ask without the image)"
                )
                issues.add(data, None, problem.id, f"{record['image_error']}; {what}")
        predictions = {rid: rec["responses"] for rid, rec in generations.items() if rec["responses"]}
        extra.update(model=gen_config.model, backend=gen_config.backend)
    else:
        raw = load_predictions(config.predictions, config.predictions_format, {p.id for p in problems}, issues)
        predictions = {rid: [text] for rid, text in raw.items()}
        extra["predictions"] = str(config.predictions)
    llm_answers = llm_extract(problems, predictions, config, out) if config.extractor == "llm" else None
    samples = score_predictions(problems, predictions, protocol, generations=generations, llm_answers=llm_answers)
    summary = summarize_scores(name, protocol, problems, samples, **extra, issues=len(issues))
    options = dataclasses.asdict(config)
    if gen_config:
        options["generation"] = dataclasses.asdict(gen_config)
    write_run(out, samples=samples, summary=summary, issues=issues, config=options)
    if config.report:
        write_reports(out, problems, {rid: texts[0] for rid, texts in predictions.items()})
    return summary


def run_evaluation(config: EvalConfig, gen_config: GenerationConfig | None = None) -> list[dict] | dict:
    """Evaluate every benchmark of ``config``; a model run when ``gen_config.model`` is set, else score-only.

    Returns the summary (one bench) or the list of summaries (``--bench all``).
    """
    backend = None
    if gen_config is not None and gen_config.model:
        backend = get_backend(gen_config)
    elif config.predictions is None:
        raise ValueError("give --model to run a model, or --predictions to score existing outputs")
    summaries = [evaluate_benchmark(name, config, backend, gen_config) for name in config.benches]
    if config.bench == "all":
        write_summaries(config.out, summaries)
    return summaries if config.bench == "all" else summaries[0]
