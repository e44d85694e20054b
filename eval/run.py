"""Evaluate a model, or score existing model outputs, on geometry benchmarks.

Usage:

    # run a model (transformers in-process; --backend openai --api_base URL for a vLLM/SGLang server)
    python eval/run.py --bench geoqa --model Qwen/Qwen2-VL-7B-Instruct --out runs/qwen2vl7b
    python eval/run.py --bench all --model runs/tiny-qwen2vl --max_new_tokens 64 --out runs/tiny
    # score existing outputs
    python eval/run.py --bench geoqa --predictions PREDS.jsonl --out runs/geoqa
    python eval/run.py --bench geoqa --protocol value --predictions PREDS.jsonl --out runs/geoqa_value
    python eval/run.py --bench geoqa --predictions_format gllava \
        --predictions ../shared/data/geoqa/gllava7b_test_outputs.jsonl --out runs/gllava7b_geoqa
    python eval/run.py --config recipes/eval/score_gllava7b_geoqa.yaml     # the same, from a recipe

PREDS.jsonl holds one ``{"id": "<problem id>", "response": "<raw model text>"}`` per line. Benchmarks: geoqa,
mathvista_geo, geometry3k, mathverse, geosynth (``--data`` points at another copy: a file, a benchmark's standard
directory such as ``../shared/data/geoqa``, or a Hugging Face dataset id). Writes OUT/responses.jsonl (model runs; a
rerun resumes it), OUT/samples.jsonl, OUT/summary.json, OUT/issues.txt and the reports, and prints a table and the
ids of problems without a prediction, failed, or answered without their unreadable image.

Exit status: 0 done (bad input lines are listed in OUT/issues.txt, not fatal); 1 the benchmark data, the predictions
or a stored run file cannot be used, or an optional package is missing; 2 a bad option or combination of options
(--model that cannot be loaded included). Errors are one line ``error: ...`` naming the file or option.
"""

import logging
import sys

from redstar_geo.config import parse_config
from redstar_geo.evaluation import EvalConfig, format_summary, run_evaluation
from redstar_geo.generation import GenerationConfig
from redstar_geo.jsonl import DataError
from redstar_geo.run_dir import ISSUES


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config, gen_config = parse_config(EvalConfig, GenerationConfig)  # a bad option: argparse's usage error, exit 2
    try:
        result = run_evaluation(config, gen_config)
    except (DataError, ImportError) as exc:  # DataError first: it is a ValueError too
        sys.exit(f"error: {exc}")
    except ValueError as exc:  # the library raises ValueError for option values it cannot use (DataError for data)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    summaries = result if isinstance(result, list) else [result]
    print(format_summary(summaries))
    for s in summaries:
        if s["issues"]:
            print(f"{s['bench']}: {s['issues']} input issues, listed in {config.run_dir(s['bench']) / ISSUES}")
        kinds = ", ".join(f"{kind} x{count}" for kind, count in s["error_kinds"].items())
        for status, ids in (
            ("had no prediction and count as wrong", s["missing_ids"]),
            (f"failed ({kinds}) and count as wrong", s["error_ids"]),
            ("had an unreadable image, were asked without it and are scored", s.get("text_only_ids", [])),
        ):
            if ids:
                print(
                    f"{s['bench']}: {len(ids)} problems {status}: {', '.join(ids[:20])}"
                    + (" ..." if len(ids) > 20 else "")
                )
    print(f"wrote {config.out}")


if __name__ == "__main__":
    main()
