"""The whole RedStar-Geo job in one command: GeoSynth (or GeoQA) problems -> Long-CoT synthesis and verification ->
SFT -> DPO -> evaluation before and after training -> a report.

Usage:

    python run_pipeline.py                                        # the embedded default: tiny model, CPU, minutes
    python run_pipeline.py --config recipes/pipeline/redstar_geo_8b.yaml       # the paper's setting (GPUs, a teacher)
    python run_pipeline.py --from sft --until eval_trained        # a part (the stages before --from must be done)
    python run_pipeline.py --set sft.max_steps=50 --set eval.limit=100         # a stage's option, from the shell
    python run_pipeline.py --stages synthesize,sft,eval_base,eval_trained,report   # without DPO

Options: the recipe's keys, overridden by flags (``--help`` lists them): the output directory, the stages, and one
section per stage holding that script's own options (``config`` names its recipe): ``synthesize``
(data_prep/synthesize.py), ``sft`` (train/sft_geo.py), ``dpo`` (train/dpo_geo.py), ``eval`` (eval/run.py, plus
``benches``). Without --config the recipe is recipes/pipeline/tiny_cpu.yaml. Every stage writes into
OUTPUT_DIR/<stage>; run the same command again after a failure or a kill and the finished stages are skipped, the
interrupted one resumes, and a stage whose settings changed runs again with every stage after it that reads it (see
redstar_geo.pipeline). The report ends in OUTPUT_DIR/report/index.html (and report.md).

Exit status: 0 done; 1 a stage failed (its log is named); 2 a bad option. Errors are one line ``error: ...``.
"""

import sys
from pathlib import Path

from redstar_geo.config import parse_config
from redstar_geo.pipeline import PipelineConfig, PipelineError, join_repeated_flag, run_pipeline

DEFAULT_RECIPE = Path(__file__).resolve().parent / "recipes" / "pipeline" / "tiny_cpu.yaml"


def main():
    (config,) = parse_config(PipelineConfig, args=join_repeated_flag(sys.argv[1:]), default_config=DEFAULT_RECIPE)
    try:
        result = run_pipeline(config)
    except PipelineError as exc:
        sys.exit(f"error: {exc}")
    print(f"\npipeline finished in {result['seconds']:.0f} s; every output is under {result['output_dir']}")
    for row in result["stages"]:
        seconds = "" if row.get("seconds") is None else f"{row['seconds']:.0f} s"
        print(f"  {row['stage']:13s} {row['status']:15s} {seconds}")
    if "report" in result:
        print(f"report: {result['report']} (and report.md beside it)")


if __name__ == "__main__":
    main()
