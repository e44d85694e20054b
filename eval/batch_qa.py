"""Batch image QA: ask a model every (image, question) row of a file, folder, benchmark or OpenAI batch job.

Usage:

    # rows: JSONL or CSV of image, question[, choices][, id][, gold]; no --model: the tiny random model (a dry run)
    python eval/batch_qa.py --input rows.jsonl --model runs/sft-tiny --max_new_tokens 512 --out runs/qa
    # a folder of images and one question for all of them (or --questions questions.txt / rows.csv)
    python eval/batch_qa.py --input diagrams/ --question "Find the area of the shaded region." --out runs/qa_dir
    # a benchmark, 8 samples each with a majority vote, against a vLLM server; CSV too
    python eval/batch_qa.py --bench mathverse --backend openai --api_base http://127.0.0.1:8000/v1 \
        --model served-name --temperature 0.7 --n 8 --csv true --out runs/qa_mathverse
    # a job written for `vllm run-batch` (custom_id, method, url, body), unchanged; also writes OUT/batch_output.jsonl
    python eval/batch_qa.py --input job.jsonl --backend openai --api_base http://127.0.0.1:8000/v1 --out runs/job
    python eval/batch_qa.py --config recipes/batch/tiny_geosynth.yaml              # the same from a recipe

Writes OUT/results.jsonl (one line per row, in input order: id, answer, answer_text, the full reasoning, finish
reason, tokens, latency, error; with --n > 1 the votes and their agreement), OUT/responses.jsonl (resumable: a rerun
skips finished rows and retries failed ones), OUT/issues.txt, and with a gold column OUT/summary.json and
OUT/samples.jsonl. Bad rows get an error line naming them; the run goes on.

Exit status: 0 done (bad rows are error lines, listed in OUT/issues.txt); 1 the input cannot be read at all or an
optional package is missing; 2 a bad option. Errors are one line ``error: ...``.
"""

import logging
import sys

from redstar_geo.batch_qa import RESULTS, BatchQAConfig, run_batch_qa
from redstar_geo.config import parse_config
from redstar_geo.evaluation import format_summary
from redstar_geo.generation import GenerationConfig
from redstar_geo.jsonl import DataError


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config, gen_config = parse_config(BatchQAConfig, GenerationConfig)  # a bad option: argparse's usage error, exit 2
    try:
        result = run_batch_qa(config, gen_config)
    except (DataError, ImportError) as exc:  # DataError first: it is a ValueError too
        sys.exit(f"error: {exc}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if result.summary is not None:
        print(format_summary(result.summary))
    counts = result.counts
    print(
        f"{counts['rows']} rows: {counts['answered']} answered ({counts['no_answer']} without a final answer), "
        f"{counts['errors']} errors"
    )
    if counts["error_ids"]:
        ids = counts["error_ids"]
        print(f"failed (error lines, see {config.out}/issues.txt): {', '.join(ids[:20])}" + (" ..." * (len(ids) > 20)))
    print(f"wrote {config.out}/{RESULTS}")


if __name__ == "__main__":
    main()
