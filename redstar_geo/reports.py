"""Reports of evaluation runs: markdown tables, a self-contained HTML page per run, and plots.

A run directory is what ``eval/run.py`` writes (``summary.json``, ``samples.jsonl``, ``config.json`` and, for model
runs, ``responses.jsonl``); :mod:`redstar_geo.run_dir` reads it. Usage::

    from redstar_geo.reports import markdown_table, write_reports
    from redstar_geo.run_dir import load_problems, load_responses

    print(markdown_table(["runs/qwen_geoqa", "runs/qwen_mathvista_geo"]))   # accuracy, no-answer, length, truncation
    write_reports("runs/qwen_geoqa", load_problems("runs/qwen_geoqa"), load_responses("runs/qwen_geoqa"))
    # -> runs/qwen_geoqa/report.html, report.md, accuracy.png, response_lengths.png

From the command line: ``python eval/report.py RUN_DIR [RUN_DIR ...] --out DIR``. The plots need matplotlib (the
``eval`` extra); the tables and the HTML page need nothing beyond Pillow.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from redstar_geo.images import ImageLoadError, image_data_uri
from redstar_geo.import_utils import is_available, require
from redstar_geo.jsonl import write_text
from redstar_geo.run_dir import SAMPLES, ScoredSample, load_samples, load_summary
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

# Diagrams are shown at most this size in the HTML page: large enough to read labels, small enough that a page of
# ~750 problems stays a few MB.
THUMBNAIL_PX = 384


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------
def run_name(run_dir: str | Path, summary: dict) -> str:
    """The model a run is labelled with: ``summary["model"]``, else the run directory's name."""
    return summary.get("model") or Path(run_dir).resolve().name


def run_stats(run_dir: str | Path) -> dict:
    """One row of :func:`markdown_table`: model, bench, protocol, n, accuracy, no-answer rate (percent), mean
    response length in characters and truncation rate (percent; None when the run does not record finish reasons,
    as for score-only runs)."""
    summary = load_summary(run_dir)
    samples = load_samples(run_dir)
    n = summary["n"]
    lengths = [s.response_chars for s in samples if s.response_chars is not None]
    mean_chars = summary.get("mean_response_chars")
    if mean_chars is None and lengths:
        mean_chars = sum(lengths) / len(lengths)
    # Score-only runs have no finish reasons: their truncation is unknown, not zero.
    truncated = None
    if any(s.finish_reason for s in samples):
        truncated = summary.get("truncated", sum(s.finish_reason == "length" for s in samples))
    return {
        "model": run_name(run_dir, summary),
        "bench": summary["bench"],
        "protocol": summary["protocol"],
        "n": n,
        "accuracy": summary["accuracy"],
        "no_answer_rate": round(100.0 * summary["no_answer"] / n, 2) if n else 0.0,
        "mean_response_chars": None if mean_chars is None else round(mean_chars, 1),
        "truncation_rate": None if truncated is None else round(100.0 * truncated / n, 2) if n else 0.0,
    }


def _cell(value, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def markdown_table(run_dirs) -> str:
    """A markdown table with one row per run (model × benchmark), in the order given."""
    lines = [
        "| model | bench | protocol | n | accuracy | no answer | mean response (chars) | truncated |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run_dir in run_dirs:
        r = run_stats(run_dir)
        chars = None if r["mean_response_chars"] is None else f"{r['mean_response_chars']:.0f}"
        lines.append(
            f"| {_md(r['model'])} | {r['bench']} | {r['protocol']} | {r['n']} | {_cell(r['accuracy'], '%')} "
            f"| {_cell(r['no_answer_rate'], '%')} | {_cell(chars)} | {_cell(r['truncation_rate'], '%')} |"
        )
    return "\n".join(lines) + "\n"


def breakdown_tables(summary: dict) -> str:
    """One markdown table per breakdown of a summary (language, origin, problem version, ...); "" when none."""
    parts = []
    for key, groups in summary.get("breakdowns", {}).items():
        lines = [
            f"### {summary['bench']} by {key}",
            "",
            f"| {key} | n | correct | accuracy |",
            "| --- | ---: | ---: | ---: |",
        ]
        for group, g in groups.items():
            lines.append(f"| {_md(group)} | {g['n']} | {g['correct']} | {g['accuracy']:.2f}% |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _md(text: str) -> str:
    # A "|" inside a cell (MathVerse subjects joined by "|") would split it.
    return str(text).replace("|", "\\|")


# ---------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.problem{border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;padding:.6em 1em;margin:1em 0}
.correct{border-left-color:#2a2}.wrong{border-left-color:#d33}.no_answer{border-left-color:#e90}
.missing,.error{border-left-color:#777}
.badge{font-weight:bold;padding:0 .4em;border-radius:3px;color:#fff;background:#777}
.correct .badge{background:#2a2}.wrong .badge{background:#d33}.no_answer .badge{background:#e90}
img{max-width:384px;max-height:384px;border:1px solid #eee}.imgerr{color:#b00;font-style:italic}
pre{white-space:pre-wrap;word-wrap:break-word;background:#f7f7f7;padding:.5em;max-height:40em;overflow:auto}
#filters button{margin-right:.3em}#filters button.on{font-weight:bold;background:#def}
"""
# Buttons set which statuses are shown; "failures" is everything that is not correct.
_JS = """
function show(which,btn){
  document.querySelectorAll('#filters button').forEach(b=>b.classList.toggle('on',b===btn));
  document.querySelectorAll('.problem').forEach(p=>{
    const s=p.dataset.status;
    p.style.display=(which==='all'||which===s||(which==='failures'&&s!=='correct'))?'':'none';
  });
}
"""
_FILTERS = (
    ("all", "all"),
    ("failures", "failures"),
    ("wrong", "wrong"),
    ("no_answer", "no answer"),
    ("correct", "correct"),
)


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _problem_html(problem: Problem, sample: ScoredSample | None, response: str | None) -> str:
    status = sample.status if sample else "missing"
    parts = [f'<div class="problem {status}" data-status="{status}" id="p-{_esc(problem.id)}">']
    parts.append(f'<h3>{_esc(problem.id)} <span class="badge">{_esc(status.replace("_", " "))}</span></h3>')
    if problem.image is None:
        parts.append('<p class="imgerr">no image</p>')
    else:
        try:
            uri = image_data_uri(problem.load_image(), THUMBNAIL_PX)
            parts.append(f'<img alt="diagram of {_esc(problem.id)}" src="{uri}">')
        except ImageLoadError as exc:
            parts.append(f'<p class="imgerr">image could not be loaded: {_esc(exc)}</p>')
    parts.append(f"<p>{_esc(problem.question)}</p>")
    if problem.choices:
        items = "".join(
            f"<li>{letter}. {_esc(c)}</li>" for letter, c in zip(problem.letters, problem.choices, strict=True)
        )
        parts.append(f'<ul style="list-style:none">{items}</ul>')
    gold = " ".join(x for x in (problem.answer_letter, problem.gold_value) if x)
    extracted = sample.extracted if sample else None
    parts.append(f"<p><b>extracted:</b> {_esc(extracted) or '<i>none</i>'} &nbsp; <b>gold:</b> {_esc(gold)}</p>")
    reason = sample.reason if sample else f"no sample for this id in {SAMPLES}"
    method = f" ({_esc(sample.method)})" if sample and sample.method else ""
    finish = f"; finish reason {_esc(sample.finish_reason)}" if sample and sample.finish_reason else ""
    parts.append(f"<p><b>verdict:</b> {_esc(status)}{method}: {_esc(reason)}{finish}</p>")
    if response is not None:
        toggle = f"<summary>reasoning ({len(response)} chars)</summary>"
        parts.append(f"<details>{toggle}<pre>{_esc(response)}</pre></details>")
    parts.append("</div>")
    return "\n".join(parts)


def _summary_html(summary: dict, name: str) -> str:
    keys = ("correct", "wrong", "no_answer", "missing", "errors")
    counts = " · ".join(f"{k.replace('_', ' ')} {summary[k]}" for k in keys if k in summary)
    extra = f" · truncated {summary['truncated']}" if summary.get("truncated") is not None else ""
    parts = [
        f"<h1>{_esc(name)} on {_esc(summary['bench'])} ({_esc(summary['protocol'])} protocol)</h1>",
        f"<p><b>accuracy {summary['accuracy']:.2f}%</b> of {summary['n']} · {_esc(counts)}{_esc(extra)}</p>",
    ]
    for key, groups in summary.get("breakdowns", {}).items():
        rows = "".join(
            f"<tr><td>{_esc(g)}</td><td>{v['n']}</td><td>{v['correct']}</td><td>{v['accuracy']:.2f}%</td></tr>"
            for g, v in groups.items()
        )
        parts.append(f"<table><tr><th>{_esc(key)}</th><th>n</th><th>correct</th><th>accuracy</th></tr>{rows}</table>")
    return "\n".join(parts)


def write_html_report(run_dir: str | Path, problems: list[Problem], responses: dict[str, str]) -> Path:
    """Write ``run_dir/report.html``: one self-contained page (inline CSS/JS, diagrams as data URIs) with the summary
    and, per problem, the diagram, question, choices, full reasoning, extracted answer, gold and verdict; buttons
    filter it to all / failures / wrong / no answer / correct. Returns the path."""
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    samples = {s.id: s for s in load_samples(run_dir)}
    buttons = "".join(
        f'<button data-filter="{key}" onclick="show(\'{key}\',this)"{" class=on" if key == "all" else ""}>'
        f"{label}</button>"
        for key, label in _FILTERS
    )
    body = "\n".join(_problem_html(p, samples.get(p.id), responses.get(p.id)) for p in problems)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(run_name(run_dir, summary))} · {_esc(summary['bench'])}</title>"
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>\n"
        f"{_summary_html(summary, run_name(run_dir, summary))}\n"
        f'<div id="filters">show: {buttons}</div>\n{body}\n</body></html>\n'
    )
    out = run_dir / "report.html"
    write_text(out, page)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------
def _pyplot():
    matplotlib = require("matplotlib", extra="eval", feature="plots")
    matplotlib.use("Agg")  # no display: the plots are files
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(run_dirs, out_png: str | Path) -> Path:
    """Accuracy by benchmark, one bar per model in each benchmark's group; writes and returns ``out_png``."""
    plt = _pyplot()
    stats = [run_stats(d) for d in run_dirs]
    benches = list(dict.fromkeys(s["bench"] for s in stats))
    models = list(dict.fromkeys(s["model"] for s in stats))
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + 1.6 * len(benches)), 3.6))
    for i, model in enumerate(models):
        xs, ys = [], []
        for j, bench in enumerate(benches):
            acc = next((s["accuracy"] for s in stats if s["model"] == model and s["bench"] == bench), None)
            if acc is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(acc)
        bars = ax.bar(xs, ys, width, label=model)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(benches)), benches)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, plt, out_png)


def plot_response_lengths(run_dir_or_dirs, out_png: str | Path, unit: str = "chars") -> Path:
    """Histogram of response lengths (``unit`` "chars", or "tokens" for model runs that record them), one series per
    run; writes and returns ``out_png``."""
    if unit not in ("chars", "tokens"):
        raise ValueError(f"unit must be 'chars' or 'tokens', got {unit!r}")
    plt = _pyplot()
    run_dirs = [run_dir_or_dirs] if isinstance(run_dir_or_dirs, (str, Path)) else list(run_dir_or_dirs)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for run_dir in run_dirs:
        summary = load_summary(run_dir)
        lengths = [n for s in load_samples(run_dir) if (n := getattr(s, f"response_{unit}")) is not None]
        if lengths:
            ax.hist(lengths, bins=40, alpha=0.6, label=f"{run_name(run_dir, summary)} · {summary['bench']}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, f"no response lengths in {unit}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(f"response length ({unit})")
    ax.set_ylabel("responses")
    return _save(fig, plt, out_png)


def _save(fig, plt, out_png) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


# ---------------------------------------------------------------------------------------------------------------
# Everything for one run
# ---------------------------------------------------------------------------------------------------------------
def write_reports(run_dir: str | Path, problems: list[Problem], responses: dict[str, str]) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` (the run's table and breakdowns), ``accuracy.png`` and
    ``response_lengths.png`` into ``run_dir`` (the plots only where matplotlib is installed); returns their paths
    by kind."""
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    md = run_dir / "report.md"
    write_text(md, markdown_table([run_dir]) + "\n" + breakdown_tables(summary))
    paths = {"html": write_html_report(run_dir, problems, responses), "markdown": md}
    # An evaluation must not fail at its last step because the optional plotting extra is missing.
    if not is_available("matplotlib"):
        logger.warning("matplotlib is not installed (pip install 'redstar-geo[eval]'): %s has no plots", run_dir)
        return paths
    paths["accuracy"] = plot_accuracy([run_dir], run_dir / "accuracy.png")
    paths["lengths"] = plot_response_lengths(run_dir, run_dir / "response_lengths.png")
    return paths


__all__ = [
    "breakdown_tables",
    "markdown_table",
    "plot_accuracy",
    "plot_response_lengths",
    "run_name",
    "run_stats",
    "write_html_report",
    "write_reports",
]
