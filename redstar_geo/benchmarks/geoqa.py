"""GeoQA test (754 problems, four choices each).

Layouts read by :func:`load_geoqa`:

- G-LLaVA's ``test_questions.jsonl`` (``question_id``, ``image``, ``text`` with the choices as ``A:40°`` lines) with
  the gold letters in the sibling ``test_answers.jsonl`` (``question_id``, ``text``);
- R1-V's ``r1v_test_prompts.jsonl`` (``image_path``, ``question``, ``ground_truth`` = the correct choice's value; no
  choices, ids taken from the image file name, ``test/0.png`` -> ``"0"``);
- the original GeoQA / GeoQA+ release: a directory of per-problem ``<id>.json`` files, or one JSON list, with
  ``English_problem`` / ``subject``, ``choices``, ``label`` (the index of the correct choice), and images in an
  ``image/`` folder beside it (``<id>.png``);
- a Hugging Face dataset (hub id, ``save_to_disk`` directory or parquet file) with ``question``/``problem``,
  ``choices``, an ``answer`` letter/value or ``label`` index, and ``image``/``images``.

A directory is searched for these in the order of :data:`DATA_LAYOUTS` (the shared data directory has both G-LLaVA's
and R1-V's files: the G-LLaVA ones are read). Given ``test_answers.jsonl`` itself, the loader reads it with the
``test_questions.jsonl`` beside it.

Protocols: ``choice`` (the letter against the gold letter, G-LLaVA's scoring) and ``value`` (the free-form value
against the correct choice's value, R1-V's scoring).
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
from redstar_geo.schema import LETTERS, detect_language, infer_answer_type, is_choice_letter, resolve_image_path

# What a data directory is searched for, in order (see common.find_data).
DATA_LAYOUTS = (
    ("test_questions.jsonl", "G-LLaVA questions, gold letters in test_answers.jsonl beside it"),
    ("r1v_test_prompts.jsonl", "R1-V prompts with free-form gold values"),
    ("json/", "original GeoQA: json/<id>.json, diagrams in image/<id>.png"),
    ("*.json", "an original GeoQA json/ folder itself, diagrams in ../image/"),
    SAVED_DATASET,
)
_CHOICE_LINE = re.compile(r"^([A-E])[:：.．]\s*(.*?)\s*$", re.M)


def split_question_text(text: str) -> tuple[str, list[str]]:
    """G-LLaVA's prompt text -> (question, choices): drops the instruction, parses the ``A:40°`` lines."""
    body = text.split("Question:", 1)[1] if "Question:" in text else text
    if "Choices:" not in body:
        return body.strip(), []
    question, choice_block = body.split("Choices:", 1)
    pairs = _CHOICE_LINE.findall(choice_block)
    letters = "".join(letter for letter, _ in pairs)
    if letters != LETTERS[: len(pairs)]:
        raise ValueError(f"choice letters {letters!r} are not A, B, C, ... in order")
    return question.strip(), [choice for _, choice in pairs]


def _load_questions(path: Path, image_root, issues: IssueLog, answers_path: Path | None = None):
    answers_path = answers_path or path.with_name(path.name.replace("questions", "answers"))
    if answers_path == path:
        raise DataError(
            f"{path}: G-LLaVA's gold letters are read from the file of the same name with 'questions' replaced by "
            "'answers'; rename the pair test_questions.jsonl / test_answers.jsonl"
        )
    if not answers_path.is_file():
        raise DataError(f"{path}: its gold letters file {answers_path.name} was not found beside it")
    gold = {}
    for line, rec in iter_jsonl(answers_path, issues):
        if not isinstance(rec, dict) or "question_id" not in rec or not isinstance(rec.get("text"), str):
            issues.add(answers_path, line, None, "expected {'question_id': ..., 'text': '<letter>'}")
            continue
        gold[str(rec["question_id"])] = rec["text"].strip()
    image_root = image_root or path.parent
    problems = []
    for line, rec in iter_jsonl(path, issues):
        if not isinstance(rec, dict) or "question_id" not in rec or not isinstance(rec.get("text"), str):
            issues.add(path, line, None, "expected {'question_id': ..., 'image': ..., 'text': ...}")
            continue
        qid = str(rec["question_id"])
        try:
            question, choices = split_question_text(rec["text"])
        except ValueError as exc:
            issues.add(path, line, qid, str(exc))
            continue
        if qid not in gold:
            issues.add(path, line, qid, f"no gold letter in {answers_path.name}")
            continue
        image = rec.get("image")
        add_problem(
            problems,
            issues,
            str(path),
            line,
            id=qid,
            source="geoqa",
            question=question,
            choices=choices,
            answer_letter=gold[qid],
            answer_type="choice",
            language=detect_language(question),
            image=resolve_image_path(image, image_root) if isinstance(image, str) else None,
        )
    return problems


def _load_r1v(path: Path, image_root, issues: IssueLog):
    problems = []
    for line, rec in iter_jsonl(path, issues):
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in ("image_path", "question")):
            issues.add(path, line, None, "expected {'image_path': str, 'question': str, 'ground_truth': str}")
            continue
        qid = Path(rec["image_path"]).stem
        gold = rec.get("ground_truth")
        if not isinstance(gold, str) or not gold.strip():
            issues.add(path, line, qid, "missing ground_truth")
            continue
        # R1-V's paths look like ./Geo170K/images/test/0.png, relative to its working directory: keep the test/0.png
        # part under the image root, as in the G-LLaVA form.
        image = str(Path(image_root or path.parent) / Path(*Path(rec["image_path"]).parts[-2:]))
        add_problem(
            problems,
            issues,
            str(path),
            line,
            id=qid,
            source="geoqa",
            question=rec["question"].strip(),
            answer=gold.strip(),
            answer_type=infer_answer_type(gold),
            language=detect_language(rec["question"]),
            image=image,
        )
    return problems


def _original_record(rec: dict, where: str, image_dir: Path | None, problems, issues, line=None):
    rid = rec.get("id")
    question = rec.get("English_problem") or rec.get("English problem") or rec.get("subject") or rec.get("problem")
    choices = rec.get("choices")
    label = rec.get("label")
    if not isinstance(question, str) or not isinstance(choices, list):
        issues.add(where, line, rid, "expected English_problem/subject text and a choices list")
        return
    if isinstance(label, int) and 0 <= label < len(choices):
        letter = LETTERS[label]
    elif isinstance(label, str) and is_choice_letter(label.strip(), len(choices)):
        letter = label.strip()
    else:
        issues.add(where, line, rid, f"label {label!r} is not a choice index")
        return
    image = str(image_dir / f"{rid}.png") if image_dir is not None else None
    metadata = {k: rec[k] for k in ("manual_program", "formal_point") if k in rec}
    if isinstance(rec.get("subject"), str) and rec["subject"] != question:
        metadata["problem_zh"] = rec["subject"]  # the Chinese original beside the English translation
    add_problem(
        problems,
        issues,
        where,
        line,
        id=str(rid),
        source="geoqa",
        question=question.strip(),
        choices=[str(c) for c in choices],
        answer_letter=letter,
        answer_type="choice",
        language=detect_language(question),
        image=image,
        metadata=metadata,
    )


def _load_original(path: Path, image_root, issues: IssueLog):
    problems = []
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
        image_dir = Path(image_root) if image_root else path.parent / "image"
        for file in files:
            try:
                rec = read_json(file)
            except DataError as exc:
                issues.add(file, None, file.stem, str(exc))
                continue
            if not isinstance(rec, dict):
                issues.add(file, None, file.stem, "expected a JSON object")
                continue
            rec.setdefault("id", file.stem)
            _original_record(rec, str(file), image_dir, problems, issues)
        return problems
    records = read_json(path)
    image_dir = Path(image_root) if image_root else path.parent / "image"
    for i, rec in enumerate(records if isinstance(records, list) else []):
        _original_record(rec, str(path), image_dir, problems, issues, line=None if not isinstance(rec, dict) else i)
    return problems


def _load_hf(path: str, split: str | None, issues: IssueLog):
    rows = load_hf_rows(path, split)
    problems = []
    for i, row in enumerate(rows):
        rid = str(row.get("id", row.get("question_id", i)))
        question = row.get("question") or row.get("problem") or row.get("English_problem")
        choices = row.get("choices") or []
        answer = row.get("answer", row.get("ground_truth", row.get("label")))
        if not isinstance(question, str):
            issues.add(path, None, rid, f"no question column; columns are {sorted(row)}")
            continue
        question = question.replace("<image>", "").strip()
        letter = value = None
        if isinstance(answer, int) and choices:
            letter = LETTERS[answer] if 0 <= answer < len(choices) else None
        elif isinstance(answer, str) and is_choice_letter(answer.strip(), len(choices)):
            letter = answer.strip()
        elif isinstance(answer, str):
            value = answer.strip()
            if value in choices:
                letter = LETTERS[choices.index(value)]
        add_problem(
            problems,
            issues,
            path,
            None,
            id=rid,
            source="geoqa",
            question=question,
            choices=list(choices),
            answer_letter=letter,
            answer=value,
            answer_type="choice" if letter else infer_answer_type(value or ""),
            language=detect_language(question),
            image=image_field(row.get("image", row.get("images"))),
        )
    return problems


def load_geoqa(path: str, image_root: str | None = None, issues: IssueLog | None = None, split: str | None = None):
    """Load GeoQA from any supported layout (see the module docstring)."""
    issues = IssueLog() if issues is None else issues
    path = find_data(path, "geoqa", DATA_LAYOUTS)
    p = Path(path)
    if is_hf_dataset(path):
        problems = _load_hf(path, split, issues)
    elif p.is_dir():
        problems = _load_original(p, image_root, issues)
    elif not p.is_file():
        raise DataError(f"{path}: file not found")
    elif p.suffix == ".json":
        problems = _load_original(p, image_root, issues)
    else:
        first = next((rec for _, rec in iter_jsonl(p, IssueLog())), None)
        if isinstance(first, dict) and "image_path" in first and "ground_truth" in first:
            problems = _load_r1v(p, image_root, issues)
        elif isinstance(first, dict) and "question_id" in first and "text" in first and "answers" in p.name:
            # G-LLaVA's gold letters alone: the problems are in the questions file beside them.
            questions = p.with_name(p.name.replace("answers", "questions"))
            if not questions.is_file():
                raise DataError(
                    f"{path}: holds G-LLaVA's gold letters only; its questions file {questions.name} "
                    "was not found beside it"
                )
            problems = _load_questions(questions, image_root, issues, answers_path=p)
        elif isinstance(first, dict) and "question_id" in first and "text" in first:
            problems = _load_questions(p, image_root, issues)
        else:
            raise DataError(
                f"{path}: not a GeoQA file this loader knows (G-LLaVA test_questions.jsonl, R1-V prompts jsonl, "
                "original GeoQA json, or a Hugging Face dataset)"
            )
    return check_unique(problems, issues, path)


BENCHMARK = Benchmark(
    name="geoqa",
    description="GeoQA test, 754 problems (G-LLaVA's English version); choice or free-form value protocol",
    load=load_geoqa,
    default_data="geoqa/test_questions.jsonl",
    protocols=("choice", "value"),
    prompt=format_prompt,
    breakdowns=("language",),
    expected_count=754,
)
