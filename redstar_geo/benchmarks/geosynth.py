"""GeoSynth: procedurally generated GeoQA-style problems with answers correct by construction (four choices each).

Paths read by :func:`load_geosynth`:

- ``geosynth:eval`` (the default data): 500 held-out problems generated on the fly from the reserved seeds
  (``>= 10**9``, base seed :data:`~redstar_geo.geosynth.EVAL_BASE_SEED`), which no training set may use;
  ``geosynth:eval:N`` generates N of them. Any directory prefix is ignored, so ``Benchmark.load_default`` works
  without a data directory;
- a directory written by ``data_prep/geosynth.py`` (``problems.jsonl`` + ``images/``), or that ``problems.jsonl``;
- the Hugging Face ``save_to_disk`` directory written with ``--hf_out``.

A directory is searched for :data:`DATA_LAYOUTS` in order.

Protocols: ``choice`` and ``value``. Results break down by language, family, difficulty level (1-9) and variant
(text-dominant / vision-dominant).
"""

from __future__ import annotations

import json
from pathlib import Path

from redstar_geo.benchmarks.common import (
    SAVED_DATASET,
    Benchmark,
    add_problem,
    check_unique,
    find_data,
    format_prompt,
    image_field,
    is_saved_dataset,
    load_hf_rows,
)
from redstar_geo.jsonl import DataError, IssueLog, iter_jsonl
from redstar_geo.schema import Problem, ProblemError

EVAL_PATH = "geosynth:eval"
EVAL_SIZE = 500
# What a data directory is searched for, in order (see common.find_data).
DATA_LAYOUTS = (
    ("problems.jsonl", "written by data_prep/geosynth.py, images relative to it"),
    SAVED_DATASET,
)


def _eval_set(name: str) -> list[Problem]:
    from redstar_geo.geosynth import EVAL_BASE_SEED, generate_problem, problem_seed

    count = name[len(EVAL_PATH) + 1 :]
    if count and not count.isdigit():
        raise DataError(f"{name}: expected {EVAL_PATH} or {EVAL_PATH}:N")
    problems = []
    for i in range(int(count) if count else EVAL_SIZE):
        p = generate_problem(problem_seed(EVAL_BASE_SEED, i), language="mixed", pid=f"eval-{i:04d}")
        p.split = "test"
        problems.append(p)
    return problems


def _load_jsonl(path: Path, image_root, issues: IssueLog) -> list[Problem]:
    root = image_root or path.parent
    problems = []
    for line, rec in iter_jsonl(path, issues):
        try:
            problems.append(Problem.from_dict(rec, image_root=root))
        except ProblemError as exc:
            issues.add(path, line, rec.get("id") if isinstance(rec, dict) else None, str(exc))
    return problems


def _load_hf(path: str, split: str | None, issues: IssueLog) -> list[Problem]:
    problems = []
    for i, row in enumerate(load_hf_rows(path, split)):
        rid = str(row.get("id", i))
        try:
            metadata = json.loads(row.get("metadata") or "{}")
        except json.JSONDecodeError as exc:
            issues.add(path, None, rid, f"metadata is not JSON: {exc.msg}")
            continue
        add_problem(
            problems,
            issues,
            path,
            None,
            id=rid,
            source="geosynth",
            question=row.get("question"),
            choices=list(row.get("choices") or []),
            answer=row.get("answer"),
            answer_letter=row.get("answer_letter"),
            answer_type="choice",
            language=row.get("language") or "en",
            image=image_field(row.get("image")),
            metadata=metadata,
        )
    return problems


def load_geosynth(path: str, image_root: str | None = None, issues: IssueLog | None = None, split: str | None = None):
    """Load a GeoSynth set from any supported path (see the module docstring)."""
    issues = IssueLog() if issues is None else issues
    p = Path(path)
    if p.name.startswith(EVAL_PATH):
        return _eval_set(p.name)
    path = find_data(path, "geosynth", DATA_LAYOUTS)
    p = Path(path)
    if is_saved_dataset(p):
        problems = _load_hf(path, split, issues)
    elif p.is_file():
        problems = _load_jsonl(p, image_root, issues)
    else:
        raise DataError(
            f"{path}: not found (expected {EVAL_PATH}, a data_prep/geosynth.py output directory, its "
            "problems.jsonl, or a --hf_out dataset)"
        )
    return check_unique(problems, issues, path)


BENCHMARK = Benchmark(
    name="geosynth",
    description="GeoSynth held-out set, 500 generated problems (seeds >= 10**9, one third Chinese); choice or value",
    load=load_geosynth,
    default_data=EVAL_PATH,
    protocols=("choice", "value"),
    prompt=format_prompt,
    breakdowns=("language", "family", "difficulty", "variant"),
    expected_count=EVAL_SIZE,
)
