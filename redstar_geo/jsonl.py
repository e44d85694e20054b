"""JSON / JSONL reading and writing that names the file and line of every bad record.

Readers never stop at the first bad line: they record an :class:`Issue` (file, line, id, message) in an
:class:`IssueLog` and go on, so a run reports every problem at once and loses nothing already done. Writers either
append and flush (resumable stages) or replace a file atomically (summaries, reports).

JSON can carry text that UTF-8 cannot: a lone surrogate (``"\\ud800"`` without its pair). Code that takes in outside
text (predictions, model outputs) passes it through :func:`replace_surrogates` and records an issue; the writers
here replace any that slip through as well, so no output file is ever left half-written by one bad character.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (the replacement character), so it can be written as
    UTF-8; surrogate pairs become the character they encode. Returns ``text`` itself when it has none (the usual,
    cheap case); ``result is not text`` tells a caller that something was replaced."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class DataError(ValueError):
    """Input that cannot be used at all (missing file, wrong top-level structure). Names the file."""


@dataclass(frozen=True)
class Issue:
    """One problem with one record: where it is and what is wrong."""

    file: str
    line: int | None
    id: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: " + (f"id {self.id!r}: " if self.id is not None else "") + self.message


class IssueLog(list):
    """A list of :class:`Issue` that also logs each one as a warning when it is added."""

    def add(self, file: str | Path, line: int | None, id: Any, message: str) -> Issue:
        issue = Issue(str(file), line, None if id is None else str(id), message)
        self.append(issue)
        logger.warning("%s", issue)
        return issue


def iter_jsonl(path: str | Path, issues: IssueLog) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed value)`` for each non-blank line; bad lines go to ``issues`` and are skipped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                issues.add(path, lineno, None, f"not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start})")
                continue
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as exc:
                issues.add(path, lineno, None, f"invalid JSON: {exc.msg} at column {exc.colno}")


def read_json(path: str | Path) -> Any:
    """Parse a whole JSON file; a missing file, bad encoding or bad JSON is a :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} at column {exc.colno}") from None


def _encodable(text: str, path: Path) -> str:
    fixed = replace_surrogates(text)
    if fixed is not text:  # the text's entry point should have replaced and reported them
        logger.warning("%s: lone surrogates (invalid Unicode) written as U+FFFD", path)
    return fixed


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` as UTF-8 (lone surrogates become U+FFFD)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_encodable(text, path), encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Replace ``path`` atomically with one JSON object per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(_encodable(json.dumps(record, ensure_ascii=False), path) + "\n")
    os.replace(tmp, path)


def write_json(path: str | Path, value: Any) -> None:
    """Replace ``path`` atomically with pretty-printed JSON."""
    write_text(path, json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def append_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Append records and flush, so a killed run keeps every line written before it died."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Encode every line before writing any, so a record that cannot be written never leaves half a chunk behind.
    lines = "".join(_encodable(json.dumps(record, ensure_ascii=False), path) + "\n" for record in records)
    with path.open("a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())
