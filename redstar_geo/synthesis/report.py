"""The synthesis report: what the teacher produced, what verification kept and why it rejected the rest.

Usage::

    from redstar_geo.synthesis.report import confusion_table, synthesis_stats, write_synthesis_report

    stats = synthesis_stats(problems, samples, statuses, sft_records, pairs, decontam)
    stats["yield"]["pass_rate"]                 # verified share of the traces (errored samples are no traces)
    confusion_table(samples)["repetition_loop"]  # {"n", "rejected", "kept", "rejected_share", ...} (offline teacher)
    write_synthesis_report("synth/run1/report", problems, samples, statuses, sft_records, pairs, decontam)
    # -> stats.json, report.md, index.html (browse kept / rejected traces by reason), lengths.png, pass_rate.png

Inputs are what the synthesis stage produces: ``samples`` (one dict per teacher sample: ``problem_id``, ``sample``,
``text``, ``reasoning``, ``finish_reason``, ``n_tokens``, ``latency_s``, ``error``, ``reasons``, ``planted``, ...),
``problems`` (id -> :class:`~redstar_geo.schema.Problem`), ``statuses`` (one dict per problem: ``n_samples``,
``stop``, ...), the SFT records and DPO pairs, and the decontamination result (``None``, or the pair
``(decontamination_summary(...), dropped records)`` from :mod:`redstar_geo.decontam`).

A sample is *verified* (kept) when it has no error and no reason codes, *failed* (rejected) when it has no error but
some reason, and *errored* when the teacher server failed past its retries: errored samples are spend, never traces,
so no rate here counts them. Rates in ``stats.json`` are fractions (0-1); the markdown and HTML show percents. The
plots need matplotlib (the ``eval`` extra); without it the report is written without them.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redstar_geo.import_utils import is_available
from redstar_geo.jsonl import write_json, write_text
from redstar_geo.reports import _CSS, _esc, _md, _pyplot, _save
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

# The failure kinds the offline teacher plants, in the order the confusion table lists them ("good" comes first).
PLANTED_KINDS = (
    "wrong_answer",
    "arithmetic_slip",
    "repetition_loop",
    "language_switch",
    "no_final_answer",
    "truncated",
    "wrong_format",
)
GOOD = "good"
# The verifier's acceptance bar: it removes at least this share of every planted bad kind and keeps this share of
# the good traces.
TARGET_SHARE = 0.99
UNKNOWN = "unknown"
# Dropped decontamination records listed in stats.json and report.md; the synthesis stage keeps the full list.
DECONTAM_EXAMPLES = 20
# A trace longer than this is shown as its head and tail in the HTML page: a repetition loop can run to 100k
# characters, and the end (where the answer is, or is not) matters as much as the start.
SHOWN_HEAD_CHARS = 12_000
SHOWN_TAIL_CHARS = 4_000


# ---------------------------------------------------------------------------------------------------------------
# One sample
# ---------------------------------------------------------------------------------------------------------------
def sample_status(sample: dict) -> str:
    """``"errored"`` (server failure), ``"kept"`` (verified) or ``"rejected"`` (failed verification)."""
    if sample.get("error"):
        return "errored"
    return "rejected" if sample.get("reasons") else "kept"


def trace_chars(sample: dict) -> int:
    """The trace's length in characters: the text plus any thinking a server returned apart from it."""
    return len(sample.get("text") or "") + len(sample.get("reasoning") or "")


def _error_kind(error: str) -> str:
    # "HTTP 500: upstream overloaded" -> "HTTP 500": the kind, without the message that differs every time.
    return str(error).split(":", 1)[0].strip()[:80] or "error"


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {"n": 0, "mean": None, "median": None, "p90": None, "min": None, "max": None}
    ordered = sorted(lengths)
    return {
        "n": len(ordered),
        "mean": _mean(ordered),
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "min": ordered[0],
        "max": ordered[-1],
    }


def _sorted_counts(counter: Counter) -> dict:
    """Most frequent first, ties by name, so the tables and stats.json read the same on every run."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------
def confusion_table(samples: Iterable[dict]) -> dict[str, dict]:
    """Verifier verdicts per planted label, the check that it removes bad traces and keeps good ones.

    Only the offline teacher plants labels: ``{}`` when no sample has one. Otherwise one row per label present,
    ``"good"`` (no label) first, then the failure kinds in :data:`PLANTED_KINDS` order (unknown kinds after, by
    name): ``{"n", "rejected", "kept", "rejected_share", "kept_share", "meets_target", "reasons": {code: count}}``.
    ``meets_target`` is ``kept_share >= TARGET_SHARE`` for good traces and ``rejected_share >= TARGET_SHARE`` for the
    planted failures. Errored samples are left out: they were never verified.
    """
    traces = [s for s in samples if sample_status(s) != "errored"]
    if not any(s.get("planted") for s in traces):
        return {}
    rows: dict[str, dict] = {}
    for s in traces:
        label = s.get("planted") or GOOD
        row = rows.setdefault(label, {"n": 0, "rejected": 0, "kept": 0, "reasons": Counter()})
        row["n"] += 1
        reasons = s.get("reasons") or []
        row["rejected" if reasons else "kept"] += 1
        row["reasons"].update(reasons)
    order = [GOOD, *PLANTED_KINDS, *sorted(set(rows) - {GOOD, *PLANTED_KINDS})]
    table = {}
    for label in order:
        if label not in rows:
            continue
        row = rows[label]
        rejected_share, kept_share = _rate(row["rejected"], row["n"]), _rate(row["kept"], row["n"])
        table[label] = {
            "n": row["n"],
            "rejected": row["rejected"],
            "kept": row["kept"],
            "rejected_share": rejected_share,
            "kept_share": kept_share,
            "meets_target": (kept_share if label == GOOD else rejected_share) >= TARGET_SHARE,
            "reasons": _sorted_counts(row["reasons"]),
        }
    return table


def _problem_groups(problem: Problem | None) -> dict[str, str]:
    """The groups a problem's pass rate is reported under; problems from other sources than GeoSynth have no family
    or difficulty, and a sample whose problem is unknown has no language either."""
    if problem is None:
        return {"difficulty": UNKNOWN, "family": UNKNOWN, "language": UNKNOWN}
    return {
        "difficulty": str(problem.metadata.get("difficulty", UNKNOWN)),
        "family": str(problem.metadata.get("family", UNKNOWN)),
        "language": problem.language,
    }


def _group_order(key: str, group: str):
    # Difficulty levels in numeric order (10 after 9); "unknown" last everywhere.
    if group == UNKNOWN:
        return (2, 0, "")
    if key == "difficulty" and group.lstrip("-").isdigit():
        return (0, int(group), "")
    return (1, 0, group)


def _pass_rates(problems: dict[str, Problem], samples: list[dict]) -> dict[str, dict]:
    """Per grouping (difficulty, family, language) and group: problems, traces, verified, pass rate and problems
    with at least one verified trace."""
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for s in samples:
        by_problem[str(s.get("problem_id"))].append(s)
    ids = list(dict.fromkeys([*problems, *by_problem]))
    result = {}
    for key in ("difficulty", "family", "language"):
        groups: dict[str, dict] = {}
        for pid in ids:
            group = _problem_groups(problems.get(pid))[key]
            g = groups.setdefault(group, {"problems": 0, "traces": 0, "verified": 0, "problems_with_verified": 0})
            statuses = [sample_status(s) for s in by_problem.get(pid, [])]
            g["problems"] += 1
            g["traces"] += sum(st != "errored" for st in statuses)
            g["verified"] += statuses.count("kept")
            g["problems_with_verified"] += "kept" in statuses
        for g in groups.values():
            g["pass_rate"] = _rate(g["verified"], g["traces"])
        result[key] = {k: groups[k] for k in sorted(groups, key=lambda k, key=key: _group_order(key, k))}
    return result


def _dpo_length_gap(pairs: list[dict]) -> dict:
    """Mean chosen chars minus mean rejected chars, overall and per rejected reason.

    A large gap of one sign teaches DPO a length preference rather than correctness (rejected repetition loops and
    truncations are long, so "shorter wins"); the per-reason rows show which negatives cause it.
    """

    def gap(selected: list[dict]) -> dict:
        chosen = _mean([len(p.get("chosen") or "") for p in selected])
        rejected = _mean([len(p.get("rejected") or "") for p in selected])
        diff = None if chosen is None else round(chosen - rejected, 1)
        return {
            "pairs": len(selected),
            "mean_chosen_chars": chosen,
            "mean_rejected_chars": rejected,
            "gap_chars": diff,
        }

    by_reason: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        for reason in dict.fromkeys(p.get("rejected_reasons") or []):
            by_reason[reason].append(p)
    reasons = sorted(by_reason, key=lambda r: (-len(by_reason[r]), r))
    return {**gap(pairs), "by_reason": {r: gap(by_reason[r]) for r in reasons}}


def _decontam_parts(decontam) -> tuple[dict | None, list[dict]]:
    """``(summary, dropped records)``: None, or the pair from :mod:`redstar_geo.decontam`
    (``decontamination_summary(dropped, n)``, ``dropped``)."""
    if decontam is None:
        return None, []
    summary, dropped = decontam
    return dict(summary or {}), list(dropped or [])


def synthesis_stats(
    problems: dict[str, Problem],
    samples: list[dict],
    statuses: list[dict],
    sft: list[dict],
    pairs: list[dict],
    decontam=None,
) -> dict[str, Any]:
    """Everything the report shows, machine-readable (what ``stats.json`` holds):

    ``yield`` (samples, traces, verified, failed, errors, pass rate, problems with a verified trace, SFT and DPO
    sizes), ``pass_rate`` by difficulty / family / language, ``rejection_reasons`` (failed traces per reason code,
    and how many have several), ``spend`` (samples, tokens, summed latency, errors by kind, finish reasons,
    teachers), ``samples_per_problem`` and ``stop_reasons`` (from ``statuses``), ``lengths`` (trace chars, kept vs
    rejected), ``dpo_length_gap``, ``confusion`` (:func:`confusion_table`, None without planted labels) and
    ``decontamination`` (None when not run).
    """
    statuses_of = [sample_status(s) for s in samples]
    n_verified = statuses_of.count("kept")
    n_failed = statuses_of.count("rejected")
    n_errors = statuses_of.count("errored")
    sampled = {str(s.get("problem_id")) for s in samples}
    with_verified = {str(s.get("problem_id")) for s, st in zip(samples, statuses_of, strict=True) if st == "kept"}
    n_problems = len(set(problems) | sampled)

    failed = [s for s, st in zip(samples, statuses_of, strict=True) if st == "rejected"]
    reason_counts = Counter(r for s in failed for r in dict.fromkeys(s["reasons"]))
    tokens = [s["n_tokens"] for s in samples if s.get("n_tokens") is not None]
    latency = [s["latency_s"] for s in samples if s.get("latency_s") is not None]
    errors = Counter(_error_kind(s["error"]) for s, st in zip(samples, statuses_of, strict=True) if st == "errored")
    per_problem = [st["n_samples"] for st in statuses if st.get("n_samples") is not None]

    summary, dropped = _decontam_parts(decontam)
    confusion = confusion_table(samples)
    return {
        "yield": {
            "problems": n_problems,
            "problems_sampled": len(sampled),
            "problems_with_verified": len(with_verified),
            "problem_yield": _rate(len(with_verified), n_problems),
            "samples": len(samples),
            "traces": n_verified + n_failed,
            "verified": n_verified,
            "failed": n_failed,
            "errors": n_errors,
            "pass_rate": _rate(n_verified, n_verified + n_failed),
            "sft_records": len(sft),
            "dpo_pairs": len(pairs),
        },
        "pass_rate": _pass_rates(problems, samples),
        "rejection_reasons": {
            "failed": n_failed,
            "by_reason": _sorted_counts(reason_counts),
            "several_reasons": sum(len(set(s["reasons"])) > 1 for s in failed),
        },
        "spend": {
            "samples": len(samples),
            "tokens": sum(tokens),
            "samples_without_token_count": len(samples) - len(tokens),
            "tokens_per_verified": round(sum(tokens) / n_verified, 1) if n_verified else None,
            "latency_s": round(sum(latency), 2),
            "errors": n_errors,
            "errors_by_kind": _sorted_counts(errors),
            "finish_reasons": _sorted_counts(Counter(str(s.get("finish_reason")) for s in samples)),
            "teachers": _sorted_counts(Counter(str(s.get("teacher")) for s in samples)),
        },
        "samples_per_problem": {
            "distribution": {str(k): v for k, v in sorted(Counter(per_problem).items())},
            "mean": _mean(per_problem),
            "min": min(per_problem, default=None),
            "max": max(per_problem, default=None),
        },
        "stop_reasons": _sorted_counts(Counter(str(st.get("stop")) for st in statuses)),
        "lengths": {
            "kept": _length_stats(
                [trace_chars(s) for s, st in zip(samples, statuses_of, strict=True) if st == "kept"]
            ),
            "rejected": _length_stats([trace_chars(s) for s in failed]),
        },
        "dpo_length_gap": _dpo_length_gap(pairs),
        "confusion": confusion or None,
        "decontamination": None
        if summary is None
        else {**summary, "dropped_listed": len(dropped), "dropped_examples": dropped[:DECONTAM_EXAMPLES]},
    }


# ---------------------------------------------------------------------------------------------------------------
# Tables: built once, rendered as markdown and as HTML
# ---------------------------------------------------------------------------------------------------------------
def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def _num(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def _key_values(rows: list[tuple[str, Any]]) -> tuple[list[str], list[list[str]]]:
    return ["", "value"], [[label, value if isinstance(value, str) else _num(value)] for label, value in rows]


def _tables(stats: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, headers, rows)`` of every table of the report, cells already formatted, in reading order."""
    y = stats["yield"]
    tables = [
        (
            "Yield",
            *_key_values(
                [
                    ("problems", y["problems"]),
                    (
                        "problems with ≥1 verified trace",
                        f"{y['problems_with_verified']:,} ({_pct(y['problem_yield'])})",
                    ),
                    ("samples", y["samples"]),
                    ("traces (verified + failed)", y["traces"]),
                    ("verified", f"{y['verified']:,} ({_pct(y['pass_rate'])} of traces)"),
                    ("failed", y["failed"]),
                    ("errored (server failures, no trace)", y["errors"]),
                    ("SFT set", y["sft_records"]),
                    ("DPO pairs", y["dpo_pairs"]),
                ]
            ),
        )
    ]
    for key, groups in stats["pass_rate"].items():
        rows = [
            [group, _num(g["problems"]), _num(g["traces"]), _num(g["verified"]), _pct(g["pass_rate"])]
            + [_num(g["problems_with_verified"])]
            for group, g in groups.items()
        ]
        headers = [key, "problems", "traces", "verified", "pass rate", "problems with ≥1 verified"]
        tables.append((f"Pass rate by {key}", headers, rows))

    rr = stats["rejection_reasons"]
    rows = [[code, _num(n), _pct(_rate(n, rr["failed"]))] for code, n in rr["by_reason"].items()]
    rows.append(
        [
            "(traces with several reasons)",
            _num(rr["several_reasons"]),
            _pct(_rate(rr["several_reasons"], rr["failed"])),
        ]
    )
    tables.append(("Rejection reasons", ["reason", "failed traces", "share of failed"], rows))

    sp = stats["spend"]
    tables.append(
        (
            "Teacher spend",
            *_key_values(
                [
                    ("samples", sp["samples"]),
                    ("tokens", sp["tokens"]),
                    ("samples without a token count", sp["samples_without_token_count"]),
                    ("tokens per verified trace", sp["tokens_per_verified"]),
                    ("summed latency (s)", sp["latency_s"]),
                    ("errors", sp["errors"]),
                    ("teachers", ", ".join(f"{k} {v:,}" for k, v in sp["teachers"].items()) or "–"),
                    ("finish reasons", ", ".join(f"{k} {v:,}" for k, v in sp["finish_reasons"].items()) or "–"),
                ]
            ),
        )
    )
    if sp["errors_by_kind"]:
        tables.append(
            ("Errors by kind", ["error", "samples"], [[k, _num(v)] for k, v in sp["errors_by_kind"].items()])
        )

    spp = stats["samples_per_problem"]
    rows = [[k, _num(v)] for k, v in spp["distribution"].items()]
    title = f"Samples per problem (mean {_num(spp['mean'])})"
    tables.append((title, ["samples", "problems"], rows))
    tables.append(("Stop reasons", ["stop", "problems"], [[k, _num(v)] for k, v in stats["stop_reasons"].items()]))

    length_keys = ("n", "mean", "median", "p90", "min", "max")
    rows = [[name, *(_num(s[k]) for k in length_keys)] for name, s in stats["lengths"].items()]
    tables.append(("Trace length (chars)", ["traces", *length_keys], rows))

    if stats["confusion"]:
        rows = [
            [
                label,
                _num(r["n"]),
                _num(r["kept"]),
                _num(r["rejected"]),
                _pct(r["kept_share"]),
                _pct(r["rejected_share"]),
            ]
            + ["yes" if r["meets_target"] else "NO", ", ".join(f"{k} {v}" for k, v in r["reasons"].items())]
            for label, r in stats["confusion"].items()
        ]
        headers = [
            "planted",
            "n",
            "kept",
            "rejected",
            "kept %",
            "rejected %",
            f"meets {_pct(TARGET_SHARE)}",
            "reasons",
        ]
        tables.append(("Verifier vs planted labels", headers, rows))

    gap = stats["dpo_length_gap"]
    gap_keys = ("pairs", "mean_chosen_chars", "mean_rejected_chars", "gap_chars")
    rows = [["(all pairs)", *(_num(gap[k]) for k in gap_keys)]]
    rows += [[reason, *(_num(g[k]) for k in gap_keys)] for reason, g in gap["by_reason"].items()]
    headers = ["rejected reason", "pairs", "mean chosen", "mean rejected", "gap (chosen − rejected)"]
    tables.append(("DPO length gap (chars)", headers, rows))

    dc = stats["decontamination"]
    if dc is None:
        tables.append(("Decontamination", *_key_values([("status", "not run")])))
    else:
        tables.append(
            (
                "Decontamination",
                *_key_values([("problems checked", dc.get("total")), ("dropped", dc.get("dropped"))]),
            )
        )
        for key in ("by_benchmark", "by_kind"):
            if dc.get(key):
                name = key.removeprefix("by_")
                tables.append((f"Dropped by {name}", [name, "dropped"], [[k, _num(v)] for k, v in dc[key].items()]))
        if dc["dropped_examples"]:
            fields = ("id", "source", "matched_benchmark", "matched_id", "by", "distance")
            rows = [[_num(d.get(f)) for f in fields] for d in dc["dropped_examples"]]
            tables.append((f"Dropped records (first {DECONTAM_EXAMPLES})", list(fields), rows))
    return tables


_NUMERIC_CELL = re.compile(r"–|-?[\d,]+(\.\d+)?%?( \(.*\))?")


def _numeric_columns(headers: list[str], rows: list[list[str]]) -> list[bool]:
    """Which columns hold only numbers (right-aligned); the first column and text columns (reason lists, ids) are
    left-aligned."""
    return [i > 0 and all(_NUMERIC_CELL.fullmatch(row[i]) for row in rows) for i in range(len(headers))]


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    numeric = _numeric_columns(headers, rows)
    lines = [
        "| " + " | ".join(_md(h) for h in headers) + " |",
        "| " + " | ".join("---:" if right else "---" for right in numeric) + " |",
    ]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    # reports' CSS right-aligns every cell but the first: text columns are set back to the left.
    style = [
        "" if right or i == 0 else ' style="text-align:left"'
        for i, right in enumerate(_numeric_columns(headers, rows))
    ]
    head = "".join(f"<th{style[i]}>{_esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{style[i]}>{_esc(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def synthesis_markdown(stats: dict, plots: Iterable[str] = ()) -> str:
    """The report as markdown: every table of :func:`_tables`, then the plots (file names next to report.md)."""
    parts = ["# Synthesis report\n"]
    for title, headers, rows in _tables(stats):
        parts.append(f"## {title}\n\n{_markdown_table(headers, rows)}")
    for name in plots:
        parts.append(f"![{Path(name).stem}]({name})\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------
def plot_lengths(samples: list[dict], out_png: str | Path) -> Path:
    """Histogram of trace lengths (chars), kept vs rejected, on shared bins; writes and returns ``out_png``."""
    plt = _pyplot()
    kept = [trace_chars(s) for s in samples if sample_status(s) == "kept"]
    rejected = [trace_chars(s) for s in samples if sample_status(s) == "rejected"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if kept or rejected:
        top = max(kept + rejected)
        bins = [top * i / 40 for i in range(41)] if top else 10
        for lengths, label, color in ((kept, "kept", "#2a2"), (rejected, "rejected", "#d33")):
            if lengths:
                ax.hist(lengths, bins=bins, alpha=0.6, label=f"{label} ({len(lengths)})", color=color)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no traces", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("trace length (chars)")
    ax.set_ylabel("traces")
    return _save(fig, plt, out_png)


def plot_pass_rate(stats: dict, out_png: str | Path) -> Path:
    """Pass rate (%) of the traces by difficulty level, bars labelled with their trace counts; writes ``out_png``."""
    plt = _pyplot()
    groups = {k: g for k, g in stats["pass_rate"]["difficulty"].items() if g["traces"]}
    fig, ax = plt.subplots(figsize=(max(4.0, 1.5 + 0.6 * len(groups)), 3.6))
    if groups:
        bars = ax.bar(list(groups), [100 * g["pass_rate"] for g in groups.values()], color="#48c")
        ax.bar_label(bars, labels=[f"n={g['traces']}" for g in groups.values()], fontsize=7)
    else:
        ax.text(0.5, 0.5, "no traces", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("difficulty")
    ax.set_ylabel("pass rate (%)")
    ax.set_ylim(0, 110)
    return _save(fig, plt, out_png)


# ---------------------------------------------------------------------------------------------------------------
# HTML: tables, plots and a trace browser
# ---------------------------------------------------------------------------------------------------------------
_TRACE_CSS = """
.trace{border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;padding:.4em 1em;margin:.8em 0}
.trace h3{margin:.2em 0;font-size:1em}.trace .meta{color:#555;font-size:.9em;margin:.2em 0}
.kept{border-left-color:#2a2}.rejected{border-left-color:#d33}.errored{border-left-color:#777}
.badge{font-weight:bold;padding:0 .4em;border-radius:3px;color:#fff;background:#777}
.kept .badge{background:#2a2}.rejected .badge{background:#d33}
code.reason{background:#fde;border-radius:3px;padding:0 .3em;margin-left:.3em}
.errmsg{color:#b00}.plots img{max-width:48%;margin-right:1%}
"""
# A button filters by status (kept / rejected / errored) or by one reason code; values travel in data attributes,
# so no trace text or code is ever spliced into the script.
_TRACE_JS = """
function show(btn){
  const kind=btn.dataset.kind, value=btn.dataset.value;
  document.querySelectorAll('#filters button').forEach(b=>b.classList.toggle('on',b===btn));
  document.querySelectorAll('.trace').forEach(t=>{
    const ok=kind==='all'||(kind==='status'&&t.dataset.status===value)
      ||(kind==='reason'&&t.dataset.reasons.split(' ').includes(value));
    t.style.display=ok?'':'none';
  });
}
"""


def _shown_text(text: str) -> str:
    if len(text) <= SHOWN_HEAD_CHARS + SHOWN_TAIL_CHARS:
        return text
    omitted = len(text) - SHOWN_HEAD_CHARS - SHOWN_TAIL_CHARS
    return f"{text[:SHOWN_HEAD_CHARS]}\n\n[… {omitted:,} characters not shown …]\n\n{text[-SHOWN_TAIL_CHARS:]}"


def _trace_html(sample: dict, problem: Problem | None) -> str:
    status = sample_status(sample)
    reasons = list(dict.fromkeys(sample.get("reasons") or []))
    pid = str(sample.get("problem_id"))
    parts = [
        f'<div class="trace {status}" data-status="{status}" data-reasons="{_esc(" ".join(reasons))}" '
        f'id="t-{_esc(pid)}-{_esc(sample.get("sample"))}">',
        f'<h3>{_esc(pid)} · sample {_esc(sample.get("sample"))} <span class="badge">{status}</span>'
        + "".join(f'<code class="reason">{_esc(r)}</code>' for r in reasons)
        + "</h3>",
    ]
    meta = [
        f"teacher {sample.get('teacher')}",
        f"round {sample.get('round')}",
        f"finish {sample.get('finish_reason')}",
        f"{trace_chars(sample):,} chars",
    ]
    if sample.get("n_tokens") is not None:
        meta.append(f"{sample['n_tokens']:,} tokens")
    if sample.get("latency_s") is not None:
        meta.append(f"{sample['latency_s']:.1f} s")
    if sample.get("planted"):
        meta.append(f"planted: {sample['planted']}")
    if problem is not None and problem.has_gold:
        meta.append(f"gold: {problem.gold_answer()}")
    parts.append(f'<p class="meta">{_esc(" · ".join(meta))}</p>')
    if sample.get("error"):
        parts.append(f'<p class="errmsg">{_esc(sample["error"])}</p>')
    if problem is not None:
        choices = "".join(
            f"<li>{letter}. {_esc(c)}</li>" for letter, c in zip(problem.letters, problem.choices, strict=True)
        )
        question = f"<p>{_esc(problem.question)}</p>" + (f"<ul>{choices}</ul>" if choices else "")
        parts.append(f"<details><summary>question</summary>{question}</details>")
    for name in ("reasoning", "text"):
        text = sample.get(name)
        if text:
            label = "thinking (returned apart)" if name == "reasoning" else "trace"
            summary = f"<summary>{label} ({len(text):,} chars)</summary>"
            parts.append(f"<details>{summary}<pre>{_esc(_shown_text(text))}</pre></details>")
    parts.append("</div>")
    return "\n".join(parts)


def _selected_examples(samples: list[dict], max_examples: int) -> tuple[list[int], Counter, Counter]:
    """Indices of the samples the page shows (at most ``max_examples`` per status and per reason code, in their
    order), with the full counts per status and per reason for the buttons."""
    by_status, by_reason = Counter(), Counter()
    shown_status, shown_reason = Counter(), Counter()
    chosen = []
    for i, s in enumerate(samples):
        status = sample_status(s)
        reasons = list(dict.fromkeys(s.get("reasons") or [])) if status == "rejected" else []
        by_status[status] += 1
        by_reason.update(reasons)
        # A rejected trace is shown for its reasons (each capped), so a rare reason is never crowded out by
        # the common ones; kept and errored samples are capped by status.
        wanted = [r for r in reasons if shown_reason[r] < max_examples] if reasons else []
        take = bool(wanted) if reasons else shown_status[status] < max_examples
        if take:
            chosen.append(i)
            shown_status[status] += 1
            shown_reason.update(wanted)
    return chosen, by_status, by_reason


def synthesis_html(
    stats: dict, problems: dict[str, Problem], samples: list[dict], plots: Iterable[str] = (), max_examples: int = 50
) -> str:
    """The self-contained page: the tables, the plots (linked files next to the page) and the traces, filterable
    by status and reason; every text is escaped."""
    chosen, by_status, by_reason = _selected_examples(samples, max_examples)
    buttons = ['<button class="on" data-kind="all" data-value="" onclick="show(this)">all</button>']
    buttons += [
        f'<button data-kind="status" data-value="{st}" onclick="show(this)">{st} ({by_status[st]:,})</button>'
        for st in ("kept", "rejected", "errored")
        if by_status[st]
    ]
    buttons += [
        f'<button data-kind="reason" data-value="{_esc(r)}" onclick="show(this)">{_esc(r)} ({n:,})</button>'
        for r, n in _sorted_counts(by_reason).items()
    ]
    y = stats["yield"]
    headline = (
        f"<p><b>{y['verified']:,} verified of {y['traces']:,} traces ({_pct(y['pass_rate'])})</b> · "
        f"{y['problems_with_verified']:,} of {y['problems']:,} problems with a verified trace · "
        f"SFT {y['sft_records']:,} · DPO pairs {y['dpo_pairs']:,} · errored samples {y['errors']:,}</p>"
    )
    tables = "\n".join(f"<h2>{_esc(t)}</h2>{_html_table(h, r)}" for t, h, r in _tables(stats))
    images = "".join(f'<a href="{_esc(p)}"><img alt="{_esc(p)}" src="{_esc(p)}"></a>' for p in plots)
    traces = "\n".join(_trace_html(samples[i], problems.get(str(samples[i].get("problem_id")))) for i in chosen)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Synthesis report</title>'
        f"<style>{_CSS}{_TRACE_CSS}</style><script>{_TRACE_JS}</script></head><body>\n"
        f"<h1>Synthesis report</h1>\n{headline}\n"
        + (f'<div class="plots">{images}</div>\n' if images else "")
        + f"{tables}\n<h2>Traces</h2>\n"
        f"<p>{len(chosen):,} of {len(samples):,} samples shown: at most {max_examples} kept, {max_examples} errored "
        f"and {max_examples} per rejection reason.</p>\n"
        f'<div id="filters">show: {"".join(buttons)}</div>\n{traces}\n</body></html>\n'
    )


# ---------------------------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------------------------
def write_synthesis_report(
    out_dir: str | Path,
    problems: dict[str, Problem],
    samples: list[dict],
    statuses: list[dict],
    sft: list[dict],
    pairs: list[dict],
    decontam=None,
    max_examples: int = 50,
) -> dict[str, Path]:
    """Write ``stats.json``, ``report.md``, ``index.html`` and (with matplotlib) ``lengths.png`` and
    ``pass_rate.png`` into ``out_dir``; returns their paths under ``"stats"``, ``"markdown"``, ``"html"``,
    ``"lengths"`` and ``"pass_rate"``."""
    out_dir = Path(out_dir)
    stats = synthesis_stats(problems, samples, statuses, sft, pairs, decontam)
    paths = {"stats": out_dir / "stats.json"}
    write_json(paths["stats"], stats)
    # A synthesis run must not fail at its last step because the optional plotting extra is missing.
    if is_available("matplotlib"):
        paths["lengths"] = plot_lengths(samples, out_dir / "lengths.png")
        paths["pass_rate"] = plot_pass_rate(stats, out_dir / "pass_rate.png")
    else:
        logger.warning("matplotlib is not installed (pip install 'redstar-geo[eval]'): %s has no plots", out_dir)
    plots = [paths[k].name for k in ("lengths", "pass_rate") if k in paths]
    paths["markdown"] = out_dir / "report.md"
    write_text(paths["markdown"], synthesis_markdown(stats, plots))
    paths["html"] = out_dir / "index.html"
    write_text(paths["html"], synthesis_html(stats, problems, samples, plots, max_examples))
    return paths


__all__ = [
    "GOOD",
    "PLANTED_KINDS",
    "TARGET_SHARE",
    "confusion_table",
    "plot_lengths",
    "plot_pass_rate",
    "sample_status",
    "synthesis_html",
    "synthesis_markdown",
    "synthesis_stats",
    "trace_chars",
    "write_synthesis_report",
]
