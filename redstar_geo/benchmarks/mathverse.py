"""MathVerse: the same problem in six versions, from text-dominant to vision-only.

Reads the visualizer sample (a dict keyed by ``pid``: ``question``, ``image``, ``choices`` as ``"A:..."`` strings,
``answer``, ``question_type``, ``metadata.problem_version``/``subjects``) and MathVerse's ``testmini.json`` list
(``sample_index``, ``problem_version``, ``question``, ``image``, ``answer``, ``question_type``, choices inside the
question text). Some questions have six choices (A-F) and some two gold letters (``"C\\nD"`` -> ``"CD"``).
Text-only versions have no image. Breakdowns by ``problem_version`` and ``subject``. A directory is searched for
:data:`DATA_LAYOUTS` in order, with the diagrams in ``images/`` beside the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from redstar_geo.benchmarks.common import Benchmark, add_problem, check_unique, find_data, format_prompt
from redstar_geo.jsonl import DataError, IssueLog, read_json
from redstar_geo.schema import LETTERS, infer_answer_type

# What a data directory is searched for, in order (see common.find_data).
DATA_LAYOUTS = (
    ("testmini.json", "MathVerse's testmini list, diagrams in images/ beside it"),
    ("testmini_sample.json", "the MathVerse visualizer sample, dict keyed by pid, diagrams in images/ beside it"),
)
_PREFIXED = re.compile(r"^\s*\(?([A-H])\)?\s*[:：.．]\s*(.*)$", re.S)
_EMBEDDED = re.compile(r"^\s*\(?([A-H])\)?\s*[:：.．]\s*(.+?)\s*$", re.M)


def _choices(rec: dict) -> tuple[list[str], str]:
    """(choice texts, question with any embedded ``Choices:`` block removed)."""
    question = rec.get("question") or ""
    raw = rec.get("choices")
    if isinstance(raw, list) and raw:
        return [(_PREFIXED.match(c).group(2) if _PREFIXED.match(c) else c).strip() for c in raw], question
    if rec.get("question_type") == "multi_choice" and "Choices:" in question:
        head, block = question.split("Choices:", 1)
        pairs = _EMBEDDED.findall(block)
        if "".join(letter for letter, _ in pairs) == LETTERS[: len(pairs)]:
            return [text for _, text in pairs], head.strip()
    return [], question


def load_mathverse(path: str, image_root: str | None = None, issues: IssueLog | None = None, split=None):
    """Load MathVerse records; images resolve against ``image_root`` (default: ``images/`` beside the file)."""
    issues = IssueLog() if issues is None else issues
    path = find_data(path, "mathverse", DATA_LAYOUTS)
    p = Path(path)
    data = read_json(p)
    records = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a dict keyed by pid or a list of records")
    image_root = Path(image_root) if image_root else p.parent / "images"
    problems = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            issues.add(path, None, i, f"expected a record object, got {type(rec).__name__}")
            continue
        pid = str(rec.get("pid", rec.get("sample_index", i)))
        meta = rec.get("metadata") or {}
        choices, question = _choices(rec)
        answer = str(rec.get("answer", "")).strip()
        letter = value = None
        if choices:
            # "C\nD" for two answers; some golds are lower-case ("d")
            letters = "".join(re.findall(r"[A-H]", answer.upper())) if re.fullmatch(r"[A-Ha-h\s,()]+", answer) else ""
            if not letters:
                issues.add(path, None, pid, f"multi-choice gold {answer!r} is not a letter")
                continue
            letter = "".join(sorted(set(letters)))
        else:
            value = answer
        image = rec.get("image")
        add_problem(
            problems,
            issues,
            str(path),
            None,
            id=pid,
            source="mathverse",
            split="testmini",
            question=question.strip(),
            choices=choices,
            answer_letter=letter,
            answer=value,
            answer_type="choice" if letter else infer_answer_type(value or ""),
            image=str(image_root / image) if isinstance(image, str) and image else None,
            metadata={
                "problem_version": meta.get("problem_version", rec.get("problem_version")),
                "subject": meta.get("subjects", meta.get("subject")),
                "subfield": meta.get("subfields", meta.get("subfield")),
                "problem_index": rec.get("problem_index"),
            },
        )
    return check_unique(problems, issues, path)


BENCHMARK = Benchmark(
    name="mathverse",
    description="MathVerse sample: 121 problems x 6 versions (text dominant ... vision only), 604 real diagrams",
    load=load_mathverse,
    default_data="mathverse/testmini_sample.json",
    protocols=("choice",),
    prompt=format_prompt,
    breakdowns=("problem_version", "subject"),
    expected_count=726,
)
