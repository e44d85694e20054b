"""The pipeline's final report: data yield and rejection reasons, training curves, the benchmark table before and
after training, and each stage's time.

Usage::

    from redstar_geo.pipeline_report import write_pipeline_report
    write_pipeline_report(config, stage_rows)   # -> OUT/report/index.html (+ report.md, training.png, accuracy.png)

It reads what the stages wrote (``OUT/synthesize/report/stats.json``, ``OUT/<sft|dpo>/trainer_state.json``,
``OUT/eval_*/<bench>/summary.json``); a stage that did not run leaves its section saying so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from redstar_geo.import_utils import is_available
from redstar_geo.jsonl import read_json, write_json, write_text
from redstar_geo.reports import _CSS, _esc, _pyplot, _save, plot_accuracy, run_stats
from redstar_geo.synthesis.report import _html_table, _markdown_table, _num, _pct

logger = logging.getLogger(__name__)

Table = tuple[str, list[str], list[list[str]]]  # (title, headers, rows of formatted cells)


def _float(value) -> str:
    return "–" if value is None else f"{value:.4g}"


def training_log(stage_dir: Path) -> list[dict]:
    """``log_history`` of a training stage's ``trainer_state.json`` ([] when it has none)."""
    path = stage_dir / "trainer_state.json"
    return read_json(path).get("log_history", []) if path.is_file() else []


def _series(log: list[dict], key: str) -> list[tuple[int, float]]:
    return [(entry["step"], entry[key]) for entry in log if key in entry and "step" in entry]


def _margin_key(log: list[dict]) -> str:
    return next((k for k in ("rewards/margins", "margins") if any(k in e for e in log)), "rewards/margins")


def data_tables(out: Path) -> list[Table]:
    path = out / "synthesize" / "report" / "stats.json"
    if not path.is_file():
        return [("Data", ["", "value"], [["synthesis report", f"not found ({path})"]])]
    stats = read_json(path)
    y = stats["yield"]
    rows = []
    if stats.get("decontamination"):
        dc = stats["decontamination"]
        rows.append(["problems generated / loaded", _num(dc["total"])])
        rows.append(
            [
                "dropped as duplicates of evaluation problems",
                f"{_num(dc['dropped'])} ({_pct(dc.get('dropped_fraction'))})",
            ]
        )
    rows += [
        ["problems sampled", _num(y["problems"])],
        ["teacher samples", _num(y["samples"])],
        ["verified traces", f"{_num(y['verified'])} ({_pct(y['pass_rate'])})"],
        ["failed traces", _num(y["failed"])],
        ["SFT set", _num(y["sft_records"])],
        ["DPO pairs", _num(y["dpo_pairs"])],
    ]
    reasons = stats.get("rejection_reasons", {}).get("by_reason", {})
    failed = max(1, y["failed"])
    reason_rows = [[reason, _num(n), _pct(n / failed)] for reason, n in reasons.items()]
    return [
        ("Data yield", ["", "value"], rows),
        ("Rejection reasons (a trace can have several)", ["reason", "traces", "share of failed"], reason_rows),
    ]


def training_table(out: Path) -> Table:
    rows = []
    for stage in ("sft", "dpo"):
        log = training_log(out / stage)
        if not log:
            rows.append([stage, "not run", "–", "–", "–", "–"])
            continue
        losses = _series(log, "loss")
        margins = _series(log, _margin_key(log))
        steps = max((e.get("step", 0) for e in log), default=0)
        rows.append(
            [
                stage,
                _num(steps),
                _float(losses[0][1] if losses else None),
                _float(losses[-1][1] if losses else None),
                _float(margins[0][1] if margins else None),
                _float(margins[-1][1] if margins else None),
            ]
        )
    headers = ["stage", "steps", "first loss", "last loss", "first reward margin", "last reward margin"]
    return ("Training", headers, rows)


def benchmark_runs(out: Path, stage: str) -> dict[str, Path]:
    """``{bench: run dir}`` of an evaluation stage's finished runs."""
    d = out / stage
    if not d.is_dir():
        return {}
    return {p.name: p for p in sorted(d.iterdir()) if (p / "summary.json").is_file()}


def benchmark_table(out: Path) -> Table:
    base, trained = benchmark_runs(out, "eval_base"), benchmark_runs(out, "eval_trained")
    rows = []
    for bench in dict.fromkeys([*base, *trained]):
        b = run_stats(base[bench]) if bench in base else None
        t = run_stats(trained[bench]) if bench in trained else None
        delta = None if b is None or t is None else t["accuracy"] - b["accuracy"]

        def cell(stats, key):
            return "–" if stats is None or stats[key] is None else f"{stats[key]:.2f}%"

        rows.append(
            [
                bench,
                _num((t or b)["n"]),
                cell(b, "accuracy"),
                cell(t, "accuracy"),
                "–" if delta is None else f"{delta:+.2f}",
                cell(b, "no_answer_rate"),
                cell(t, "no_answer_rate"),
                cell(t, "truncation_rate"),
            ]
        )
    headers = ["benchmark", "n", "base", "trained", "change (points)", "base no answer", "trained no answer"]
    return ("Benchmarks: accuracy before and after training", [*headers, "trained truncated"], rows)


def stage_table(rows: list[dict], out: Path) -> Table:
    cells = [
        [r["stage"], r["status"], "–" if r.get("seconds") is None else f"{r['seconds']:.0f} s", str(out / r["stage"])]
        for r in rows
    ]
    return ("Stages", ["stage", "status", "time", "output"], cells)


def plot_training(out: Path, out_png: Path) -> Path:
    """SFT loss, DPO loss and DPO reward margin per step."""
    plt = _pyplot()
    sft, dpo = training_log(out / "sft"), training_log(out / "dpo")
    panels = [("SFT loss", sft, "loss"), ("DPO loss", dpo, "loss"), ("DPO reward margin", dpo, _margin_key(dpo))]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, (title, log, key) in zip(axes, panels, strict=True):
        points = _series(log, key)
        if points:
            ax.plot([s for s, _ in points], [v for _, v in points], linewidth=1.2)
        else:
            ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    return _save(fig, plt, out_png)


def write_pipeline_report(config, stage_rows: list[dict]) -> Path:
    """Write ``OUT/report/{report.md, index.html, pipeline.json}`` and, with matplotlib, ``training.png`` and
    ``accuracy.png``; return the path of ``index.html``."""
    out = Path(config.output_dir)
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    tables = [stage_table(stage_rows, out), benchmark_table(out), training_table(out), *data_tables(out)]
    plots = []
    if is_available("matplotlib"):
        plots.append(plot_training(out, report / "training.png").name)
        runs = [*benchmark_runs(out, "eval_base").values(), *benchmark_runs(out, "eval_trained").values()]
        if runs:
            plots.append(plot_accuracy(runs, report / "accuracy.png").name)
    else:
        logger.warning("matplotlib is not installed (pip install 'redstar-geo[eval]'): the report has no plots")
    synthesis_page = out / "synthesize" / "report" / "index.html"
    link = os.path.relpath(synthesis_page, report) if synthesis_page.is_file() else None
    write_json(report / "pipeline.json", {"stages": stage_rows, "tables": [list(t) for t in tables]})

    md = ["# Pipeline report\n", f"Output directory: `{out}`\n"]
    for title, headers, rows in tables:
        md.append(f"## {title}\n\n{_markdown_table(headers, rows) if rows else '(none)'}")
    md += [f"![{Path(p).stem}]({p})\n" for p in plots]
    if link:
        md.append(f"Kept and rejected traces with their reasons: [synthesis report]({link})\n")
    write_text(report / "report.md", "\n".join(md))

    body = [f"<h1>Pipeline report</h1><p>Output directory: <code>{_esc(out)}</code></p>"]
    for title, headers, rows in tables:
        body.append(f"<h2>{_esc(title)}</h2>{_html_table(headers, rows) if rows else '<p>(none)</p>'}")
    body += [f'<p><img alt="{_esc(p)}" src="{_esc(p)}" style="max-width:100%"></p>' for p in plots]
    if link:
        body.append(f'<p>Kept and rejected traces with their reasons: <a href="{_esc(link)}">synthesis report</a></p>')
    page = report / "index.html"
    write_text(
        page,
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Pipeline report</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n",
    )
    return page
