"""lmms-eval hooks of the redstar_* tasks: this project's loaders, prompts and answer judge inside lmms-eval.

Usage (lmms-eval installed beside redstar-geo; see the README for the safe install)::

    lmms-eval --model qwen2_vl --model_args pretrained=Qwen/Qwen2-VL-7B-Instruct \\
        --tasks redstar_geoqa,redstar_mathvista_geo,redstar_geometry3k --include_path lmms_eval_tasks

Each task's dataset is a one-row manifest (``manifests/<bench>.jsonl``: bench, protocol, data, image_root, split);
:func:`process_docs` swaps it for the problems ``redstar_geo.benchmarks.load_benchmark`` reads, one doc per problem
holding the serialised :class:`~redstar_geo.schema.Problem`. ``data: null`` means the bundled copy
(``$REDSTAR_GEO_DATA``, else ``../shared/data`` beside the checkout); to evaluate another copy, write a yaml that
includes ``_redstar_geo_template_yaml`` and points ``dataset_kwargs.data_files.test`` at your own manifest.

Only redstar_geo and the standard library are imported at module level, so the hooks can be tested without lmms-eval.
"""

from __future__ import annotations

import json
import logging

from redstar_geo.benchmarks import get_benchmark, load_benchmark
from redstar_geo.images import ImageLoadError
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.judge import judge
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)


def problem_docs(manifest_rows) -> list[dict]:
    """The docs of the benchmarks the manifest rows name: ``{"id", "bench", "protocol", "answer", "problem"}``,
    ``problem`` being the problem's JSON (a string, so that Arrow needs no schema for metadata and image bytes)."""
    docs = []
    for row in manifest_rows:
        bench = get_benchmark(row["bench"])
        protocol = row.get("protocol") or bench.protocols[0]
        if protocol not in bench.protocols:
            raise DataError(f"protocol {protocol!r} is not available for {bench.name}: {bench.protocols}")
        data = bench.data_path(row.get("data"))
        issues = IssueLog()
        problems = load_benchmark(
            bench.name, data=data, image_root=row.get("image_root"), split=row.get("split"), issues=issues
        )
        if issues:
            logger.warning("%s: %d bad records skipped, first: %s", data, len(issues), issues[0])
        for p in problems:
            gold = p.gold_answer(protocol)
            docs.append(
                {
                    "id": p.id,
                    "bench": bench.name,
                    "protocol": protocol,
                    "answer": gold,
                    "problem": json.dumps(p.to_dict(), ensure_ascii=False),
                }
            )
    return docs


def process_docs(dataset):
    """lmms-eval ``process_docs``: the manifest dataset -> a ``datasets.Dataset`` of :func:`problem_docs`."""
    import datasets  # lmms-eval depends on it; imported here so this module loads without it

    return datasets.Dataset.from_list(problem_docs(dataset))


def to_problem(doc: dict) -> Problem:
    return Problem.from_dict(json.loads(doc["problem"]))


def doc_to_visual(doc: dict) -> list:
    """The diagram as one RGB image; none for a text-only problem or one whose image cannot be read (logged, so a
    broken file costs one problem's image, not the run)."""
    problem = to_problem(doc)
    if problem.image is None:
        return []
    try:
        return [problem.load_image()]
    except ImageLoadError as exc:
        logger.warning("%s; the model gets the text only", exc)
        return []


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The benchmark's own prompt (question, choices, ``\\boxed{}`` instruction), as redstar_geo trains and scores
    with. ``lmms_eval_specific_kwargs`` may add a model-specific ``pre_prompt`` / ``post_prompt``."""
    kwargs = lmms_eval_specific_kwargs or {}
    prompt = get_benchmark(doc["bench"]).prompt(to_problem(doc), doc["protocol"])
    return f"{kwargs.get('pre_prompt', '')}{prompt}{kwargs.get('post_prompt', '')}"


def process_results(doc: dict, results: list[str]) -> dict:
    """lmms-eval ``process_results``: judge the first response; ``accuracy`` and ``no_answer`` in percent (their
    ``mean`` aggregation is then the benchmark's accuracy / no-answer rate in percent, as in ``summary.json``)."""
    verdict = judge(results[0] if results else "", to_problem(doc), protocol=doc["protocol"])
    return {
        "accuracy": 100.0 if verdict.correct else 0.0,
        "no_answer": 100.0 if verdict.status == "no_answer" else 0.0,
    }
