"""Compare evaluation runs: one markdown table and one accuracy plot across models and benchmarks.

Usage:

    python eval/report.py runs/gllava7b_geoqa runs/qwen_geoqa runs/qwen_mathvista_geo --out runs/report
    python eval/report.py runs/qwen_all/* --out runs/report --per-run

Each RUN_DIR is an output directory of ``eval/run.py`` for one benchmark (for ``--bench all``, its subdirectories).
Writes OUT/results.md (accuracy, no-answer rate, mean response length, truncation rate per run, then each run's
breakdowns) and OUT/accuracy.png (needs the ``eval`` extra), and prints the table. ``--per-run`` also (re)writes each
run's report.html, report.md and plots, loading its problems and responses as its config.json says.

Exit status: 0 done; 1 a RUN_DIR that is not a run directory or whose files cannot be read, or a missing extra (one
line ``error: ...`` naming them); 2 a bad option.
"""

import argparse
import sys
from pathlib import Path

from redstar_geo.jsonl import DataError
from redstar_geo.reports import breakdown_tables, markdown_table, plot_accuracy, write_reports
from redstar_geo.run_dir import SUMMARY, is_run_dir, load_problems, load_responses, load_summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, help="output directories of eval/run.py")
    parser.add_argument("--out", type=Path, required=True, help="where results.md and accuracy.png go")
    parser.add_argument("--per-run", action="store_true", help="also write each run's HTML report and plots")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out}: an existing file, not a directory")
    missing = [str(d) for d in args.run_dirs if not is_run_dir(d)]
    if missing:
        sys.exit(f"error: not run directories (no {SUMMARY}): {', '.join(missing)}")
    try:
        summaries = [load_summary(d) for d in args.run_dirs]  # every run checked before anything is written
        table = markdown_table(args.run_dirs)
        breakdowns = [breakdown_tables(summary) for summary in summaries]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(table + "\n" + "\n".join(b for b in breakdowns if b), encoding="utf-8")
        plot_accuracy(args.run_dirs, args.out / "accuracy.png")
        for run_dir in args.run_dirs if args.per_run else []:
            write_reports(run_dir, load_problems(run_dir), load_responses(run_dir))
            print(f"wrote {run_dir}/report.html")
    except (DataError, ImportError) as exc:
        sys.exit(f"error: {exc}")
    print(table)
    print(f"wrote {args.out}/results.md and {args.out}/accuracy.png")


if __name__ == "__main__":
    main()
