"""From verified samples to training data: the SFT set and the DPO preference pairs, reproducible by seed.

Usage::

    from redstar_geo.synthesis.selection import select_sft, select_pairs, write_training_data

    chosen = select_sft(problems, store, statuses, max_per_problem=2, target_size=3700, seed=0)
    pairs = select_pairs(problems, store, per_problem=1, seed=0)
    sft_records, pair_records = write_training_data(out_dir, problems, chosen, pairs, protocol="choice")

**SFT.** Each problem offers up to ``max_per_problem`` of its verified traces (a seeded draw: not the shortest, which
would teach the model to think less). With ``target_size``, traces are taken hardest problem first (lowest pass rate,
then highest difficulty label, then a seeded tie-break), one per problem per pass, so the set covers as many problems
as it can before it takes a second trace of any: RedStar-Geo's ~3.7k traces over GeoQA's 3,499 problems.

**DPO.** A pair is a verified trace (chosen) and a failed one (rejected) of the same problem, so the same image and
prompt; a problem gives ``per_problem`` pairs, each with a different rejected trace, spreading over failure kinds
first. Every pair carries the rejected trace's reason codes (the failure kind), and the report gives the chosen
minus rejected length gap, the length bias DPO is known to pick up.

Both are written with the evaluation prompt (:func:`redstar_geo.messages.problem_messages`), the prompt the model is
scored with, not the teacher's, in the SFT format ``train/sft_geo.py`` reads; images are copied to ``OUT/images``.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from pathlib import Path

from redstar_geo.jsonl import write_jsonl
from redstar_geo.messages import problem_messages
from redstar_geo.schema import Problem
from redstar_geo.sft_data import placeholder_text
from redstar_geo.synthesis.sampling import SampleStore, full_trace, is_failed, is_verified


def _rng(seed: int, problem_id: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}\0{problem_id}".encode()).digest())


def _hardness(problem: Problem, status: dict | None, seed: int) -> tuple:
    rate = status.get("pass_rate") if status else None
    level = problem.metadata.get("difficulty")
    level = level if isinstance(level, (int, float)) and not isinstance(level, bool) else 0
    return (1.0 if rate is None else rate, -level, _rng(seed, problem.id).random())


def select_sft(
    problems: list[Problem],
    store: SampleStore,
    statuses: dict[str, dict],
    max_per_problem: int = 2,
    target_size: int | None = None,
    seed: int = 0,
) -> list[tuple[Problem, dict]]:
    """``(problem, sample record)`` of the verified traces chosen for SFT, in problem order (see the module
    docstring)."""
    offers = {}
    for problem in problems:
        verified = [rec for _, rec in sorted(store.samples(problem.id).items()) if is_verified(rec)]
        _rng(seed, problem.id).shuffle(verified)
        if verified:
            offers[problem.id] = verified[:max_per_problem]
    chosen: dict[str, list[dict]] = {pid: [] for pid in offers}
    if target_size is None:
        chosen = offers
    else:
        ranked = sorted((p for p in problems if p.id in offers), key=lambda p: _hardness(p, statuses.get(p.id), seed))
        taken = 0
        for depth in range(max_per_problem):
            for problem in ranked:
                if taken == target_size:
                    break
                if depth < len(offers[problem.id]):
                    chosen[problem.id].append(offers[problem.id][depth])
                    taken += 1
    return [
        (problem, rec) for problem in problems for rec in sorted(chosen.get(problem.id, []), key=lambda r: r["sample"])
    ]


def select_pairs(
    problems: list[Problem], store: SampleStore, per_problem: int = 1, seed: int = 0
) -> list[tuple[Problem, dict, dict]]:
    """``(problem, chosen record, rejected record)`` preference pairs (see the module docstring)."""
    pairs = []
    for problem in problems:
        samples = [rec for _, rec in sorted(store.samples(problem.id).items())]
        verified = [rec for rec in samples if is_verified(rec)]
        failed = [rec for rec in samples if is_failed(rec)]
        if not verified or not failed:
            continue
        rng = _rng(seed + 1, problem.id)
        rng.shuffle(verified)
        rng.shuffle(failed)
        # one rejected trace per failure kind first, then the rest: pairs teach against several kinds of mistake
        by_kind: dict[str, list[dict]] = {}
        for rec in failed:
            by_kind.setdefault(rec["reasons"][0], []).append(rec)
        rejected = [recs[0] for recs in by_kind.values()] + [rec for recs in by_kind.values() for rec in recs[1:]]
        for k, bad in enumerate(rejected[:per_problem]):
            pairs.append((problem, verified[k % len(verified)], bad))
    return pairs


def _image_file(problem: Problem, out_dir: Path, written: dict[str, str]) -> str | None:
    """The problem's image copied into ``out_dir/images`` once; its path relative to ``out_dir``."""
    if problem.image is None:
        return None
    if problem.id not in written:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", problem.id)
        suffix = ".png" if isinstance(problem.image, bytes) else (Path(problem.image).suffix or ".png")
        rel = f"images/{stem}{suffix}"
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(problem.image, bytes):
            target.write_bytes(problem.image)
        elif not target.exists() or target.stat().st_size != Path(problem.image).stat().st_size:
            shutil.copyfile(problem.image, target)
        written[problem.id] = rel
    return written[problem.id]


def prompt_messages(problem: Problem, protocol: str) -> list[dict]:
    """The evaluation prompt as ``[{"role", "content": "<image>..."}]``: the SFT/ShareGPT string form."""
    messages = problem_messages(problem, protocol, image_format="placeholder")
    return [{"role": m["role"], "content": placeholder_text(m["content"])} for m in messages]


def write_training_data(
    out_dir: str | Path,
    chosen: list[tuple[Problem, dict]],
    pairs: list[tuple[Problem, dict, dict]],
    protocol: str = "choice",
) -> tuple[list[dict], list[dict]]:
    """Write ``OUT/sft.jsonl`` and ``OUT/dpo.jsonl`` (images in ``OUT/images``); return their records.

    SFT: ``{"id": "<problem>#s<sample>", "problem_id", "sample", "image", "messages", "completion"}`` (the format
    ``train/sft_geo.py --dataset OUT/sft.jsonl`` reads). DPO: ``{"id", "problem_id", "image", "prompt", "chosen",
    "rejected", "rejected_reasons", "chosen_sample", "rejected_sample"}``.
    """
    out = Path(out_dir)
    images: dict[str, str] = {}
    sft = []
    for problem, rec in chosen:
        record = {"id": f"{problem.id}#s{rec['sample']}", "problem_id": problem.id, "sample": rec["sample"]}
        image = _image_file(problem, out, images)
        if image is not None:
            record["image"] = image
        record.update(messages=prompt_messages(problem, protocol), completion=full_trace(rec))
        sft.append(record)
    dpo = []
    for problem, good, bad in pairs:
        dpo.append(
            {
                "id": f"{problem.id}#s{good['sample']}-s{bad['sample']}",
                "problem_id": problem.id,
                "image": _image_file(problem, out, images),
                "prompt": prompt_messages(problem, protocol),
                "chosen": full_trace(good),
                "rejected": full_trace(bad),
                "rejected_reasons": bad["reasons"],
                "chosen_sample": good["sample"],
                "rejected_sample": bad["sample"],
            }
        )
    write_jsonl(out / "sft.jsonl", sft)
    write_jsonl(out / "dpo.jsonl", dpo)
    return sft, dpo
