"""What every benchmark unit declares, and the helpers they share.

A benchmark is one module under ``redstar_geo/benchmarks/`` that defines ``BENCHMARK = Benchmark(...)``: its loader
(every supported file layout and dataset form), the bundled default data, its scoring protocols, its prompt, and the
fields its results are broken down by. ``redstar_geo.benchmarks.BENCHMARKS`` maps names to them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redstar_geo.import_utils import require
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem, ProblemError

# The prompt suffixes. One place, so the prompt a model is trained with and evaluated with cannot drift apart.
CHOICE_INSTRUCTION = (
    "First think step by step, then give the letter of the correct choice as your final answer in \\boxed{}, "
    "for example \\boxed{A}."
)
VALUE_INSTRUCTION = "First think step by step, then give the final answer in \\boxed{}."
ZH_CHOICE_INSTRUCTION = "请先逐步推理，最后把正确选项的字母写在 \\boxed{} 中，例如 \\boxed{A}。"
ZH_VALUE_INSTRUCTION = "请先逐步推理，最后把答案写在 \\boxed{} 中。"


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's declaration.

    ``load(path, image_root, issues)`` returns the problems of a local file/directory or a Hugging Face dataset id;
    bad records go to ``issues`` (an :class:`IssueLog`) and never stop the load. ``default_data`` is relative to the
    data directory (see :func:`data_dir`), or a ``name:...`` spec the loader generates data from (``geosynth:eval``).
    """

    name: str
    description: str
    load: Callable[..., list[Problem]]
    default_data: str
    protocols: tuple[str, ...] = ("choice",)
    prompt: Callable[[Problem, str], str] | None = None
    breakdowns: tuple[str, ...] = ("language",)
    expected_count: int | None = None

    @property
    def default_path(self) -> str:
        """Where the bundled data is: a path under :func:`data_dir`, or the generator spec as it is."""
        if ":" in self.default_data:
            return self.default_data
        return str(data_dir() / self.default_data)

    def data_path(self, data: str | None = None) -> str:
        """What a load reads: ``data`` when given, else the bundled copy (:attr:`default_path`)."""
        return data or self.default_path

    def load_default(self, issues: IssueLog | None = None) -> list[Problem]:
        return self.load(self.default_path, None, IssueLog() if issues is None else issues)


def data_dir() -> Path:
    """Where bundled benchmark files live: ``$REDSTAR_GEO_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("REDSTAR_GEO_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def format_prompt(problem: Problem, protocol: str = "choice") -> str:
    """The question, its choices as ``A. 40°`` lines when shown, and the answer-format instruction.

    Under the ``value`` protocol the choices are not shown (R1-V's free-form GeoQA).
    """
    zh = problem.language == "zh"
    show_choices = bool(problem.choices) and protocol == "choice"
    parts = [problem.question.strip()]
    if show_choices:
        lines = [f"{letter}. {choice}" for letter, choice in zip(problem.letters, problem.choices, strict=True)]
        parts.append(("选项：" if zh else "Choices:") + "\n" + "\n".join(lines))
        parts.append(ZH_CHOICE_INSTRUCTION if zh else CHOICE_INSTRUCTION)
    else:
        parts.append(ZH_VALUE_INSTRUCTION if zh else VALUE_INSTRUCTION)
    return "\n\n".join(parts)


def add_problem(problems: list[Problem], issues: IssueLog, where: str, line: int | None, **fields):
    """Build a Problem from ``fields`` and append it; a record that does not fit the schema becomes an issue instead,
    named by ``where`` (file), ``line`` and the record's id."""
    try:
        problems.append(Problem(**fields))
    except ProblemError as exc:
        issues.add(where, line, fields.get("id"), str(exc))


def check_unique(problems: list[Problem], issues: IssueLog, where: str) -> list[Problem]:
    """Keep the first of each id; every later duplicate is reported."""
    seen, kept = set(), []
    for p in problems:
        if p.id in seen:
            issues.add(where, None, p.id, "duplicate problem id; kept the first")
            continue
        seen.add(p.id)
        kept.append(p)
    return kept


# A ``layouts`` entry of :func:`find_data` that matches a ``datasets`` ``save_to_disk`` directory.
SAVED_DATASET = ("(save_to_disk)", "a Hugging Face save_to_disk directory (dataset_info.json or dataset_dict.json)")


def find_data(path: str, bench: str, layouts: Sequence[tuple[str, str]], split: str | None = None) -> str:
    """Where a benchmark's data is when ``path`` is a directory; any other path is returned as it is.

    Each benchmark unit passes its standard layouts, in order of preference, as ``(pattern, description)`` pairs;
    the first that matches in the directory decides what is returned:

    - a file name (``test.jsonl``) or folder (``json/``): that file or folder;
    - a glob of shards (``data/{split}-*.parquet``): the glob itself, which ``datasets`` reads as one set of files;
    - a glob that starts with a wildcard (``*.json``, ``*/data.json``): it describes the directory's own entries,
      so the directory itself is returned;
    - :data:`SAVED_DATASET`: the directory itself, when ``datasets`` wrote it with ``save_to_disk``.

    ``{split}`` in a pattern is replaced by ``split``. A directory that matches none is a :class:`DataError` that
    lists every layout looked for, so a wrong ``--data`` says what would have worked.
    """
    directory = Path(path)
    if not directory.is_dir():
        return path
    tried = []
    for pattern, description in layouts:
        if pattern == SAVED_DATASET[0]:
            tried.append(description)
            if is_saved_dataset(directory):
                return path
            continue
        pattern = pattern.format(split=split)
        tried.append(f"{pattern} ({description})")
        target, wildcard = directory / pattern, any(c in pattern for c in "*?[")
        if wildcard and next(directory.glob(pattern), None) is not None:
            return path if pattern[0] in "*?[" else str(target)
        if not wildcard and (target.is_dir() if pattern.endswith("/") else target.is_file()):
            return str(target)
    raise DataError(
        f"{path}: no {bench} data in this directory; looked for " + "; ".join(tried) + ". Point the data path at "
        "one of these, or at a file in a form the loader reads"
    )


def is_saved_dataset(path: str | Path) -> bool:
    """A directory written by ``datasets``' ``save_to_disk``."""
    p = Path(path)
    return p.is_dir() and any((p / name).exists() for name in ("dataset_info.json", "dataset_dict.json"))


def is_hf_dataset(path: str) -> bool:
    """A hub id, a ``save_to_disk`` directory, or a parquet/arrow file: what :func:`load_hf_rows` reads."""
    return is_hub_id(path) or is_saved_dataset(path) or Path(path).suffix in (".parquet", ".arrow")


def is_hub_id(path: str) -> bool:
    """``owner/name`` that is not an existing local path nor a data file name: a Hugging Face dataset id."""
    return (
        not Path(path).exists()
        and path.count("/") == 1
        and not path.startswith((".", "/"))
        and Path(path).suffix not in (".json", ".jsonl", ".parquet", ".arrow")  # a mistyped local file
    )


def load_hf_rows(path: str, split: str | None):
    """Rows of a Hugging Face dataset: a hub id, a ``save_to_disk`` directory, or a parquet/arrow file or glob of
    shards (``data/testmini-*.parquet``). Whatever ``datasets`` fails on is a :class:`DataError` naming ``path``."""
    datasets = require("datasets", extra="train", feature="loading Hugging Face datasets")
    p = Path(path)
    local = p.exists() or p.suffix in (".parquet", ".arrow")  # a glob of shards does not exist as one path
    try:
        if is_saved_dataset(p):
            ds = datasets.load_from_disk(str(p))
        elif p.suffix in (".parquet", ".arrow"):
            ds = datasets.load_dataset(p.suffix.lstrip("."), data_files=str(p))
        else:
            ds = datasets.load_dataset(path)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; each becomes one clear message
        # DatasetGenerationError says only "An error occurred while generating the dataset": its cause says what.
        causes = [exc] + ([exc.__cause__] if exc.__cause__ is not None else [])
        detail = "; caused by ".join(f"{type(e).__name__}: {e}" for e in causes)
        raise DataError(f"{path}: could not be read as a Hugging Face dataset: {detail}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None or (split not in ds and len(ds) == 1 and local):  # local files have one split
            split = "test" if "test" in ds else next(iter(ds))
        if split not in ds:
            raise DataError(f"{path}: no split {split!r}; it has {list(ds)}")
        ds = ds[split]
    return ds


def image_field(value: Any) -> str | bytes | None:
    """A dataset row's image (PIL image, ``{"bytes", "path"}`` dict, bytes, path, or a one-element list) as a path
    or encoded bytes for :class:`Problem`."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return value.get("bytes") or value.get("path")
    if hasattr(value, "save"):  # a PIL image decoded by `datasets`
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    raise DataError(f"unsupported image value of type {type(value).__name__}")
