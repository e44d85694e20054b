"""Reports of a run built from the GeoQA fixtures: HTML page, markdown tables, plots and the eval/report.py CLI."""

import base64
import io
import json
import re
import shutil

import pytest
from conftest import run_script
from PIL import Image

from redstar_geo.evaluation import EvalConfig, run_evaluation
from redstar_geo.reports import (
    breakdown_tables,
    markdown_table,
    plot_accuracy,
    plot_response_lengths,
    run_stats,
    write_reports,
)
from redstar_geo.run_dir import load_problems, load_responses

pytest.importorskip("matplotlib")
HOSTILE = 'I am not sure: <script>alert(1)</script> & "AB" < CD'


@pytest.fixture
def run_dir(assets, tmp_path):
    """A scored GeoQA run: 0 wrong, 1 correct, 2 no answer (hostile HTML), 88 missing; diagrams for 0-2 only
    (0 is large, to check downscaling), none for 88."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("test_questions.jsonl", "test_answers.jsonl"):
        shutil.copy(assets / "geoqa" / name, data / name)
    images = tmp_path / "images" / "test"
    images.mkdir(parents=True)
    for qid, size in (("0", (1000, 600)), ("1", (200, 150)), ("2", (120, 120))):
        Image.new("RGB", size, (255, 255, 255)).save(images / f"{qid}.png")
    outputs = [json.loads(line) for line in (assets / "geoqa" / "gllava_outputs.jsonl").read_text().splitlines()]
    preds = tmp_path / "preds.jsonl"
    with preds.open("w") as f:
        for rec in outputs:
            if rec["question_id"] == 88:
                continue
            if rec["question_id"] == 2:
                rec["text"] = HOSTILE
            f.write(json.dumps(rec) + "\n")
    out = tmp_path / "run"
    run_evaluation(
        EvalConfig(
            bench="geoqa",
            data=str(data / "test_questions.jsonl"),
            image_root=str(tmp_path / "images"),
            predictions=str(preds),
            predictions_format="gllava",
            out=str(out),
        )
    )
    return out


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def test_fixture_run_has_every_status(run_dir):
    statuses = {json.loads(line)["id"]: json.loads(line)["status"] for line in open(run_dir / "samples.jsonl")}
    assert statuses == {"0": "wrong", "1": "correct", "2": "no_answer", "88": "missing"}


def test_html_report(run_dir):
    paths = write_reports(run_dir, load_problems(run_dir), load_responses(run_dir))
    page = paths["html"].read_text(encoding="utf-8")
    assert paths["html"] == run_dir / "report.html"
    for qid, status in (("0", "wrong"), ("1", "correct"), ("2", "no_answer"), ("88", "missing")):
        assert f'id="p-{qid}"' in page and f'data-status="{status}"' in page
    # the failure filter: buttons and the script that hides the other problems
    for key in ("all", "failures", "wrong", "no_answer", "correct"):
        assert f'data-filter="{key}"' in page
    assert "function show(" in page and "s!=='correct'" in page
    # the response text is escaped, never live markup
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;AB&quot; &lt; CD" in page
    assert "<details>" in page and "Answer:A" in page  # the full reasoning of 0, collapsible
    # three embedded diagrams, downscaled to <= 384 px; the missing one shows its error
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(uris) == 3
    sizes = [Image.open(io.BytesIO(base64.b64decode(u))).size for u in uris]
    assert sizes[0] == (384, 230) and sizes[1:] == [(200, 150), (120, 120)]
    assert re.search(r"image could not be loaded: problem &#x27;88&#x27;: .*88\.png: file not found", page)
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', page)
    summary = _summary(run_dir)
    assert f"accuracy {summary['accuracy']:.2f}%" in page and "25.00%" in page


def test_markdown_table_matches_summary(run_dir):
    summary = _summary(run_dir)
    rows = [line for line in markdown_table([run_dir]).splitlines() if line.startswith("| run |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:4] == ["run", "geoqa", "choice", str(summary["n"])]
    assert cells[4] == f"{summary['accuracy']:.2f}%" == "25.00%"
    assert cells[5] == f"{100 * summary['no_answer'] / summary['n']:.2f}%" == "25.00%"
    assert cells[6] == f"{summary['mean_response_chars']:.0f}"
    assert cells[7] == "–"  # score-only: no finish reasons, truncation unknown
    write_reports(run_dir, load_problems(run_dir), load_responses(run_dir))
    md = (run_dir / "report.md").read_text()
    assert rows[0] in md


def test_truncation_and_model_name(run_dir):
    samples = [json.loads(line) for line in open(run_dir / "samples.jsonl")]
    for s, reason in zip(samples, ("length", "stop", "stop", None), strict=True):
        if reason:
            s.update(finish_reason=reason, response_tokens=100)
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    summary = _summary(run_dir)
    summary.update(model="tiny|qwen", truncated=1)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    stats = run_stats(run_dir)
    assert stats["model"] == "tiny|qwen" and stats["truncation_rate"] == 25.0
    assert "| tiny\\|qwen | geoqa |" in markdown_table([run_dir])


def test_breakdown_tables():
    summary = {
        "bench": "mathverse",
        "breakdowns": {
            "problem_version": {"Vision Only": {"n": 4, "correct": 1, "accuracy": 25.0}},
            "subject": {"plane|solid": {"n": 2, "correct": 2, "accuracy": 100.0}},
        },
    }
    text = breakdown_tables(summary)
    assert "### mathverse by problem_version" in text and "| Vision Only | 4 | 1 | 25.00% |" in text
    assert "| plane\\|solid | 2 | 2 | 100.00% |" in text
    assert breakdown_tables({"bench": "geoqa", "breakdowns": {}}) == ""


def test_plots_are_png(run_dir, tmp_path):
    other = tmp_path / "other_model"
    shutil.copytree(run_dir, other)
    summary = _summary(other)
    summary.update(model="other", accuracy=50.0)
    (other / "summary.json").write_text(json.dumps(summary))
    for path in (
        plot_accuracy([run_dir, other], tmp_path / "plots" / "acc.png"),
        plot_response_lengths([run_dir, other], tmp_path / "plots" / "len.png"),
        plot_response_lengths(run_dir, tmp_path / "plots" / "tok.png", unit="tokens"),  # none recorded: a note
    ):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.width > 200 and img.height > 200
    with pytest.raises(ValueError, match="unit"):
        plot_response_lengths(run_dir, tmp_path / "x.png", unit="words")


def test_load_responses_prefers_responses_jsonl(run_dir):
    assert set(load_responses(run_dir)) == {"0", "1", "2"}
    (run_dir / "responses.jsonl").write_text(
        json.dumps({"id": "1", "prompt": "p", "responses": ["first", "second"], "finish_reasons": ["stop"] * 2}) + "\n"
    )
    assert load_responses(run_dir) == {"1": "first"}


def test_report_cli(run_dir, tmp_path):
    out = tmp_path / "cmp"
    result = run_script("eval/report.py", str(run_dir), str(run_dir), "--out", str(out), "--per-run")
    assert result.returncode == 0, result.stderr
    assert "| run | geoqa | choice | 4 | 25.00% |" in result.stdout
    assert (out / "results.md").read_text().count("| run | geoqa |") == 2
    assert Image.open(out / "accuracy.png").format == "PNG"
    assert (run_dir / "report.html").exists()
    bad = run_script("eval/report.py", str(tmp_path), "--out", str(out))
    assert bad.returncode != 0 and "no summary.json" in bad.stderr


def test_report_cli_refuses_a_bench_all_directory_cleanly(run_dir, tmp_path):
    combined = tmp_path / "all"
    shutil.copytree(run_dir, combined / "geoqa")
    (combined / "summary.json").write_text(json.dumps([_summary(run_dir)]))
    result = run_script("eval/report.py", str(combined), "--out", str(tmp_path / "cmp"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"error: {combined}: a --bench all run; give its directories of one benchmark each: {combined / 'geoqa'}"
    )
    assert run_script("eval/report.py", str(combined / "geoqa"), "--out", str(tmp_path / "cmp")).returncode == 0
