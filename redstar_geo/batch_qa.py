"""Batch image QA: ask a model many (image, question) rows and write every answer, resumably.

Usage::

    from redstar_geo.batch_qa import BatchQAConfig, run_batch_qa
    from redstar_geo.generation import GenerationConfig

    result = run_batch_qa(BatchQAConfig(input="rows.jsonl", out="runs/qa"), GenerationConfig(model="runs/sft-tiny"))
    result.counts, result.summary      # rows / answered / errors; the judge's summary when the rows have a gold

Inputs (one of):

- ``input=FILE.jsonl`` or ``FILE.csv``: rows of ``image`` (a path relative to the file or ``image_root``, or a
  ``data:`` URL; none for a text-only question), ``question``, optional ``choices`` (a list, a JSON list, ``|``- or
  newline-separated text, or columns ``A``..``H``), ``id`` (default: the row's line) and ``gold`` (a letter among
  the choices, or a value);
- ``input=DIR`` with ``questions=FILE``: a JSONL/CSV of such rows naming images in ``DIR``, or a ``.txt`` question
  asked of every image in ``DIR`` (``question="..."`` does the same inline); the ids are the image names;
- ``bench=NAME`` (``data=...``): any benchmark in the problem schema, asked with its protocol's prompt;
- ``input=FILE.jsonl`` in the OpenAI batch format (``custom_id``, ``method``, ``url``, ``body`` with chat
  ``messages``), as written for ``vllm run-batch`` or the OpenAI Batch API: the messages are asked as they are
  (system text, one image from a ``data:`` URL or a file path, the user text), with the body's ``max_tokens``,
  ``temperature``, ``top_p``, ``n`` and ``seed``; ``OUT/batch_output.jsonl`` is also written in the OpenAI batch
  output format (``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``).

Outputs in ``out``: ``results.jsonl`` (one line per input row, in input order; ``results.csv`` too with
``csv=True``), ``responses.jsonl`` (the generation records, appended as they finish: a rerun skips finished rows,
retries failed ones and asks again rows whose prompt or sampling changed), ``issues.txt``, ``config.json``, and with a
gold column ``samples.jsonl`` and ``summary.json`` as an evaluation writes them. A bad row (malformed line, empty
question, missing or unreadable image, a body that is not a chat completion) gets an error line naming it; the run
goes on.

A line of ``results.jsonl``: ``row`` (the input line, or the position in a folder or benchmark), ``id``, ``answer``
(the choice letter when the row has choices and the answer names one, else the value the judge extracted),
``answer_text`` (that choice's text), ``extracted`` (what :func:`redstar_geo.judge.extract_answer` read),
``reasoning`` (the full response), ``thinking`` (reasoning a server returned apart, ``reasoning_content``),
``finish_reason``, ``tokens``, ``latency_s`` (request to reply; in-process backends: the generate call that
produced it) and ``error``; with ``n`` > 1 also ``n``, ``votes`` (per answer), ``agreement`` (the winner's share of
the samples) and ``samples``; with a gold answer ``gold``, ``correct``, ``status`` and ``reason`` (the judge's).
"""

from __future__ import annotations

import base64
import binascii
import copy
import csv
import dataclasses
import hashlib
import io
import json
import logging
import queue
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redstar_geo.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from redstar_geo.benchmarks.common import format_prompt
from redstar_geo.evaluation import score_predictions, summarize_scores
from redstar_geo.generation import (
    GenerationConfig,
    RecordAppender,
    Request,
    finish_record,
    get_backend,
    read_done,
    start_record,
    stream_generations,
)
from redstar_geo.jsonl import (
    DataError,
    IssueLog,
    write_json,
    write_jsonl,
    write_text,
)
from redstar_geo.judge import PROTOCOLS, extract_answer, match_choices, normalize_text, parse_letters, to_number
from redstar_geo.run_dir import CONFIG, ISSUES, RESPONSES, write_run
from redstar_geo.schema import LETTERS, Problem, ProblemError, detect_language, infer_answer_type

logger = logging.getLogger(__name__)

RESULTS = "results.jsonl"
RESULTS_CSV = "results.csv"
BATCH_OUTPUT = "batch_output.jsonl"
INPUT_FORMATS = ("auto", "rows", "openai_batch")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
CSV_FIELDS = (
    "row",
    "id",
    "answer",
    "answer_text",
    "extracted",
    "agreement",
    "finish_reason",
    "tokens",
    "latency_s",
    "error",
    "gold",
    "correct",
    "reasoning",
)
# Column names a rows file may use for each field (the first present wins).
ALIASES = {
    "question": ("question", "problem", "prompt", "query"),
    "image": ("image", "image_path", "img", "file"),
    "gold": ("gold", "answer", "label"),
    "choices": ("choices", "options"),
}
# The sampling fields an OpenAI batch body may set, and the GenerationConfig field each one sets.
BODY_SAMPLING = {
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "n": "n",
    "seed": "seed",
}
_LETTER_PREFIX = re.compile(r"^\s*\(?([A-H])\)?\s*[.:：)]\s*(.*)$", re.S)


@dataclass
class BatchQAConfig:
    """Options of ``eval/batch_qa.py`` (the model and sampling options are in ``GenerationConfig``)."""

    input: str | None = field(
        default=None,
        metadata={
            "help": "a JSONL or CSV of (image, question[, choices][, id][, gold]) rows, an OpenAI batch JSONL "
            "(custom_id, body), or a folder of images (with --questions or --question)"
        },
    )
    questions: str | None = field(
        default=None,
        metadata={
            "help": "with a folder --input: a JSONL/CSV of rows naming its images, or a .txt question asked of "
            "every image"
        },
    )
    question: str | None = field(
        default=None, metadata={"help": "with a folder --input: one question asked of every image in it"}
    )
    bench: str | None = field(
        default=None, metadata={"help": f"ask a benchmark's problems instead: {', '.join(BENCHMARKS)}"}
    )
    data: str | None = field(default=None, metadata={"help": "--bench: its file, directory or HF dataset id"})
    split: str | None = field(default=None, metadata={"help": "--bench: dataset split, for Hugging Face datasets"})
    image_root: str | None = field(
        default=None, metadata={"help": "directory image paths are relative to (default: beside the input file)"}
    )
    input_format: str = field(
        default="auto",
        metadata={"help": "auto (an OpenAI batch file when its lines have custom_id and body), rows, openai_batch"},
    )
    protocol: str | None = field(
        default=None,
        metadata={"help": "choice or value: the prompt and the scoring (default: the benchmark's first, or choice)"},
    )
    system_prompt: str | None = field(default=None, metadata={"help": "a system prompt for rows and benchmarks"})
    out: str = field(default="runs/batch_qa", metadata={"help": "output directory"})
    csv: bool = field(default=False, metadata={"help": "also write OUT/results.csv"})
    limit: int | None = field(default=None, metadata={"help": "only the first N rows"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar (rate, errors, ETA)"})
    tiny_model_dir: str = field(
        default="runs/tiny-qwen2vl",
        metadata={
            "help": "without --model (transformers backend): the tiny random Qwen2-VL is built here if missing and "
            "answers (a pipeline check; its answers are noise)"
        },
    )

    def __post_init__(self):
        if (self.input is None) == (self.bench is None):
            raise ValueError("give --input FILE_OR_DIR (rows, an OpenAI batch file or a folder) or --bench NAME")
        if self.bench is not None and self.bench not in BENCHMARKS:
            raise ValueError(f"unknown --bench {self.bench!r}; known: {', '.join(BENCHMARKS)}")
        if self.data is not None and self.bench is None:
            raise ValueError("--data goes with --bench; give rows with --input")
        if self.questions is not None and self.question is not None:
            raise ValueError("give --questions FILE or --question TEXT, not both")
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"unknown --input_format {self.input_format!r}; use one of {INPUT_FORMATS}")
        if self.protocol is not None:
            allowed = BENCHMARKS[self.bench].protocols if self.bench else PROTOCOLS
            if self.protocol not in allowed:
                raise ValueError(f"--protocol {self.protocol!r} is not available here; use one of {allowed}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be >= 1")
        existing = next((p for p in (Path(self.out), *Path(self.out).parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise ValueError(f"--out {self.out}: {existing} is a file; --out names the output directory")

    @property
    def effective_protocol(self) -> str:
        return self.protocol or (BENCHMARKS[self.bench].protocols[0] if self.bench else "choice")


@dataclass
class BatchRow:
    """One input row: the problem it asks and its prompt, or the ``error`` that keeps it from being asked."""

    row: int  # 1-based: the line of a JSONL file, the record of a CSV, the position in a folder or benchmark
    id: str
    problem: Problem | None = None
    prompt: str | None = None
    system_prompt: str | None = None
    sampling: dict = field(default_factory=dict)  # GenerationConfig fields an OpenAI batch body sets for this row
    error: str | None = None
    given_id: bool = True  # False: the row gave no id (a malformed line), so ``id`` is its row number
    config: GenerationConfig | None = None  # the row's effective generation config, set by run_batch_qa

    @property
    def has_gold(self) -> bool:
        return self.problem is not None and self.problem.has_gold


@dataclass
class BatchResult:
    rows: list[BatchRow]
    results: list[dict]
    counts: dict
    summary: dict | None
    kind: str  # "rows", "bench" or "openai_batch"


# ---------------------------------------------------------------------------------------------------------------
# Reading the input
# ---------------------------------------------------------------------------------------------------------------
def _pick(record: dict, name: str):
    for key in ALIASES[name]:
        if key in record and record[key] not in (None, ""):
            return record[key]
    return None


def parse_choices(value) -> list[str]:
    """Choices as a list of strings: a list, a JSON list, ``|``- or newline-separated text; ``A. 40°`` prefixes in
    letter order are dropped."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"choices {text[:80]!r}: not a valid JSON list") from None
        else:
            value = [c for c in re.split(r"\||\n", text)]
    if not isinstance(value, list):
        raise ValueError(f"choices must be a list or text, got {type(value).__name__}")
    choices = [str(c).strip() for c in value]
    prefixed = [_LETTER_PREFIX.match(c) for c in choices]
    if all(prefixed) and "".join(m.group(1) for m in prefixed) == LETTERS[: len(choices)]:
        choices = [m.group(2).strip() for m in prefixed]
    return choices


def row_problem(record: dict, row_id: str, image_root: Path | None) -> Problem:
    """The :class:`Problem` a rows-file record asks (no gold needed); raises ValueError naming what is wrong."""
    question = _pick(record, "question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(
            "question must be text" if question is not None and not isinstance(question, str) else "empty question"
        )
    choices = parse_choices(_pick(record, "choices"))
    if not choices and all(record.get(letter) not in (None, "") for letter in "AB"):  # MMBench-style A, B, ... columns
        choices = [str(record[c]).strip() for c in LETTERS if record.get(c) not in (None, "")]
    image = _pick(record, "image")
    if image is not None and not isinstance(image, str):
        raise ValueError(f"image must be a path, got {type(image).__name__}")
    if image is not None:  # a path (relative to image_root) or a data: URL
        image = image_source(image, image_root or Path())
    gold = _pick(record, "gold")
    gold = None if gold is None else str(gold).strip()
    letter = None
    if gold and choices:
        letter = parse_letters(gold, LETTERS[: len(choices)]) if re.fullmatch(r"[A-H\s,()]+", gold) else None
    return Problem(
        id=row_id,
        source="batch",
        question=question.strip(),
        choices=choices,
        answer_letter=letter,
        answer=None if letter else gold or None,
        answer_type="choice" if letter else infer_answer_type(gold or ""),
        language=detect_language(question),
        image=image,
        require_gold=False,
    )


def _json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """``(line, record or the error text)`` for each non-blank line; a bad line is yielded as its error."""
    with path.open("rb") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield line, json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield line, f"not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start})"
            except json.JSONDecodeError as exc:
                yield line, f"invalid JSON: {exc.msg} at column {exc.colno}"


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` per CSV record (the line it ends on); a record with more fields than the header has
    them under the key None."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 at byte {exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for record in reader:
        yield reader.line_num, record


def is_openai_batch(path: Path) -> bool:
    """Whether the first readable line of a JSONL file is an OpenAI batch request (``custom_id`` and ``body``)."""
    for _, record in _json_lines(path):
        if isinstance(record, dict):
            return "custom_id" in record and "body" in record
    return False


def _unique(rows: list[BatchRow]) -> list[BatchRow]:
    first: dict[str, int] = {}
    for r in rows:
        if r.error is None and r.id in first:
            r.error = f"duplicate id (first at row {first[r.id]}); ids must be unique"
        elif r.error is None:
            first[r.id] = r.row
    return rows


def _not_an_object(number: int, record) -> BatchRow:
    what = record if isinstance(record, str) else f"expected an object, got {type(record).__name__}"
    return BatchRow(number, str(number), error=what, given_id=False)


def rows_from_file(path: Path, image_root: Path | None, records=None) -> list[BatchRow]:
    """Rows of a JSONL or CSV rows file (``records``: already read ``(row, record)`` pairs); a row that cannot be
    asked has its ``error`` set."""
    if records is None:
        records = _csv_records(path) if path.suffix.lower() == ".csv" else _json_lines(path)
    rows = []
    for number, record in records:
        if not isinstance(record, dict):
            rows.append(_not_an_object(number, record))
            continue
        raw_id = record.get("id")
        row = BatchRow(number, str(number) if raw_id in (None, "") else str(raw_id))
        try:
            if None in record:  # csv.DictReader's key for the fields beyond the header
                raise ValueError(f"{len(record[None])} more fields than the header has columns")
            row.problem = row_problem(record, row.id, image_root)
        except (ValueError, ProblemError) as exc:
            row.error = str(exc)
        rows.append(row)
    return _unique(rows)


def rows_from_folder(folder: Path, questions: str | None, question: str | None) -> tuple[list[BatchRow], Path]:
    """Rows of a folder of images (a rows file naming them, or one question asked of each) and the file they are
    numbered in."""
    if questions is not None and Path(questions).suffix.lower() in (".jsonl", ".json", ".csv"):
        if not Path(questions).is_file():
            raise DataError(f"{questions}: questions file not found")
        return rows_from_file(Path(questions), folder), Path(questions)
    if questions is not None:
        if not Path(questions).is_file():
            raise DataError(f"{questions}: questions file not found")
        question = Path(questions).read_text(encoding="utf-8").strip()
    if not question:
        raise DataError(
            f"{folder}: a folder of images needs --questions FILE (JSONL/CSV rows, or a .txt question for every "
            "image) or --question TEXT"
        )
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    records = [(i, {"id": p.name, "image": str(p), "question": question}) for i, p in enumerate(images, start=1)]
    return rows_from_file(folder, None, records), folder


def _message_text(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    raise ValueError(f"{where}: content must be text")


def image_source(url: str, base: Path) -> str | bytes:
    """What an ``image_url`` points at: the bytes of a ``data:`` URL, or a file path (``file://`` or plain, relative
    to ``base``). Remote URLs are refused: nothing is downloaded."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise ValueError("image data URL is not base64-encoded")
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise ValueError("image data URL: invalid base64") from None
    if url.startswith(("http://", "https://")):
        raise ValueError(f"image URL {url[:80]!r}: remote images are not fetched; use a data: URL or a file path")
    path = Path(url[len("file://") :] if url.startswith("file://") else url)
    return str(path if path.is_absolute() else base / path)


def openai_batch_row(record: dict, number: int, base: Path) -> BatchRow:
    """A row from one OpenAI batch request line; what this runner cannot ask becomes the row's error."""
    custom_id = record.get("custom_id")
    row_id = str(number) if custom_id in (None, "") else str(custom_id)
    row = BatchRow(number, row_id, given_id=custom_id not in (None, ""))
    try:
        if custom_id in (None, ""):
            raise ValueError("no custom_id")
        if record.get("method", "POST") != "POST":
            raise ValueError(f"method {record.get('method')!r}: only POST is supported")
        if not str(record.get("url", "/v1/chat/completions")).endswith("/chat/completions"):
            raise ValueError(f"url {record.get('url')!r}: only /v1/chat/completions is supported")
        body = record.get("body")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise ValueError("body.messages must be a non-empty list of messages")
        system = [_message_text(m.get("content"), "system message") for m in messages if m.get("role") == "system"]
        turns = [m for m in messages if m.get("role") != "system"]
        if len(turns) != 1 or turns[0].get("role") != "user":
            raise ValueError("one user message expected (multi-turn conversations are not supported)")
        content = turns[0].get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            raise ValueError("user content must be text or a list of parts")
        texts, images = [], []
        for part in parts:
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if not isinstance(url, str):
                    raise ValueError("image_url without a url")
                images.append(image_source(url, base))
            else:
                raise ValueError(f"content part of type {part.get('type')!r} is not supported")
        if len(images) > 1:
            raise ValueError(f"{len(images)} images; one image per request is supported")
        prompt = "\n".join(texts)
        if not prompt.strip():
            raise ValueError("empty question (no text in the user message)")
        sampling = {BODY_SAMPLING[k]: body[k] for k in BODY_SAMPLING if body.get(k) is not None}
        for key, value in sampling.items():
            number = int if key in ("max_new_tokens", "n", "seed") else (int, float)
            if isinstance(value, bool) or not isinstance(value, number):
                raise ValueError(f"body: {key} must be a number, got {value!r}")
        if body.get("model"):
            sampling["model"] = body["model"]
        row.problem = Problem(
            id=row_id,
            source="batch",
            question=prompt,
            language=detect_language(prompt),
            image=images[0] if images else None,
            require_gold=False,
        )
        row.prompt, row.system_prompt, row.sampling = prompt, "\n".join(system) or None, sampling
    except (ValueError, ProblemError) as exc:
        row.error = str(exc)
    return row


def load_rows(config: BatchQAConfig, issues: IssueLog) -> tuple[list[BatchRow], str]:
    """The rows to ask and the input kind (``bench``, ``rows`` or ``openai_batch``), each with its prompt."""
    protocol = config.effective_protocol
    if config.bench is not None:
        bench = get_benchmark(config.bench)
        problems = load_benchmark(
            config.bench, data=config.data, image_root=config.image_root, split=config.split, issues=issues
        )
        rows = [
            BatchRow(i, p.id, problem=p, prompt=bench.prompt(p, protocol), system_prompt=config.system_prompt)
            for i, p in enumerate(problems, start=1)
        ]
        return rows[: config.limit], "bench"
    path = Path(config.input)
    if not path.exists():
        raise DataError(f"{path}: input not found")
    image_root = Path(config.image_root) if config.image_root else None
    kind, where = "rows", path
    if path.is_dir():
        rows, where = rows_from_folder(path, config.questions, config.question)
    else:
        if config.questions is not None or config.question is not None:
            raise DataError("--questions/--question go with a folder of images as --input")
        openai = config.input_format == "openai_batch" or (
            config.input_format == "auto" and path.suffix.lower() != ".csv" and is_openai_batch(path)
        )
        base = image_root or path.parent
        if openai:
            kind = "openai_batch"
            rows = _unique(
                [
                    openai_batch_row(record, number, base)
                    if isinstance(record, dict)
                    else _not_an_object(number, record)
                    for number, record in _json_lines(path)
                ]
            )
        else:
            rows = rows_from_file(path, base)
    rows = rows[: config.limit]
    for r in rows:
        if r.problem is not None and r.prompt is None:
            r.prompt, r.system_prompt = format_prompt(r.problem, protocol), config.system_prompt
        if r.error:  # the error line names the file, the row and its id: "rows.jsonl:7: id 'q7': empty question"
            r.error = str(issues.add(where, r.row, r.id if r.given_id else None, r.error))
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows, kind


# ---------------------------------------------------------------------------------------------------------------
# Generating, resumably
# ---------------------------------------------------------------------------------------------------------------
def sampling_key(config: GenerationConfig) -> dict:
    """What a stored answer was generated with; a row whose key changed is asked again."""
    return {k: getattr(config, k) for k in ("model", "max_new_tokens", "temperature", "top_p", "n", "seed")}


def default_model(gen_config: GenerationConfig, tiny_model_dir: str) -> GenerationConfig:
    """``gen_config`` with a model: without one, the transformers backend gets the tiny random Qwen2-VL (built in
    ``tiny_model_dir`` on first use), so the pipeline runs anywhere."""
    if gen_config.model or gen_config.backend != "transformers":
        return gen_config
    path = Path(tiny_model_dir)
    if not (path / "config.json").is_file():
        from redstar_geo.tiny_model import build_tiny_model

        build_tiny_model(path)
    logger.warning("no --model given: answering with the tiny random model in %s (a pipeline check)", path)
    return dataclasses.replace(gen_config, model=str(path))


def generate_rows(
    rows: list[BatchRow], backend, path: Path, missing_image: str, chunk_size: int, issues: IssueLog, progress: bool
) -> dict[str, dict]:
    """Generate every askable row not yet finished in ``path``; returns ``{id: record}`` of the rows asked.

    The same resumable stage as :func:`redstar_geo.generation.generate_responses` (and built from its pieces:
    ``read_done``, ``stream_generations``, appended records), but rows carry their own system prompt and sampling
    (OpenAI batch bodies) and each record keeps its latency and what it was generated with, which that
    problem-shaped stage has no place for. A record is ``{"id", "prompt", "system_prompt", "sampling",
    "responses", "reasoning", "finish_reasons", "n_tokens", "latency_s", "error", "image_error", "text_only"}``.
    """
    done, failed_before = read_done(path, issues)
    askable = [r for r in rows if r.error is None]
    changed = [
        r.id
        for r in askable
        if r.id in done
        and (done[r.id].get("prompt"), done[r.id].get("system_prompt"), done[r.id].get("sampling"))
        != (r.prompt, r.system_prompt, sampling_key(r.config))
    ]
    for rid in changed:
        del done[rid]
    if changed:
        logger.warning(
            "%s: %d rows changed (prompt or sampling) since answered; asking them again", path, len(changed)
        )
    if failed_before:
        logger.warning("%s: trying again %d rows that failed before", path, failed_before)
    todo = [r for r in askable if r.id not in done]
    groups: dict[str, list[BatchRow]] = {}  # rows with the same sampling go through one backend configuration
    for r in todo:
        groups.setdefault(json.dumps(sampling_key(r.config), sort_keys=True), []).append(r)
    # Filled by requests(), which a streaming backend runs in its own thread: hence the queue.
    not_sent: queue.SimpleQueue = queue.SimpleQueue()
    waiting: dict[str, dict] = {}

    def requests(group: list[BatchRow]) -> Iterator[Request]:
        for r in group:
            record, image, ask = start_record(r.id, r.prompt, r.problem, missing_image)
            record.update(system_prompt=r.system_prompt, sampling=sampling_key(r.config), latency_s=None)
            if ask:
                record["latency_s"] = time.perf_counter()  # sent now; replaced by the latency when it returns
                waiting[r.id] = record
                yield Request(r.id, r.prompt, image, system_prompt=r.system_prompt)
            else:
                not_sent.put(record)

    def finish(request: Request, gen) -> dict:
        record = waiting.pop(request.id)
        record["latency_s"] = round(time.perf_counter() - record["latency_s"], 3)
        return finish_record(record, gen, path, issues)

    appender = RecordAppender(path, done, not_sent, len(todo) if progress else 0, "batch QA", unit="row")
    try:
        for group in groups.values():
            group_backend = copy.copy(backend)  # same model / client, this group's sampling
            group_backend.config = group[0].config
            for finished in stream_generations(group_backend, requests(group), chunk_size):
                appender.write([finish(request, gen) for request, gen in finished])
            appender.write([])  # rows after the group's last request that were not sent
    finally:
        appender.close()
    return {r.id: done[r.id] for r in askable if r.id in done}


# ---------------------------------------------------------------------------------------------------------------
# Answers and votes
# ---------------------------------------------------------------------------------------------------------------
def read_answer(text: str, problem: Problem) -> dict:
    """What one response answers: ``extracted`` (the judge's :func:`extract_answer`), ``answer`` (the choice
    letter(s) when the problem has choices and the answer names one, else the extracted text) and ``answer_text``
    (the named choice's text)."""
    extracted = extract_answer(text).answer
    letter = None
    if extracted is not None and problem.choices:
        letter = parse_letters(extracted, problem.letters) or match_choices(extracted, problem.choices) or None
    answer_text = problem.choice_text(letter) if letter and len(letter) == 1 else None
    return {"answer": letter or extracted, "answer_text": answer_text, "extracted": extracted}


def vote_key(answer: str | None) -> str | None:
    """Answers that vote together: letters as they are, numbers by value (``5``, ``5.0 cm``), other text
    normalised (spaces, LaTeX)."""
    if answer is None:
        return None
    number = to_number(answer)
    return f"={number:.9g}" if number is not None else normalize_text(answer)


def majority_vote(answers: list[dict]) -> tuple[int | None, dict[str, int], float]:
    """``(index of the winning sample, votes per answer, agreement)``: the most common answer among the samples
    that have one (a tie goes to the answer seen first); agreement is its share of all samples."""
    clusters: dict[str, list[int]] = {}
    for i, a in enumerate(answers):
        key = vote_key(a["answer"])
        if key is not None:
            clusters.setdefault(key, []).append(i)
    if not clusters:
        return None, {}, 0.0
    ranked = sorted(clusters.values(), key=lambda members: (-len(members), members[0]))
    votes = {answers[m[0]]["answer"]: len(m) for m in ranked}
    return ranked[0][0], votes, round(len(ranked[0]) / len(answers), 4)


def result_line(row: BatchRow, record: dict | None) -> dict:
    """One line of ``results.jsonl``: the row's (voted) answer, its full reasoning, finish reason, tokens, latency
    and any error; with ``n`` > 1 the votes, their agreement and every sample."""
    out = {"row": row.row, "id": row.id}
    if row.error is not None or record is None:  # the same keys as an answered row, for readers of the file
        empty = dict.fromkeys(("answer", "answer_text", "extracted", "reasoning", "thinking", "finish_reason"))
        return {**out, **empty, "tokens": None, "latency_s": None, "error": row.error or "not generated"}
    responses = record["responses"]
    answers = [read_answer(t, row.problem) for t in responses]
    best, votes, agreement = majority_vote(answers)
    pick = 0 if best is None else best  # no sample has an answer: the first one stands for the row
    tokens = record.get("n_tokens")
    thinking = record.get("reasoning")
    out.update(answers[pick] if responses else {"answer": None, "answer_text": None, "extracted": None})
    out.update(
        reasoning=responses[pick] if responses else None,
        thinking=thinking[pick] if thinking and responses else None,
        finish_reason=record["finish_reasons"][pick] if responses else None,
        tokens=tokens[pick] if tokens and responses else None,
        latency_s=record.get("latency_s"),
        error=record.get("error"),
    )
    if record.get("text_only"):
        out["text_only"] = True
    if len(responses) > 1:
        out.update(n=len(responses), agreement=agreement, votes=votes)
        out["samples"] = [
            {
                **a,
                "finish_reason": record["finish_reasons"][i],
                "tokens": tokens[i] if tokens else None,
                "reasoning": text,
            }
            for i, (a, text) in enumerate(zip(answers, responses, strict=True))
        ]
    return out


def score_rows(rows: list[BatchRow], records: dict[str, dict], results: list[dict], protocol: str) -> list:
    """Judge the voted response of each row that has a gold answer (as an evaluation judges its first response);
    adds ``gold``, ``correct``, ``status`` and ``reason`` to those result lines. Returns the scored samples."""
    by_row = {r.id: (r, res) for r, res in zip(rows, results, strict=True) if r.error is None}
    scored = [r for r in rows if r.error is None and r.has_gold]
    predictions, generations = {}, {}
    for r in scored:
        record = records.get(r.id)
        if record is None:
            continue
        # The voted response first: score_predictions judges the first response and counts all of them.
        best = majority_vote([read_answer(t, r.problem) for t in record["responses"]])[0] or 0
        order = [best] + [i for i in range(len(record["responses"])) if i != best]
        reordered = dict(record)
        for key in ("responses", "finish_reasons", "n_tokens"):
            if record.get(key):
                reordered[key] = [record[key][i] for i in order]
        generations[r.id] = reordered
        if reordered["responses"]:
            predictions[r.id] = reordered["responses"]
    samples = score_predictions([r.problem for r in scored], predictions, protocol, generations=generations)
    for sample in samples:
        result = by_row[sample.id][1]
        gold = by_row[sample.id][0].problem.gold_answer(protocol)
        result.update(gold=gold, correct=sample.correct, status=sample.status, reason=sample.reason)
    return samples


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def write_csv(path: Path, results: list[dict]) -> None:
    """``results.csv``: the flat fields of each result line (no samples), replaced atomically."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow({k: "" if result.get(k) is None else result[k] for k in CSV_FIELDS})
    write_text(path, buf.getvalue())


def openai_batch_output(row: BatchRow, record: dict | None, model: str | None) -> dict:
    """The OpenAI batch output line of a request (``vllm run-batch`` writes the same shape); ids are derived from
    the custom_id, so a rerun writes the same file."""
    digest = hashlib.sha256(row.id.encode()).hexdigest()[:24]
    line = {"id": f"batch_req_{digest}", "custom_id": row.id if row.given_id else None, "response": None}
    line["error"] = None
    if row.error is not None or record is None:
        line["error"] = {"code": "invalid_request", "message": row.error or "not generated"}
        return line
    if not record.get("responses"):
        line["error"] = {"code": "image_error" if record.get("image_error") else "request_failed"}
        line["error"]["message"] = record["error"]
        return line
    choices = []
    for i, text in enumerate(record["responses"]):
        message = {"role": "assistant", "content": text}
        if record.get("reasoning") and record["reasoning"][i] is not None:
            message["reasoning_content"] = record["reasoning"][i]
        choices.append({"index": i, "message": message, "finish_reason": record["finish_reasons"][i]})
    body = {"id": f"chatcmpl-{digest}", "object": "chat.completion", "model": model, "choices": choices}
    if record.get("n_tokens"):
        body["usage"] = {"completion_tokens": sum(record["n_tokens"])}
    line["response"] = {"status_code": 200, "request_id": f"req_{digest}", "body": body}
    return line


def run_batch_qa(config: BatchQAConfig, gen_config: GenerationConfig | None = None, backend=None) -> BatchResult:
    """Ask every row of ``config``'s input and write the outputs (see the module docstring).

    ``backend`` reuses an already built generation backend (tests, the demo); otherwise one is built from
    ``gen_config`` (default: the transformers backend with the tiny model). Raises :class:`DataError` for input
    that cannot be read at all and ``ValueError`` for unusable options; bad rows only get error lines.
    """
    gen_config = gen_config or GenerationConfig()
    out = Path(config.out)
    issues = IssueLog()
    rows, kind = load_rows(config, issues)
    body_models = {r.sampling.get("model") for r in rows if r.sampling.get("model")}
    if gen_config.backend == "openai" and not gen_config.model and len(body_models) == 1:
        gen_config = dataclasses.replace(gen_config, model=body_models.pop())  # the job names the served model
    if backend is None:
        gen_config = default_model(gen_config, config.tiny_model_dir)
        backend = get_backend(gen_config)
    for r in rows:  # the command's sampling options, and what an OpenAI batch body sets for its row
        if r.error is None:
            overrides = {k: v for k, v in r.sampling.items() if k != "model"}
            try:
                r.config = dataclasses.replace(gen_config, **overrides) if overrides else gen_config
            except (TypeError, ValueError) as exc:
                r.error = str(issues.add(config.input, r.row, r.id, f"body sampling options: {exc}"))
    records = generate_rows(
        rows, backend, out / RESPONSES, gen_config.missing_image, gen_config.save_every, issues, config.progress
    )
    source = config.input or get_benchmark(config.bench).data_path(config.data)
    for r in rows:
        record = records.get(r.id)
        if r.error is None and record is not None and record.get("image_error"):
            issues.add(source, None if config.bench else r.row, r.id, record["image_error"])
    results = [result_line(r, records.get(r.id)) for r in rows]
    protocol = config.effective_protocol
    summary = None
    options = {**dataclasses.asdict(config), "generation": dataclasses.asdict(gen_config)}
    if any(r.has_gold for r in rows):
        samples = score_rows(rows, records, results, protocol)
        name = config.bench or "batch"
        problems = [r.problem for r in rows if r.error is None and r.has_gold]
        extra = {"data": source, "model": gen_config.model, "backend": gen_config.backend}
        summary = summarize_scores(name, protocol, problems, samples, **extra, issues=len(issues))
        write_run(out, samples=samples, summary=summary, issues=issues, config=options)
    else:
        write_text(out / ISSUES, "".join(f"{issue}\n" for issue in issues))
        write_json(out / CONFIG, options)
    write_jsonl(out / RESULTS, results)
    if config.csv:
        write_csv(out / RESULTS_CSV, results)
    if kind == "openai_batch":
        write_jsonl(out / BATCH_OUTPUT, (openai_batch_output(r, records.get(r.id), gen_config.model) for r in rows))
    failed = [res["id"] for res in results if res.get("error") and not res.get("reasoning")]
    counts = {"rows": len(rows), "answered": len(rows) - len(failed), "errors": len(failed), "error_ids": failed}
    counts["no_answer"] = sum(1 for res in results if res.get("reasoning") is not None and res["answer"] is None)
    return BatchResult(rows=rows, results=results, counts=counts, summary=summary, kind=kind)
