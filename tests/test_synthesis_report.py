"""The synthesis report (stats, confusion table, markdown, HTML, plots) and the LLaMA-Factory / Hugging Face exports,
on a small hand-made synthesis run: four problems (three GeoSynth diagrams, one Chinese problem from another source),
verified, failed and errored samples, planted labels, SFT records and DPO pairs as the synthesis stage writes them."""

import json
import re
from pathlib import Path

import pytest

from redstar_geo.decontam import decontamination_summary
from redstar_geo.geosynth import generate_problem
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem
from redstar_geo.sft_data import load_sft_samples
from redstar_geo.synthesis.export import DPO_DATASET, SFT_DATASET, export_hf, export_sharegpt
from redstar_geo.synthesis.report import confusion_table, synthesis_stats, write_synthesis_report

HOSTILE = "Let me think <script>alert(1)</script> & AB < CD"


def _trace(steps: int, answer: str = "B", extra: str = "") -> str:
    return "<think>" + "Angle sum is 180°. " * steps + extra + "</think>\n\nSo the answer is \\boxed{" + answer + "}."


def _problems() -> dict[str, Problem]:
    geo = [generate_problem(seed=i) for i in range(4)]
    # Families and levels fixed here, so the expected groups do not hang on what the generator draws.
    for p, family, difficulty in zip(
        geo[:3], ("triangle_angles", "circle_measure", "triangle_angles"), (1, 4, 2), strict=True
    ):
        p.metadata = {**p.metadata, "family": family, "difficulty": difficulty}
    other = Problem(
        id="geoqa-7",
        source="geoqa",
        question="如图，已知∠1=40°，求∠2的度数。" + HOSTILE,
        choices=["40°", "50°", "140°", "130°"],
        answer_letter="C",
        answer_type="choice",
        language="zh",
        image=geo[3].image,
    )
    return {p.id: p for p in (*geo[:3], other)}


def _sample(pid, k, text, reasons=(), planted=None, error=None, tokens=100, latency=1.5, reasoning=None):
    return {
        "problem_id": pid,
        "sample": k,
        "round": 0,
        "teacher": "offline",
        "text": "" if error else text,
        "reasoning": reasoning,
        "finish_reason": "error" if error else "length" if "truncated" in reasons else "stop",
        "n_tokens": None if error else tokens,
        "latency_s": None if error else latency,
        "error": error,
        "reasons": list(reasons),
        "planted": planted,
    }


def _samples() -> list[dict]:
    g0, g1, g2, q = "geosynth-0", "geosynth-1", "geosynth-2", "geoqa-7"
    return [
        _sample(g0, 0, _trace(3, "D"), tokens=120, latency=2.0),
        _sample(g0, 1, _trace(5, "D"), tokens=150, latency=2.5, reasoning="I compare the angles first."),
        _sample(g0, 2, _trace(4, "A"), ["wrong_answer"], "wrong_answer", tokens=130),
        _sample(g0, 3, "", planted="truncated", error="HTTP 500: upstream overloaded"),
        _sample(g1, 0, _trace(40, "A", "Wait, again. " * 30), ["repetition_loop", "truncated"], "repetition_loop"),
        _sample(g1, 1, _trace(6, "A"), tokens=200),
        _sample(g1, 2, _trace(6, "C"), ["wrong_answer", "arithmetic_error"], "arithmetic_slip"),
        _sample(g2, 0, "<think>" + "Angle sum is 180°. " * 8 + "</think>", ["no_final_answer"], "no_final_answer"),
        _sample(g2, 1, _trace(2, "C"), ["wrong_answer"]),  # a good trace the verifier rejects
        _sample(g2, 2, "", error="timeout"),
        _sample(q, 0, _trace(3, "C", "所以"), planted="language_switch"),  # a planted failure the verifier misses
        _sample(q, 1, _trace(3, "C", HOSTILE), ["language_mixing"], "language_switch"),
    ]


def _statuses(samples) -> list[dict]:
    rows = []
    for pid in dict.fromkeys(s["problem_id"] for s in samples):
        mine = [s for s in samples if s["problem_id"] == pid]
        verified = sum(not s["error"] and not s["reasons"] for s in mine)
        failed = sum(not s["error"] and bool(s["reasons"]) for s in mine)
        errors = sum(bool(s["error"]) for s in mine)
        rows.append(
            {
                "problem_id": pid,
                "budget": 8,
                "n_samples": len(mine),
                "n_verified": verified,
                "n_failed": failed,
                "n_errors": errors,
                "pass_rate": verified / (verified + failed),
                "tokens": sum(s["n_tokens"] or 0 for s in mine),
                "stop": "enough" if verified >= 2 else "budget" if verified else "errors",
            }
        )
    return rows


def _prompt(problem: Problem) -> list[dict]:
    return [{"role": "user", "content": "<image>" + problem.question}]


def _sft(problems, samples) -> list[dict]:
    return [
        {
            "id": f"{s['problem_id']}#s{s['sample']}",
            "image": f"images/{s['problem_id']}.png",
            "messages": _prompt(problems[s["problem_id"]]),
            "completion": s["text"],
            "problem_id": s["problem_id"],
            "sample": s["sample"],
        }
        for s in samples
        if not s["error"] and not s["reasons"]
    ]


def _pairs(problems, samples) -> list[dict]:
    by_key = {(s["problem_id"], s["sample"]): s for s in samples}
    pairs = []
    for pid, chosen, rejected in (("geosynth-0", 0, 2), ("geosynth-1", 1, 0), ("geosynth-1", 1, 2), ("geoqa-7", 0, 1)):
        c, r = by_key[pid, chosen], by_key[pid, rejected]
        pairs.append(
            {
                "id": f"{pid}#s{chosen}-s{rejected}",
                "problem_id": pid,
                "image": f"images/{pid}.png",
                "prompt": _prompt(problems[pid]),
                "chosen": c["text"],
                "rejected": r["text"],
                "rejected_reasons": r["reasons"],
                "chosen_sample": chosen,
                "rejected_sample": rejected,
            }
        )
    return pairs


DROPPED = [
    {
        "id": "geosynth-9",
        "source": "geosynth",
        "matched_benchmark": "geoqa",
        "matched_id": "123",
        "by": "image",
        "distance": 2,
    }
]
DECONTAM = (decontamination_summary(DROPPED, 5), DROPPED)


@pytest.fixture
def run(tmp_path):
    """A synthesis directory: images/<id>.png for every problem, and the run's data in memory."""
    problems = _problems()
    data_dir = tmp_path / "synth"
    (data_dir / "images").mkdir(parents=True)
    for p in problems.values():
        (data_dir / "images" / f"{p.id}.png").write_bytes(p.image)
    samples = _samples()
    return {
        "data_dir": data_dir,
        "problems": problems,
        "samples": samples,
        "statuses": _statuses(samples),
        "sft": _sft(problems, samples),
        "pairs": _pairs(problems, samples),
    }


def _stats(run, decontam=DECONTAM):
    return synthesis_stats(run["problems"], run["samples"], run["statuses"], run["sft"], run["pairs"], decontam)


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------
def test_yield_reasons_and_spend(run):
    stats = _stats(run)
    assert stats["yield"] == {
        "problems": 4,
        "problems_sampled": 4,
        "problems_with_verified": 3,
        "problem_yield": 0.75,
        "samples": 12,
        "traces": 10,
        "verified": 4,
        "failed": 6,
        "errors": 2,
        "pass_rate": 0.4,
        "sft_records": 4,
        "dpo_pairs": 4,
    }
    assert stats["rejection_reasons"] == {
        "failed": 6,
        "by_reason": {
            "wrong_answer": 3,
            "arithmetic_error": 1,
            "language_mixing": 1,
            "no_final_answer": 1,
            "repetition_loop": 1,
            "truncated": 1,
        },
        "several_reasons": 2,
    }
    spend = stats["spend"]
    assert spend["samples"] == 12 and spend["errors"] == 2
    assert spend["tokens"] == 120 + 150 + 130 + 200 + 100 * 6
    assert spend["samples_without_token_count"] == 2
    assert spend["tokens_per_verified"] == round(1200 / 4, 1)
    assert spend["latency_s"] == 2.0 + 2.5 + 1.5 * 8
    assert spend["errors_by_kind"] == {"HTTP 500": 1, "timeout": 1}  # the kind before ":", not the message
    assert spend["finish_reasons"] == {"stop": 9, "error": 2, "length": 1}
    assert spend["teachers"] == {"offline": 12}
    assert stats["samples_per_problem"] == {"distribution": {"2": 1, "3": 2, "4": 1}, "mean": 3.0, "min": 2, "max": 4}
    assert stats["stop_reasons"] == {"budget": 2, "enough": 1, "errors": 1}


def test_lengths_count_separate_thinking(run):
    stats = _stats(run)
    kept = [s for s in run["samples"] if not s["error"] and not s["reasons"]]
    # The thinking a server returns apart is part of the trace's length.
    lengths = sorted(len(s["text"]) + len(s["reasoning"] or "") for s in kept)
    assert stats["lengths"]["kept"]["n"] == 4 and stats["lengths"]["rejected"]["n"] == 6
    assert stats["lengths"]["kept"]["max"] == lengths[-1] and stats["lengths"]["kept"]["min"] == lengths[0]
    assert stats["lengths"]["kept"]["mean"] == round(sum(lengths) / 4, 1)
    assert stats["lengths"]["rejected"]["max"] > stats["lengths"]["kept"]["max"]  # the repetition loop


def test_pass_rate_by_difficulty_family_language(run):
    rates = _stats(run)["pass_rate"]
    assert list(rates["difficulty"]) == ["1", "2", "4", "unknown"]  # numeric order, unknown last
    assert rates["difficulty"]["1"] == {
        "problems": 1,
        "traces": 3,  # the errored sample is no trace
        "verified": 2,
        "problems_with_verified": 1,
        "pass_rate": 0.6667,
    }
    assert rates["difficulty"]["2"]["pass_rate"] == 0.0 and rates["difficulty"]["2"]["problems_with_verified"] == 0
    assert rates["difficulty"]["unknown"]["traces"] == 2  # a problem from another source has no level
    assert {k: (g["traces"], g["verified"]) for k, g in rates["family"].items()} == {
        "circle_measure": (3, 1),
        "triangle_angles": (5, 2),
        "unknown": (2, 1),
    }
    assert rates["family"]["triangle_angles"]["pass_rate"] == 0.4
    assert {k: (g["problems"], g["pass_rate"]) for k, g in rates["language"].items()} == {
        "en": (3, 0.375),
        "zh": (1, 0.5),
    }


def test_confusion_table_rows(run):
    table = confusion_table(run["samples"])
    assert list(table) == [
        "good",
        "wrong_answer",
        "arithmetic_slip",
        "repetition_loop",
        "language_switch",
        "no_final_answer",
    ]
    assert "truncated" not in table  # planted only on an errored sample, which was never verified
    assert table["good"] == {
        "n": 4,
        "rejected": 1,
        "kept": 3,
        "rejected_share": 0.25,
        "kept_share": 0.75,
        "meets_target": False,
        "reasons": {"wrong_answer": 1},
    }
    assert table["arithmetic_slip"]["reasons"] == {"arithmetic_error": 1, "wrong_answer": 1}
    assert table["repetition_loop"]["meets_target"] is True and table["repetition_loop"]["rejected_share"] == 1.0
    assert table["language_switch"] == {
        "n": 2,
        "rejected": 1,
        "kept": 1,
        "rejected_share": 0.5,
        "kept_share": 0.5,
        "meets_target": False,
        "reasons": {"language_mixing": 1},
    }
    real_teacher = [{**s, "planted": None} for s in run["samples"]]
    assert confusion_table(real_teacher) == {}
    assert _stats({**run, "samples": real_teacher})["confusion"] is None


def test_dpo_length_gap(run):
    gap = _stats(run)["dpo_length_gap"]
    pairs = run["pairs"]

    def mean(values):
        return round(sum(values) / len(values), 1)

    assert gap["pairs"] == 4
    assert gap["mean_chosen_chars"] == mean([len(p["chosen"]) for p in pairs])
    assert gap["gap_chars"] == round(gap["mean_chosen_chars"] - mean([len(p["rejected"]) for p in pairs]), 1)
    wrong = [p for p in pairs if "wrong_answer" in p["rejected_reasons"]]
    assert gap["by_reason"]["wrong_answer"]["pairs"] == 2
    assert gap["by_reason"]["wrong_answer"]["mean_rejected_chars"] == mean([len(p["rejected"]) for p in wrong])
    assert gap["by_reason"]["repetition_loop"]["gap_chars"] < 0  # the looping negative is the longer one
    assert set(gap["by_reason"]) == {
        "wrong_answer",
        "arithmetic_error",
        "repetition_loop",
        "truncated",
        "language_mixing",
    }


def test_decontamination_summary_in_stats(run):
    dc = _stats(run, DECONTAM)["decontamination"]
    assert (dc["total"], dc["dropped"], dc["by_benchmark"], dc["dropped_listed"]) == (5, 1, {"geoqa": 1}, 1)
    assert dc["dropped_examples"][0]["matched_id"] == "123"
    assert _stats(run, None)["decontamination"] is None


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------
def _write(run, out, **kwargs):
    return write_synthesis_report(
        out, run["problems"], run["samples"], run["statuses"], run["sft"], run["pairs"], DECONTAM, **kwargs
    )


def test_report_files(run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    paths = _write(run, out)
    assert set(paths) == {"stats", "markdown", "html", "lengths", "pass_rate"}
    for path in paths.values():
        assert path.parent == out and path.stat().st_size > 0
    assert paths["lengths"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(paths["stats"].read_text(encoding="utf-8")) == json.loads(json.dumps(_stats(run)))

    md = paths["markdown"].read_text(encoding="utf-8")
    for heading in (
        "## Yield",
        "## Pass rate by difficulty",
        "## Pass rate by family",
        "## Rejection reasons",
        "## Teacher spend",
        "## Verifier vs planted labels",
        "## DPO length gap (chars)",
        "## Decontamination",
    ):
        assert heading in md
    assert "| good | 4 | 3 | 1 | 75.0% | 25.0% | NO |" in md
    assert "| wrong_answer | 1 | 0 | 1 | 0.0% | 100.0% | yes |" in md
    assert "| 1 | 1 | 3 | 2 | 66.7% | 1 |" in md  # difficulty 1
    assert "![lengths](lengths.png)" in md and "![pass_rate](pass_rate.png)" in md


def test_html_page(run, tmp_path):
    page = _write(run, tmp_path / "report")["html"].read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page  # in a trace and in a question: escaped in both
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    for code in ("wrong_answer", "repetition_loop", "arithmetic_error", "no_final_answer", "language_mixing"):
        assert f'data-kind="reason" data-value="{code}"' in page
    assert 'data-reasons="repetition_loop truncated"' in page
    assert 'data-status="errored"' in page and "HTTP 500: upstream overloaded" in page
    assert page.count('class="trace ') == 12  # every sample fits under the default cap
    assert "<details><summary>trace (" in page and 'src="lengths.png"' in page
    assert "wrong_answer (3)" in page  # button counts are full counts, not the shown ones


def test_html_caps_examples(run, tmp_path):
    page = _write(run, tmp_path / "report", max_examples=1)["html"].read_text(encoding="utf-8")
    shown = re.findall(r'data-status="(\w+)" data-reasons="([^"]*)"', page)
    assert [s for s, _ in shown].count("kept") == 1 and [s for s, _ in shown].count("errored") == 1
    rejected = [reasons.split() for s, reasons in shown if s == "rejected"]
    # each reason code keeps one example, and a rare one is not crowded out by a common one
    for code in ("wrong_answer", "repetition_loop", "arithmetic_error", "no_final_answer", "language_mixing"):
        assert sum(code in r for r in rejected) >= 1
    assert sum("wrong_answer" in r for r in rejected) < 3


# ---------------------------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------------------------
def test_sharegpt_export(run, tmp_path):
    out = tmp_path / "llamafactory"
    paths = export_sharegpt(run["sft"], run["pairs"], run["data_dir"], out)
    sft = json.loads(paths["sft"].read_text(encoding="utf-8"))
    dpo = json.loads(paths["dpo"].read_text(encoding="utf-8"))
    info = json.loads(paths["dataset_info"].read_text(encoding="utf-8"))

    assert len(sft) == 4 and len(dpo) == 4
    first = sft[0]
    assert set(first) == {"messages", "images"}
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["messages"][0]["content"].startswith("<image>")
    assert first["messages"][1]["content"] == run["sft"][0]["completion"]
    assert first["images"] == ["images/geosynth-0.png"]
    pair = dpo[1]
    assert set(pair) == {"conversations", "chosen", "rejected", "images"}
    assert pair["conversations"] == [{"from": "human", "value": run["pairs"][1]["prompt"][0]["content"]}]
    assert pair["chosen"] == {"from": "gpt", "value": run["pairs"][1]["chosen"]}
    assert pair["rejected"] == {"from": "gpt", "value": run["pairs"][1]["rejected"]}
    for row in sft + dpo:
        text = "".join(m.get("content", m.get("value")) for m in row.get("messages", row.get("conversations")))
        assert text.count("<image>") == len(row["images"]) == 1  # LLaMA-Factory refuses a mismatch
        for image in row["images"]:
            assert not Path(image).is_absolute() and (out / image).read_bytes()[:4] == b"\x89PNG"

    assert info[SFT_DATASET] == {
        "file_name": "sft.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }
    assert info[DPO_DATASET]["ranking"] is True and info[DPO_DATASET]["formatting"] == "sharegpt"
    assert info[DPO_DATASET]["columns"] == {
        "messages": "conversations",
        "chosen": "chosen",
        "rejected": "rejected",
        "images": "images",
    }
    assert info[DPO_DATASET]["tags"]["role_tag"] == "from" and info[DPO_DATASET]["tags"]["assistant_tag"] == "gpt"

    # our own SFT loader reads the LLaMA-Factory file back: same targets, images found
    loaded = load_sft_samples(str(paths["sft"]), issues := IssueLog())
    assert not issues and len(loaded) == 4
    assert loaded[2].completion[0]["content"][0]["text"] == run["sft"][2]["completion"]
    assert all(Path(img).is_file() for s in loaded for img in s.images)


def test_sharegpt_export_into_the_synthesis_dir(run):
    # exporting next to the data copies nothing and still writes relative paths
    paths = export_sharegpt(run["sft"], run["pairs"], run["data_dir"], run["data_dir"])
    sft = json.loads(paths["sft"].read_text(encoding="utf-8"))
    assert sft[0]["images"] == ["images/geosynth-0.png"]
    assert sorted(p.name for p in (run["data_dir"] / "images").iterdir()) == sorted(
        f"{pid}.png" for pid in run["problems"]
    )


def test_hf_export(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    paths = export_hf(run["sft"], run["pairs"], run["data_dir"], tmp_path / "hf")
    sft = datasets.load_from_disk(str(paths["sft"]))
    dpo = datasets.load_from_disk(str(paths["dpo"]))

    assert len(sft) == 4 and {"images", "prompt", "completion", "id", "problem_id", "sample"} <= set(sft.column_names)
    row = sft[0]
    assert row["id"] == "geosynth-0#s0" and row["problem_id"] == "geosynth-0" and row["sample"] == 0
    assert [b["type"] for b in row["prompt"][0]["content"]] == ["image", "text"]
    assert row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"][0]["text"] == run["sft"][0]["completion"]
    assert len(row["images"]) == 1 and row["images"][0].size[0] > 0  # decoded PIL image, bytes embedded

    assert len(dpo) == 4
    assert {"images", "prompt", "chosen", "rejected", "rejected_reasons"} <= set(dpo.column_names)
    pair = dpo[1]
    assert pair["chosen"][0]["content"][0]["text"] == run["pairs"][1]["chosen"]
    assert pair["rejected"][0]["content"][0]["text"] == run["pairs"][1]["rejected"]
    assert pair["rejected_reasons"] == ["repetition_loop", "truncated"]
    assert pair["images"][0].size[0] > 0
    assert [b["type"] for b in pair["prompt"][0]["content"]] == ["image", "text"]

    # the images travel inside the datasets: they load with the synthesis directory gone
    for image in (run["data_dir"] / "images").iterdir():
        image.unlink()
    assert datasets.load_from_disk(str(paths["dpo"]))[0]["images"][0].size[0] > 0


def test_exports_of_an_empty_run_load_back(tmp_path):
    datasets = pytest.importorskip("datasets")
    paths = export_hf([], [], tmp_path, tmp_path / "hf")
    assert len(datasets.load_from_disk(str(paths["sft"]))) == 0  # saved in one shard: zero shards do not load
    assert "rejected" in datasets.load_from_disk(str(paths["dpo"])).column_names
    paths = export_sharegpt([], [], tmp_path, tmp_path / "lf")
    assert json.loads(paths["sft"].read_text()) == [] and json.loads(paths["dpo"].read_text()) == []


def test_text_only_pair_and_missing_image(run, tmp_path):
    text_only = {**run["pairs"][0], "id": "text#s0-s1", "image": None, "prompt": [{"role": "user", "content": "Q?"}]}
    paths = export_sharegpt([], [text_only], run["data_dir"], tmp_path / "lf")
    row = json.loads(paths["dpo"].read_text())[0]
    assert row["images"] == [] and row["conversations"] == [{"from": "human", "value": "Q?"}]

    missing = {**run["sft"][0], "image": "images/nowhere.png"}
    with pytest.raises(DataError, match="nowhere.png"):
        export_sharegpt([missing], [], run["data_dir"], tmp_path / "lf2")
