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
``OUT/samples.jsonl`` (one line per problem: id, extracted answer, correct, status, reason), ``OUT/summary.json`` and
``OUT/issues.txt`` (every bad input line, by file and line, and every unreadable image). Rerunning with a changed
judge re-scores from the stored responses without generating again. A problem without a prediction counts as wrong
(status ``missing``), one whose generation failed or whose image could not be read counts as wrong with status
``error``; both are listed. With ``--missing_image text_only`` a problem whose image could not be read is asked
without it and scored on that answer; the summary counts these apart (``text_only``, ``text_only_ids``) and each
sample says so (``"text_only": true`` and the image ``error``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redstar_geo.benchmarks import BENCHMARKS, get_benchmark
from redstar_geo.jsonl import (
    DataError,
    IssueLog,
    append_jsonl,
    iter_jsonl,
    read_json,
    replace_surrogates,
    write_json,
    write_jsonl,
    write_text,
)
from redstar_geo.judge import PROTOCOLS, judge
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

# JSONL prediction formats: (id field, response field). G-LLaVA's published outputs use question_id/text.
PREDICTION_FORMATS = {"jsonl": ("id", "response"), "gllava": ("question_id", "text"), "mathvista": None}
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
        fixed = replace_surrogates(response)
        if fixed is not response:
            issues.add(path, line, rid, f"{response_key!r} has lone surrogates (invalid Unicode); scored with U+FFFD")
        predictions[rid] = fixed
    return predictions


def _generation_fields(record: dict | None) -> dict:
    if record is None:
        return {}
    fields = {"finish_reason": (record.get("finish_reasons") or [None])[0]}
    if record.get("n_tokens"):
        fields["response_tokens"] = record["n_tokens"][0]
    if record.get("error"):
        fields["error"] = record["error"]
    if record.get("text_only") and record.get("responses"):
        fields["text_only"] = True  # answered without its unreadable image (--missing_image text_only)
    return fields


def score_predictions(
    problems: list[Problem],
    predictions: dict[str, list[str]],
    protocol: str,
    generations: dict[str, dict] | None = None,
    llm_answers: dict[str, str] | None = None,
) -> list[dict]:
    """One sample record per problem, in benchmark order.

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
                {
                    "id": problem.id,
                    "extracted": None,
                    "letter": None,
                    "correct": False,
                    "status": status,
                    "method": "none",
                    "reason": reason,
                    "gold": gold,
                    **_generation_fields(record),
                }
            )
            continue
        verdict = judge(responses[0], problem, protocol=protocol)
        if verdict.status == "no_answer" and llm_answers.get(problem.id):
            llm = judge(f"Answer: {llm_answers[problem.id]}", problem, protocol=protocol)
            if llm.extracted is not None:
                verdict = type(llm)(llm.correct, llm.status, llm.extracted, llm.letter, "llm", llm.reason)
        sample = {
            "id": problem.id,
            **verdict.to_dict(),
            "gold": gold,
            "response_chars": len(responses[0]),
            **_generation_fields(record),
        }
        if len(responses) > 1:
            sample["n_correct"] = sum(judge(r, problem, protocol=protocol).correct for r in responses)
            sample["n_responses"] = len(responses)
        samples.append(sample)
    return samples


def error_kind(reason: str) -> str:
    """The kind of a failed sample's error: ``image``, or ``generation: <kind>`` (``generation: timeout``,
    ``generation: HTTP 500``, ``generation: malformed reply``, ...; see :mod:`redstar_geo.openai_client`)."""
    if "generation: " in reason:
        return "generation: " + reason.split("generation: ", 1)[1].split(":", 1)[0]
    return reason.split(":", 1)[0]


def summarize(bench: str, protocol: str, problems: list[Problem], samples: list[dict], **extra) -> dict:
    """Accuracy (percent), status counts, the missing ids, and accuracy by each of the benchmark's breakdowns."""
    counts = Counter(s["status"] for s in samples)
    n = len(samples)
    answered = [s for s in samples if "response_chars" in s]
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
        "missing_ids": [s["id"] for s in samples if s["status"] == "missing"],
        "error_ids": [s["id"] for s in samples if s["status"] == "error"],
        "error_kinds": dict(Counter(error_kind(s["reason"]) for s in samples if s["status"] == "error")),
        # Answered without their diagram (its image could not be read), and scored: already in correct/wrong/no_answer.
        "text_only": sum(bool(s.get("text_only")) for s in samples),
        "text_only_ids": [s["id"] for s in samples if s.get("text_only")],
        "truncated": sum(s.get("finish_reason") == "length" for s in samples),
        "mean_response_chars": round(sum(s["response_chars"] for s in answered) / len(answered), 1) if answered else 0,
        "extraction_methods": dict(Counter(s["method"] for s in samples if s["status"] not in ("missing", "error"))),
        **extra,
    }
    tokens = [s["response_tokens"] for s in samples if "response_tokens" in s]
    if tokens:
        summary["mean_response_tokens"] = round(sum(tokens) / len(tokens), 1)
    sampled = [s for s in samples if "n_responses" in s]
    if sampled:
        k = sampled[0]["n_responses"]
        summary[f"pass@{k}"] = round(100.0 * sum(s["n_correct"] > 0 for s in sampled) / n, 2)
        summary[f"mean_accuracy@{k}"] = round(100.0 * sum(s["n_correct"] / k for s in sampled) / n, 2)
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
    problems: list[Problem], predictions: dict[str, list[str]], config: EvalConfig, path: Path
) -> dict[str, str]:
    """Ask an LLM for the final answer of each response the rules find none in; cached in ``path``."""
    from redstar_geo.generation import GenerationConfig, OpenAIBackend, Request

    issues = IssueLog()
    cache = {rec["id"]: rec["answer"] for _, rec in iter_jsonl(path, issues)} if path.exists() else {}
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
        append_jsonl(path, records)
        cache.update({r["id"]: r["answer"] for r in records})
    return {k: v for k, v in cache.items() if v}


def evaluate_benchmark(name: str, config: EvalConfig, backend=None, gen_config=None) -> dict:
    """Run the stages for one benchmark into its output directory; returns the summary."""
    bench = get_benchmark(name)
    protocol = config.protocol or bench.protocols[0]
    out = Path(config.out) / name if config.bench == "all" else Path(config.out)
    issues = IssueLog()
    data = config.data or bench.default_path
    problems = bench.load(data, config.image_root, issues, split=config.split)
    if config.limit:
        problems = problems[: config.limit]
    if not problems:
        first = "".join(f"\n  {issue}" for issue in issues[:3]) + ("\n  ..." if len(issues) > 3 else "")
        raise DataError(f"{data}: no {name} problems could be loaded" + (f"; issues:{first}" if issues else ""))
    generations = {}
    extra = {"data": str(data)}
    if backend is not None:
        from redstar_geo.generation import generate_responses

        generations = generate_responses(
            problems,
            lambda p: bench.prompt(p, protocol),
            backend,
            out / "responses.jsonl",
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
    llm_answers = (
        llm_extract(problems, predictions, config, out / "extractions.jsonl") if config.extractor == "llm" else None
    )
    samples = score_predictions(problems, predictions, protocol, generations, llm_answers)
    summary = summarize(name, protocol, problems, samples, **extra, issues=len(issues))
    write_jsonl(out / "samples.jsonl", samples)
    write_json(out / "summary.json", summary)
    write_text(out / "issues.txt", "".join(f"{issue}\n" for issue in issues))
    write_json(out / "config.json", {**asdict(config), **({"generation": asdict(gen_config)} if gen_config else {})})
    if config.report:
        from redstar_geo.reports import write_reports

        write_reports(out, problems, {rid: texts[0] for rid, texts in predictions.items()})
    return summary


def run_evaluation(config: EvalConfig, gen_config=None) -> list[dict] | dict:
    """Evaluate every benchmark of ``config``; a model run when ``gen_config.model`` is set, else score-only.

    Returns the summary (one bench) or the list of summaries (``--bench all``).
    """
    backend = None
    if gen_config is not None and gen_config.model:
        from redstar_geo.generation import get_backend

        backend = get_backend(gen_config)
    elif config.predictions is None:
        raise ValueError("give --model to run a model, or --predictions to score existing outputs")
    summaries = [evaluate_benchmark(name, config, backend, gen_config) for name in config.benches]
    if config.bench == "all":
        write_json(Path(config.out) / "summary.json", summaries)
    return summaries if config.bench == "all" else summaries[0]
