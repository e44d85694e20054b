"""SFT data: reading, validating and converting supervised fine-tuning sets of (diagram, prompt, Long-CoT answer).

Usage::

    from redstar_geo.sft_data import load_sft_samples, validate_samples, to_trl_dataset

    issues = IssueLog()
    samples = load_sft_samples("data/sft/geoqa_traces.jsonl", issues)    # or a LLaMA-Factory JSON, or an HF dataset
    kept, report = validate_samples(samples, processor, max_length=4096)
    print(report.format())                                                # counts + an example id per reason
    train_dataset = to_trl_dataset(kept)                                  # columns: images, prompt, completion

Accepted record forms (one JSON object per line, or a JSON list, or the rows of a Hugging Face dataset):

* ours: ``{"id", "image": "img/1.png", "messages": [system?, user], "completion": "<reasoning + \\boxed{answer}>"}``
  (``completion`` may also be a list of assistant messages; ``images`` may replace ``image``);
* TRL's prompt-completion form (``to_trl_dataset``, the synthesis Hugging Face export): ``{"prompt": [messages],
  "completion": [assistant messages], "images": [...]}``;
* ShareGPT / LLaMA-Factory: ``{"messages" | "conversations": [... user/human, assistant/gpt ...], "images": [...]}``
  with ``role``/``content`` or ``from``/``value`` keys; the last assistant turn is the training target and earlier
  turns are prompt.

Image paths are relative to the data file. ``<image>`` in a prompt marks where an image goes; with no placeholder at
all, the images come before the first user text (Qwen2-VL / InternVL convention). Samples longer than ``max_length``
tokens (image tokens included) are dropped and counted, never truncated: a cut image or a cut answer trains the
model on a broken sample.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_geo.benchmarks.common import image_field, is_hub_id, load_hf_rows
from redstar_geo.images import ImageLoadError, load_image
from redstar_geo.import_utils import require
from redstar_geo.jsonl import DataError, IssueLog, iter_jsonl, read_json, write_jsonl
from redstar_geo.messages import problem_messages
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = "<image>"
ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "observation": "user",
}
# Reasons a sample is left out of training, in the order the report lists them.
DROP_REASONS = {
    "bad_record": "malformed record",
    "missing_image": "image missing or unreadable",
    "no_assistant": "no assistant turn to train on",
    "placeholder_mismatch": "<image> placeholders do not match the images",
    "too_long": "longer than max_length (dropped, not truncated)",
}


class SFTRecordError(ValueError):
    """A record that cannot become a training sample; ``reason`` is a key of :data:`DROP_REASONS`."""

    def __init__(self, reason: str, message: str, sample_id: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.sample_id = sample_id


@dataclass
class SFTSample:
    """One training sample: the images (paths or encoded bytes), the prompt messages and the assistant target.

    Message contents are lists of ``{"type": "image"}`` / ``{"type": "text", "text": ...}`` blocks, the structured
    form chat templates and TRL expect; image blocks are filled with ``images`` in order.
    """

    id: str
    images: list[str | bytes]
    prompt: list[dict[str, Any]]
    completion: list[dict[str, Any]]
    source: str = ""

    def load_images(self, max_pixels: int | None = None) -> list:
        return [load_image(img, owner=f"sample {self.id!r}", max_pixels=max_pixels) for img in self.images]


@dataclass
class SFTReport:
    """What validation kept and dropped: counts and up to five example ids (with the message) per reason."""

    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_tokens: int = 0

    def add(self, reason: str, sample_id: str, message: str) -> None:
        self.dropped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 5:
            shown.append(f"{sample_id}: {message}")

    def format(self) -> str:
        lines = [f"SFT data: {self.kept} of {self.total} samples kept (longest kept: {self.max_tokens} tokens)"]
        for reason, text in DROP_REASONS.items():
            if self.dropped[reason]:
                lines.append(f"  dropped {self.dropped[reason]}: {text}; e.g. {self.examples[reason][0]}")
        return "\n".join(lines)


def _text_blocks(text: str) -> list[dict[str, Any]]:
    """``"<image>Find x"`` -> ``[{"type": "image"}, {"type": "text", "text": "Find x"}]``."""
    blocks = []
    for i, part in enumerate(text.split(IMAGE_PLACEHOLDER)):
        if i:
            blocks.append({"type": "image"})
        if part.strip():
            blocks.append({"type": "text", "text": part})
    return blocks


def _turns(raw: Any, who: str, what: str = "messages") -> list[tuple[str, str]]:
    """``[(role, text), ...]`` from role/content or from/value messages; content may be structured blocks.

    ``who`` names the record in errors (``sample 'id'`` or ``line 7``); any other shape is an :class:`SFTRecordError`.
    """
    if not isinstance(raw, list) or not raw:
        raise SFTRecordError("bad_record", f"{who}: {what} must be a non-empty list, got {_shown(raw)}")
    turns = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise SFTRecordError("bad_record", f"{who}: {what}[{i}] is not an object but {_shown(message)}")
        role = message.get("role", message.get("from"))
        content = message.get("content", message.get("value"))
        if not isinstance(role, str) or role not in ROLE_ALIASES:
            raise SFTRecordError("bad_record", f"{who}: {what}[{i}] has unknown role {role!r}")
        if isinstance(content, list):  # structured blocks: images become placeholders so counting is uniform
            content = "".join(
                _block_text(block, f"{who}: {what}[{i}] content[{j}]") for j, block in enumerate(content)
            )
        if not isinstance(content, str):
            raise SFTRecordError("bad_record", f"{who}: {what}[{i}] has no text content ({_shown(content)})")
        turns.append((ROLE_ALIASES[role], content))
    return turns


def _block_text(block: Any, where: str) -> str:
    """One structured content block as text (an image block as the placeholder)."""
    if not isinstance(block, dict):
        # A bare string in a block list is ambiguous (text? an image path?): the record is malformed.
        raise SFTRecordError(
            "bad_record", f'{where} is {_shown(block)}, not a {{"type": "text" | "image", ...}} block'
        )
    if block.get("type") == "image":
        return IMAGE_PLACEHOLDER
    text = block.get("text")
    if text is not None and not isinstance(text, str):
        raise SFTRecordError("bad_record", f"{where} has non-text 'text': {_shown(text)}")
    return text or ""


def _shown(value: Any) -> str:
    """A short description of a wrong value for error messages."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _image_value(value: Any, who: str, k: int) -> str | bytes:
    """One entry of ``image``/``images`` as a path or encoded bytes; anything else is an :class:`SFTRecordError`."""
    try:
        converted = image_field(value)
    except DataError:  # a number, a bool...: reported below with the record's name
        converted = None
    if isinstance(converted, (str, bytes)):
        return converted
    raise SFTRecordError(
        "bad_record",
        f"{who}: image {k} must be a path, image bytes or a {{'bytes', 'path'}} dict, got {_shown(value)}",
    )


def parse_record(
    record: Any, image_root: str | Path | None = None, index: int = 0, where: str | None = None
) -> SFTSample:
    """One record (any accepted form) as an :class:`SFTSample`; raises :class:`SFTRecordError` for any other shape.

    A record without ``id`` gets ``str(index)``; errors name it by ``where`` (e.g. ``"line 7"``, default
    ``"record INDEX"``) instead.
    """
    where = where or f"record {index}"
    if not isinstance(record, dict):
        raise SFTRecordError("bad_record", f"{where}: not a JSON object but {_shown(record)}")
    has_id = record.get("id") is not None
    sid = str(record["id"]) if has_id else str(index)
    who = f"sample {sid!r}" if has_id else where
    # TRL's prompt-completion form (our Hugging Face export) names the prompt messages "prompt"
    messages = record.get("messages", record.get("conversations", record.get("prompt")))
    turns = _turns(messages, who)
    completion = record.get("completion")
    if completion is not None:
        target = completion if isinstance(completion, str) else _joined_assistant_text(completion, who)
    else:
        if turns[-1][0] != "assistant":
            raise SFTRecordError("no_assistant", f"{who}: no assistant turn (last turn is {turns[-1][0]!r})")
        target = turns.pop()[1]
    if not target.strip():
        raise SFTRecordError("no_assistant", f"{who}: the assistant turn is empty")
    if not any(role == "user" for role, _ in turns):
        raise SFTRecordError("bad_record", f"{who}: no user turn")

    raw_images = record.get("images", record.get("image"))
    if raw_images is None:
        raw_images = []
    elif not isinstance(raw_images, (list, tuple)):
        raw_images = [raw_images]
    images = []
    for k, value in enumerate(raw_images):
        value = _image_value(value, who, k)
        if isinstance(value, str) and image_root is not None and not Path(value).is_absolute():
            value = str(Path(image_root) / value)
        images.append(value)

    n_placeholders = sum(text.count(IMAGE_PLACEHOLDER) for _, text in turns)
    if IMAGE_PLACEHOLDER in target:
        raise SFTRecordError("placeholder_mismatch", f"{who}: <image> in the assistant turn")
    if n_placeholders and n_placeholders != len(images):
        raise SFTRecordError(
            "placeholder_mismatch", f"{who}: {n_placeholders} <image> placeholders but {len(images)} images"
        )
    prompt = [{"role": role, "content": _text_blocks(text)} for role, text in turns]
    if images and not n_placeholders:  # no placeholder: the images open the first user turn
        first_user = next(m for m in prompt if m["role"] == "user")
        first_user["content"] = [{"type": "image"} for _ in images] + first_user["content"]
    assistant = [{"role": "assistant", "content": [{"type": "text", "text": target}]}]
    return SFTSample(id=sid, images=images, prompt=prompt, completion=assistant)


def _joined_assistant_text(completion: Any, who: str) -> str:
    if not isinstance(completion, list):
        raise SFTRecordError(
            "bad_record",
            f"{who}: completion must be a string or a list of assistant messages, got {_shown(completion)}",
        )
    turns = _turns(completion, who, what="completion")
    if any(role != "assistant" for role, _ in turns):
        raise SFTRecordError("bad_record", f"{who}: completion messages must all be assistant turns")
    return "".join(text for _, text in turns)


def load_sft_samples(path: str, issues: IssueLog, split: str = "train") -> list[SFTSample]:
    """Samples of a JSONL/JSON file or a Hugging Face dataset (hub id or ``save_to_disk`` directory).

    Records that cannot be parsed go to ``issues`` with their reason; they are counted again by
    :func:`validate_samples` only if passed there, so use :func:`load_and_validate` to get one report.
    """
    samples, _ = _load(path, issues, split)
    return samples


def iter_records(
    path: str, issues: IssueLog, split: str = "train", what: str = "SFT"
) -> tuple[Iterable[tuple[int | None, Any]], Path | None]:
    """``(rows, image_root)``: the ``(line number or None, record)`` of a JSONL/JSON file or a Hugging Face dataset
    (hub id or ``save_to_disk`` directory), and the directory relative image paths start from (``None`` for a
    dataset). Unreadable JSONL lines go to ``issues``; ``what`` names the data in errors (``"SFT"``, ``"DPO"``)."""
    p = Path(path)
    if p.suffix == ".jsonl":
        rows = ((line, rec) for line, rec in iter_jsonl(p, issues))
    elif p.suffix == ".json":
        data = read_json(p)
        if not isinstance(data, list):
            raise DataError(f"{p}: a JSON {what} file must be a list of records (LLaMA-Factory format)")
        rows = ((None, rec) for rec in data)
    elif p.exists() or is_hub_id(path):
        rows = ((None, rec) for rec in load_hf_rows(path, split))
    else:
        raise DataError(f"{path}: {what} data not found (a .jsonl/.json file, a saved dataset, or a hub dataset id)")
    return rows, (p.parent if p.is_file() else None)


def _load(path: str, issues: IssueLog, split: str) -> tuple[list[SFTSample], list[SFTRecordError]]:
    rows, image_root = iter_records(path, issues, split)
    samples, errors = [], []
    seen = set()
    for index, (line, rec) in enumerate(rows):
        where = f"line {line}" if line is not None else f"record {index}"
        try:
            sample = parse_record(rec, image_root, index, where)
        except SFTRecordError as exc:
            rec_id = rec.get("id") if isinstance(rec, dict) else None
            exc.sample_id = where if rec_id is None else str(rec_id)
            issues.add(path, line, rec_id, str(exc))
            errors.append(exc)
            continue
        if sample.id in seen:
            issues.add(path, line, sample.id, "duplicate sample id; kept the first")
            continue
        seen.add(sample.id)
        sample.source = str(path)
        samples.append(sample)
    return samples, errors


def sample_length(sample: SFTSample, processor, images: list) -> int:
    """Tokens of the full training sequence (prompt + completion, image tokens expanded) under ``processor``."""
    text = processor.apply_chat_template(sample.prompt + sample.completion, tokenize=False)
    encoded = processor(text=[text], images=images or None, add_special_tokens=False)
    return len(encoded["input_ids"][0])


def validate_samples(
    samples: Iterable[SFTSample], processor=None, max_length: int | None = None, report: SFTReport | None = None
) -> tuple[list[SFTSample], SFTReport]:
    """Keep the samples that can train as they are; count and name the others.

    Every image is opened (missing or corrupt -> ``missing_image``). With a ``processor`` and ``max_length``, each
    sample's token count is measured exactly as training will see it and longer ones are dropped (``too_long``).
    """
    report = report or SFTReport()
    kept = []
    for sample in samples:
        report.total += 1
        try:
            images = sample.load_images()
        except ImageLoadError as exc:
            report.add("missing_image", sample.id, str(exc))
            continue
        if processor is not None and max_length is not None:
            n = sample_length(sample, processor, images)
            if n > max_length:
                report.add("too_long", sample.id, f"{n} tokens > max_length {max_length}")
                continue
            report.max_tokens = max(report.max_tokens, n)
        kept.append(sample)
    report.kept = len(kept)
    return kept, report


def load_and_validate(
    path: str, processor=None, max_length: int | None = None, split: str = "train", issues: IssueLog | None = None
) -> tuple[list[SFTSample], SFTReport]:
    """:func:`load_sft_samples` + :func:`validate_samples`, with unparsable records counted in the same report."""
    issues = IssueLog() if issues is None else issues
    samples, errors = _load(path, issues, split)
    report = SFTReport()
    for exc in errors:
        report.total += 1
        report.add(exc.reason, exc.sample_id or "?", str(exc))
    kept, report = validate_samples(samples, processor, max_length, report)
    return kept, report


def to_trl_dataset(samples: list[SFTSample]):
    """A ``datasets.Dataset`` in TRL's vision prompt-completion form: ``images`` (decoded lazily), ``prompt``,
    ``completion``, plus ``id``. ``SFTTrainer`` renders it with the processor's chat template."""
    datasets = require("datasets", extra="train", feature="building the training dataset")
    rows = {
        "id": [s.id for s in samples],
        "images": [
            [
                {"bytes": img, "path": None} if isinstance(img, bytes) else {"bytes": None, "path": img}
                for img in s.images
            ]
            for s in samples
        ],
        "prompt": [s.prompt for s in samples],
        "completion": [s.completion for s in samples],
    }
    dataset = datasets.Dataset.from_dict(rows)
    return dataset.cast_column("images", datasets.List(datasets.Image()))


def format_solution(problem: Problem, steps: Any, protocol: str = "choice") -> str:
    """A completion from solution steps ending in the boxed gold answer.

    ``steps`` is one string or a list of strings or of ``{"statement", "expr", "value"}`` dicts (GeoSynth's
    ``metadata["steps"]``), each rendered as ``statement: expr = value``.
    """
    if not isinstance(steps, (list, tuple)):
        steps = [steps]
    lines = []
    for s in steps:
        if isinstance(s, dict) and "statement" in s:
            arithmetic = f": {s['expr']} = {s['value']}" if s.get("expr") and "value" in s else ""
            lines.append(f"{s['statement']}{arithmetic}")
        else:
            lines.append(str(s).strip())
    body = "\n".join(lines)
    return f"{body}\nSo the answer is \\boxed{{{problem.gold_answer(protocol)}}}."


def problems_to_samples(
    problems: Iterable[Problem],
    completion: str | Callable[[Problem], str | None] = "steps",
    protocol: str = "choice",
    system_prompt: str | None = None,
) -> list[SFTSample]:
    """SFT samples from problems, prompted exactly like evaluation (:func:`redstar_geo.messages.problem_messages`).

    ``completion`` is a callable ``problem -> text`` (``None`` skips the problem), or the name of a ``metadata``
    field holding solution steps, formatted by :func:`format_solution` (e.g. GeoSynth's ``metadata["steps"]``).
    """
    if isinstance(completion, str):
        key = completion

        def completion(problem):
            steps = problem.metadata.get(key)
            return None if steps is None else format_solution(problem, steps, protocol)

    samples = []
    for problem in problems:
        target = completion(problem)
        if target is None:
            logger.warning("problem %r has no completion; skipped", problem.id)
            continue
        samples.append(
            SFTSample(
                id=problem.id,
                images=[problem.image] if problem.image is not None else [],
                prompt=problem_messages(problem, protocol, system_prompt, image_format="placeholder"),
                completion=[{"role": "assistant", "content": [{"type": "text", "text": target}]}],
                source=problem.source,
            )
        )
    return samples


def placeholder_text(content: list[dict[str, Any]]) -> str:
    """Structured content blocks as one string with ``<image>`` where each image goes (our JSONL and ShareGPT)."""
    return "".join(IMAGE_PLACEHOLDER if block["type"] == "image" else block.get("text") or "" for block in content)


def write_sft_jsonl(samples: list[SFTSample], out_dir: str | Path, name: str = "train.jsonl") -> Path:
    """Write ``OUT/train.jsonl`` in our format; image bytes are saved as ``OUT/images/<id>.png``."""
    out = Path(out_dir)
    records = []
    for sample in samples:
        paths = []
        for k, img in enumerate(sample.images):
            if isinstance(img, bytes):
                rel = Path("images") / (f"{sample.id}.png" if k == 0 else f"{sample.id}_{k}.png")
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(img)
                paths.append(str(rel))
            else:
                paths.append(str(Path(img).resolve()))
        messages = [{"role": m["role"], "content": placeholder_text(m["content"])} for m in sample.prompt]
        completion = "".join(b["text"] for b in sample.completion[0]["content"])
        record = {"id": sample.id, "messages": messages, "completion": completion}
        record.update({"image": paths[0]} if len(paths) == 1 else {"images": paths})
        records.append(record)
    write_jsonl(out / name, records)
    return out / name
