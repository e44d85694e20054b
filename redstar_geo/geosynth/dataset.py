"""Write a GeoSynth problem set to disk, in parallel, in the layout ``redstar_geo.benchmarks.geosynth`` reads.

Usage::

    from redstar_geo.geosynth.dataset import write_problem_set, describe_problem_set

    problems = write_problem_set("data/geosynth", n=10_000, base_seed=0, workers=2)
    print(describe_problem_set(problems))

Layout: ``OUT/problems.jsonl`` (one ``Problem.to_dict()`` per line, ``image`` = ``images/000123.png`` relative to
OUT) and ``OUT/images/000123.png``. Training sets must use seeds below
:data:`~redstar_geo.geosynth.generate.EVAL_SEED_START`; :func:`check_training_seeds` refuses any other range.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import partial
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from redstar_geo.geosynth.generate import EVAL_SEED_START, SEED_STRIDE, generate_problem, problem_seed
from redstar_geo.import_utils import require
from redstar_geo.jsonl import write_jsonl
from redstar_geo.schema import Problem


def check_training_seeds(n: int, base_seed: int) -> None:
    """Raise ValueError when a training set of ``n`` problems from ``base_seed`` would touch the held-out seeds or
    overlap another base seed's range."""
    if n < 1 or n > SEED_STRIDE:
        raise ValueError(f"n must be 1-{SEED_STRIDE} so sets from different base seeds never share a seed, got {n}")
    if base_seed < 0:
        raise ValueError(f"base seed must be >= 0, got {base_seed}")
    if problem_seed(base_seed, n - 1) >= EVAL_SEED_START:
        raise ValueError(
            f"base seed {base_seed} with n={n} reaches seed {problem_seed(base_seed, n - 1)}: seeds "
            f">= {EVAL_SEED_START} are reserved for the held-out geosynth benchmark"
        )


def _make(index: int, base_seed: int, out: str | None, language: str) -> dict:
    p = generate_problem(problem_seed(base_seed, index), language=language, pid=f"{index:06d}")
    if out is None:
        return p.to_dict()
    rel = f"images/{index:06d}.png"
    Path(out, rel).write_bytes(p.image)
    p.image = rel
    return p.to_dict()


def generate_records(
    n: int,
    base_seed: int = 0,
    *,
    workers: int | None = None,
    out: str | Path | None = None,
    language: str = "en",
    progress: bool = True,
) -> list[dict]:
    """``n`` problem records in index order, made by ``workers`` processes (default: all cores). With ``out`` each
    worker writes its PNGs under ``out/images`` and the records carry relative paths; without, the image bytes."""
    workers = workers or os.cpu_count() or 1
    if out is not None:
        Path(out, "images").mkdir(parents=True, exist_ok=True)
    make = partial(_make, base_seed=base_seed, out=None if out is None else str(out), language=language)
    bar = tqdm(total=n, desc="geosynth", unit="problem", disable=not progress)
    records = []
    if workers == 1:
        for i in range(n):
            records.append(make(i))
            bar.update()
    else:
        with get_context("spawn").Pool(workers) as pool:
            for rec in pool.imap(make, range(n), chunksize=max(1, min(64, n // (4 * workers)))):
                records.append(rec)
                bar.update()
    bar.close()
    return records


def write_problem_set(
    out: str | Path,
    n: int,
    base_seed: int = 0,
    *,
    workers: int | None = None,
    language: str = "en",
    progress: bool = True,
) -> list[Problem]:
    """Generate and write a training set (see the module docstring); returns the problems with relative paths."""
    check_training_seeds(n, base_seed)
    records = generate_records(n, base_seed, workers=workers, out=out, language=language, progress=progress)
    write_jsonl(Path(out) / "problems.jsonl", records)
    return [Problem.from_dict(r) for r in records]


def export_hf(problems: list[Problem], out: str | Path, image_root: str | Path) -> None:
    """Save the problems as a Hugging Face dataset (``save_to_disk``): the problem fields, ``image`` as an Image
    column, ``metadata`` as a JSON string (its nested steps do not fit one Arrow type)."""
    datasets = require("datasets", extra="train", feature="the Hugging Face export")
    rows = {
        "id": [],
        "question": [],
        "choices": [],
        "answer": [],
        "answer_letter": [],
        "language": [],
        "image": [],
        "metadata": [],
    }
    for p in problems:
        image = Path(image_root, p.image).read_bytes() if isinstance(p.image, str) else p.image
        for key in ("id", "question", "choices", "answer", "answer_letter", "language"):
            rows[key].append(getattr(p, key))
        rows["image"].append({"bytes": image, "path": None})
        rows["metadata"].append(json.dumps(p.metadata, ensure_ascii=False))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "question": datasets.Value("string"),
            "choices": datasets.Sequence(datasets.Value("string")),
            "answer": datasets.Value("string"),
            "answer_letter": datasets.Value("string"),
            "language": datasets.Value("string"),
            "image": datasets.Image(),
            "metadata": datasets.Value("string"),
        }
    )
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(out))


def describe_problem_set(problems: list[Problem]) -> str:
    """Counts by family, difficulty level, variant and language, as printable lines."""
    lines = [f"{len(problems)} problems"]
    for key in ("family", "difficulty", "variant"):
        counts = Counter(p.metadata[key] for p in problems)
        lines.append(f"{key}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    counts = Counter(p.language for p in problems)
    lines.append("language: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)
