"""MathVista-GEO: the 208 ``geometry problem solving`` problems of MathVista testmini.

Reads MathVista's ``testmini.json`` (a dict keyed by ``pid``, or a list) and the ``AI4Math/MathVista`` dataset
(columns ``pid``, ``question``, ``image``, ``decoded_image``, ``choices``, ``unit``, ``precision``, ``answer``,
``question_type``, ``answer_type``, ``metadata``). Multiple-choice golds are the choice *text* in MathVista; the
loader adds the letter. 62 problems are in Chinese; five are free-form integers.

A directory is searched for :data:`DATA_LAYOUTS` in order: ``testmini.json`` (images relative to it), a hub snapshot
of ``AI4Math/MathVista`` (``data/testmini-*.parquet``; ``--split`` picks other shards), or a ``save_to_disk``
directory.
"""

from __future__ import annotations

from pathlib import Path

from redstar_geo.benchmarks.common import (
    SAVED_DATASET,
    Benchmark,
    add_problem,
    check_unique,
    find_data,
    format_prompt,
    image_field,
    is_hf_dataset,
    load_hf_rows,
)
from redstar_geo.jsonl import DataError, IssueLog, read_json
from redstar_geo.schema import LETTERS, resolve_image_path

GEO_TASK = "geometry problem solving"
_LANG = {"english": "en", "chinese": "zh"}
# What a data directory is searched for, in order (see common.find_data).
DATA_LAYOUTS = (
    ("testmini.json", "MathVista's annotations, dict keyed by pid, images relative to it"),
    ("data/{split}-*.parquet", "a snapshot of the AI4Math/MathVista dataset repository"),
    SAVED_DATASET,
)


def mathvista_record(rec: dict, where: str, image_root, problems, issues: IssueLog, task: str | None = GEO_TASK):
    """Append one MathVista record as a Problem (skipping other tasks when ``task`` is set)."""
    pid = rec.get("pid")
    meta = rec.get("metadata") or {}
    if task is not None and meta.get("task") != task:
        return
    choices = rec.get("choices") or []
    answer = rec.get("answer")
    if not isinstance(answer, str):
        answer = None if answer is None else str(answer)
    letter = None
    if rec.get("question_type") == "multi_choice":
        if answer not in choices:
            issues.add(where, None, pid, f"gold {answer!r} is not one of the choices {choices}")
            return
        letter = LETTERS[choices.index(answer)]
    image = rec.get("decoded_image") or rec.get("image")
    image = image_field(image)
    if isinstance(image, str):
        image = resolve_image_path(image, image_root)
    answer_type = "choice" if letter else rec.get("answer_type", "text")
    if answer_type == "list":
        answer_type = "text"
    add_problem(
        problems,
        issues,
        where,
        None,
        id=str(pid),
        source="mathvista",
        split=meta.get("split", "testmini"),
        question=rec.get("question"),
        choices=list(choices),
        answer=answer,
        answer_letter=letter,
        answer_type=answer_type,
        precision=int(rec["precision"]) if rec.get("precision") is not None else None,
        unit=rec.get("unit") or None,
        language=_LANG.get(meta.get("language"), "en"),
        image=image,
        # MathVista's "source" (GeoQA+, Geometry3K, UniGeo, GEOS) is kept as "origin": Problem.source is the benchmark.
        metadata={
            "origin": meta.get("source"),
            **{k: meta[k] for k in ("category", "context", "grade", "skills") if k in meta},
        },
    )


def load_mathvista_geo(
    path: str, image_root: str | None = None, issues: IssueLog | None = None, split: str | None = None
):
    """MathVista's geometry problems from ``testmini.json`` or the Hugging Face dataset."""
    issues = IssueLog() if issues is None else issues
    problems = []
    path = find_data(path, "mathvista_geo", DATA_LAYOUTS, split=split or "testmini")
    p = Path(path)
    if is_hf_dataset(path):
        for row in load_hf_rows(path, split or "testmini"):
            mathvista_record(dict(row), path, image_root, problems, issues)
    else:
        data = read_json(p)
        records = data.values() if isinstance(data, dict) else data
        if not isinstance(records, (list, type({}.values()))):
            raise DataError(f"{path}: expected a dict keyed by pid or a list of records")
        for rec in records:
            if not isinstance(rec, dict):
                issues.add(path, None, None, f"expected a record object, got {type(rec).__name__}")
                continue
            mathvista_record(rec, path, image_root or p.parent, problems, issues)
    return check_unique(problems, issues, path)


BENCHMARK = Benchmark(
    name="mathvista_geo",
    description="MathVista testmini, geometry problem solving (208; A-E choices, 62 in Chinese)",
    load=load_mathvista_geo,
    default_data="mathvista/testmini.json",
    protocols=("choice",),
    prompt=format_prompt,
    breakdowns=("language", "origin"),
    expected_count=208,
)
