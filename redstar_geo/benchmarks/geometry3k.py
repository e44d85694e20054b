"""Geometry3K test (601 problems).

Layouts read by :func:`load_geometry3k`:

- the messages/solution JSONL (``images`` = ``[".../test/<id>/img_diagram.png"]``, ``messages`` with the user turn,
  ``solution`` = the value, sometimes LaTeX such as ``4 \\sqrt { 2 }``); free-form, no choices;
- the ``hiyouga/geometry3k`` dataset columns (``images``, ``problem``, ``answer``; with ``choices`` and a
  ``ground_truth`` letter where a variant has them);
- the original InterGPS layout: a directory of ``<id>/data.json`` (``problem_text``, ``choices``, ``answer`` letter,
  ``problem_type_graph``, ``problem_type_goal``) with ``<id>/img_diagram.png``.

A directory is searched for :data:`DATA_LAYOUTS` in order (``{split}`` is ``--split``, default ``test``): the
messages JSONL ``test.jsonl``, an InterGPS ``test/`` folder, the InterGPS split folder itself, a hub snapshot of
``hiyouga/geometry3k`` (``data/test-*.parquet``), or a ``save_to_disk`` directory.
"""

from __future__ import annotations

import re
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
from redstar_geo.jsonl import DataError, IssueLog, iter_jsonl, read_json
from redstar_geo.schema import LETTERS, infer_answer_type, is_choice_letter, resolve_image_path

# What a data directory is searched for, in order (see common.find_data).
DATA_LAYOUTS = (
    ("{split}.jsonl", "messages/solution JSONL, images relative to it"),
    ("{split}/", "InterGPS split folder of <id>/data.json + img_diagram.png"),
    ("*/data.json", "an InterGPS split folder itself"),
    ("data/{split}-*.parquet", "a snapshot of the hiyouga/geometry3k dataset repository"),
    SAVED_DATASET,
)
# The messages form appends an output-format instruction to each question; the benchmark adds its own prompt.
_INSTRUCTION = re.compile(r"\n\s*\n[^\n]*(?:<think>|<answer>|\\boxed|think step by step)[^\n]*\s*$", re.I)


def clean_question(text: str) -> str:
    text = text.replace("<image>", "")
    return _INSTRUCTION.sub("", text).strip()


def _load_messages(path: Path, image_root, issues: IssueLog):
    problems = []
    image_root = image_root or path.parent
    for line, rec in iter_jsonl(path, issues):
        images, messages = (rec.get("images"), rec.get("messages")) if isinstance(rec, dict) else (None, None)
        user = next(
            (m.get("content") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"), None
        )
        if not isinstance(user, str) or not isinstance(rec.get("solution"), (str, int, float)):
            issues.add(path, line, None, "expected 'messages' with a user turn and a 'solution'")
            continue
        image = images[0] if isinstance(images, list) and images else None
        pid = Path(image).parent.name if isinstance(image, str) else str(line)
        solution = str(rec["solution"]).strip()
        add_problem(
            problems,
            issues,
            str(path),
            line,
            id=pid,
            source="geometry3k",
            question=clean_question(user),
            answer=solution,
            answer_type=infer_answer_type(solution),
            image=resolve_image_path(image, image_root) if isinstance(image, str) else None,
        )
    return problems


def _intergps_record(rec: dict, where: str, image, problems, issues, pid):
    choices = [str(c) for c in rec.get("choices") or []]
    letter = rec.get("answer")
    if not isinstance(rec.get("problem_text"), str) or not is_choice_letter(letter, len(choices)):
        issues.add(where, None, pid, "expected problem_text, choices and an answer letter")
        return
    add_problem(
        problems,
        issues,
        where,
        None,
        id=str(rec.get("id", pid)),
        source="geometry3k",
        split=rec.get("data_type", "test"),
        question=rec["problem_text"].strip(),
        choices=choices,
        answer_letter=letter,
        answer_type="choice",
        image=image,
        metadata={k: rec[k] for k in ("problem_type_graph", "problem_type_goal", "precise_value") if k in rec},
    )


def _load_intergps(root: Path, issues: IssueLog):
    problems = []
    dirs = sorted(
        (d for d in root.iterdir() if d.is_dir() and (d / "data.json").exists()), key=lambda d: (len(d.name), d.name)
    )
    if not dirs:
        raise DataError(f"{root}: no <id>/data.json folders (InterGPS layout) found")
    for d in dirs:
        try:
            rec = read_json(d / "data.json")
        except DataError as exc:
            issues.add(d / "data.json", None, d.name, str(exc))
            continue
        if not isinstance(rec, dict):
            issues.add(d / "data.json", None, d.name, "expected a JSON object")
            continue
        _intergps_record(rec, str(d / "data.json"), str(d / "img_diagram.png"), problems, issues, d.name)
    return problems


def _load_hf(path: str, split, issues: IssueLog):
    problems = []
    for i, row in enumerate(load_hf_rows(path, split)):
        rid = str(row.get("id", i))
        question = row.get("problem") or row.get("question")
        if not isinstance(question, str):
            issues.add(path, None, rid, f"no problem/question column; columns are {sorted(row)}")
            continue
        choices = list(row.get("choices") or [])
        gold_letter = row.get("ground_truth") if choices else None
        answer = row.get("answer")
        answer = None if answer is None else str(answer).strip()
        if not is_choice_letter(gold_letter, len(choices)):
            gold_letter = LETTERS[choices.index(answer)] if answer in choices else None
        add_problem(
            problems,
            issues,
            path,
            None,
            id=rid,
            source="geometry3k",
            question=clean_question(question),
            choices=choices if gold_letter else [],
            answer=answer,
            answer_letter=gold_letter,
            answer_type="choice" if gold_letter else infer_answer_type(answer or ""),
            image=image_field(row.get("images", row.get("image"))),
        )
    return problems


def load_geometry3k(
    path: str, image_root: str | None = None, issues: IssueLog | None = None, split: str | None = None
):
    """Load Geometry3K from any supported layout (see the module docstring)."""
    issues = IssueLog() if issues is None else issues
    path = find_data(path, "geometry3k", DATA_LAYOUTS, split=split or "test")
    p = Path(path)
    if is_hf_dataset(path):
        problems = _load_hf(path, split, issues)
    elif p.is_dir():
        problems = _load_intergps(p, issues)
    elif p.is_file():
        problems = _load_messages(p, image_root, issues)
    else:
        raise DataError(f"{path}: file not found")
    return check_unique(problems, issues, path)


BENCHMARK = Benchmark(
    name="geometry3k",
    description="Geometry3K test, 601 problems, free-form values (choices with the InterGPS layout)",
    load=load_geometry3k,
    default_data="geometry3k/test.jsonl",
    # The bundled form is free-form (value); the InterGPS layout has choices for the choice protocol.
    protocols=("value", "choice"),
    prompt=format_prompt,
    breakdowns=("answer_type",),
    expected_count=601,
)
