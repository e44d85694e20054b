"""Score model outputs on a geometry benchmark.

Usage:

    python eval/run.py --bench geoqa --predictions PREDS.jsonl --out runs/geoqa
    python eval/run.py --bench geoqa --protocol value --predictions PREDS.jsonl --out runs/geoqa_value
    python eval/run.py --bench geoqa --predictions_format gllava \
        --predictions ../shared/data/geoqa/gllava7b_test_outputs.jsonl --out runs/gllava7b_geoqa
    python eval/run.py --config recipes/eval/score_gllava7b_geoqa.yaml

PREDS.jsonl holds one ``{"id": "<problem id>", "response": "<raw model text>"}`` per line. Benchmarks: geoqa,
mathvista_geo, geometry3k, mathverse (``--data`` points at another copy or a Hugging Face dataset id). Writes
OUT/samples.jsonl, OUT/summary.json and OUT/issues.txt, and prints a table.
"""

import logging
import sys

from redstar_geo.config import parse_config
from redstar_geo.evaluation import EvalConfig, format_summary, run_evaluation
from redstar_geo.jsonl import DataError


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    (config,) = parse_config(EvalConfig)
    try:
        summary = run_evaluation(config)
    except DataError as exc:
        sys.exit(f"error: {exc}")
    print(format_summary(summary))
    if summary["issues"]:
        print(f"{summary['issues']} input issues, listed in {config.out}/issues.txt")
    if summary["missing"]:
        shown = ", ".join(summary["missing_ids"][:20])
        print(
            f"{summary['missing']} problems had no prediction and count as wrong: {shown}"
            + (" ..." if summary["missing"] > 20 else "")
        )
    print(f"wrote {config.out}/samples.jsonl and {config.out}/summary.json")


if __name__ == "__main__":
    main()
