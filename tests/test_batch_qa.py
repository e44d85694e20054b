"""Batch image QA (redstar_geo.batch_qa, eval/batch_qa.py): every input format, bad rows as error lines, --n voting,
CSV output, gold scoring, resuming, the bundled MathVerse sample end to end, and a killed-and-restarted run."""

import base64
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import ASSETS, ROOT

from redstar_geo.batch_qa import (
    BATCH_OUTPUT,
    RESULTS,
    RESULTS_CSV,
    BatchQAConfig,
    majority_vote,
    parse_choices,
    run_batch_qa,
)
from redstar_geo.fake_server import FakeServer
from redstar_geo.generation import GenerationConfig

SCRIPT = str(ROOT / "eval" / "batch_qa.py")
DATA = ASSETS / "batch_qa"


def fake_gen(server, **kwargs) -> GenerationConfig:
    options = {"backend": "openai", "model": "fake", "api_base": server.base_url, "max_retries": 0, **kwargs}
    return GenerationConfig(**options)


def read_csv(path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(tmp_path, server, gen=None, **options):
    config = BatchQAConfig(out=str(tmp_path / "out"), progress=False, **options)
    return run_batch_qa(config, gen or fake_gen(server))


# ---------------------------------------------------------------------------------------------------------------
# input formats
# ---------------------------------------------------------------------------------------------------------------
def test_rows_jsonl_answers_with_choice_text_and_gold_summary(tmp_path):
    with FakeServer() as server:
        result = run(tmp_path, server, input=str(DATA / "rows.jsonl"))
    lines = read_lines(tmp_path / "out" / RESULTS)
    by_id = {line["id"]: line for line in lines}
    assert [line["id"] for line in lines] == ["tri", "sq", "text", "nogold"]
    assert by_id["tri"]["answer"] == "B" and by_id["tri"]["answer_text"] == "∠B" and by_id["tri"]["correct"] is True
    assert by_id["sq"]["answer"] == "16" and by_id["sq"]["correct"] is True
    assert by_id["text"]["answer"] == "7" and by_id["text"]["correct"] is False and by_id["text"]["gold"] == "8"
    # no gold: answered, with the letter's text ("A. acute|..." prefixes dropped), but not scored
    assert by_id["nogold"]["answer"] == "C" and by_id["nogold"]["answer_text"] == "obtuse"
    assert "correct" not in by_id["nogold"]
    for line in lines:
        assert "\\boxed{" in line["reasoning"] and line["finish_reason"] == "stop" and line["error"] is None
        assert line["tokens"] > 0 and line["latency_s"] >= 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["n"], summary["correct"], summary["wrong"], summary["accuracy"]) == (3, 2, 1, 66.67)
    assert result.summary == summary and result.counts["errors"] == 0
    assert len(read_lines(tmp_path / "out" / "samples.jsonl")) == 3


def test_csv_input_with_letter_columns_and_csv_output(tmp_path):
    with FakeServer() as server:
        run(tmp_path, server, input=str(DATA / "rows.csv"), csv=True)
    rows = read_csv(tmp_path / "out" / RESULTS_CSV)
    assert [(r["row"], r["id"]) for r in rows] == [("2", "c1"), ("3", "c2"), ("4", "c3")]  # the CSV's lines
    assert rows[0]["answer"] == "A" and rows[0]["answer_text"] == "AB" and rows[0]["correct"] == "True"
    assert rows[1]["answer"] == "16 cm" and rows[1]["correct"] == "True"  # the value against gold 16, units aside
    assert rows[2]["error"].endswith("rows.csv:4: id 'c3': 1 more fields than the header has columns")
    assert rows[2]["reasoning"] == ""
    assert rows[0]["reasoning"].startswith("Let me work through")


def test_folder_of_images_with_one_question(tmp_path):
    with FakeServer() as server:
        result = run(tmp_path, server, input=str(DATA / "images"), questions=str(DATA / "questions.txt"))
        asked = sum(server.attempts.values())
    lines = {line["id"]: line for line in read_lines(tmp_path / "out" / RESULTS)}
    assert sorted(lines) == ["corrupt.png", "square.png", "triangle.png"]
    assert lines["square.png"]["answer"] == "A" and lines["triangle.png"]["answer"] == "A"
    assert "not an image" in lines["corrupt.png"]["error"] and lines["corrupt.png"]["answer"] is None
    assert asked == 2 and result.counts["errors"] == 1


def test_folder_with_a_rows_file_naming_its_images(tmp_path):
    (tmp_path / "q.jsonl").write_text(json.dumps({"image": "square.png", "question": "Area? [[answer:9]]"}) + "\n")
    with FakeServer() as server:
        run(tmp_path, server, input=str(DATA / "images"), questions=str(tmp_path / "q.jsonl"))
    (line,) = read_lines(tmp_path / "out" / RESULTS)
    assert line["id"] == "1" and line["answer"] == "9" and line["error"] is None


def test_rows_may_carry_their_image_as_a_data_url(tmp_path):
    uri = "data:image/png;base64," + base64.b64encode((DATA / "images" / "square.png").read_bytes()).decode()
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "inline", "image": uri, "question": "Area? [[answer:9]]", "gold": "9"}) + "\n")
    with FakeServer() as server:
        result = run(tmp_path, server, input=str(rows))
    assert result.results[0]["answer"] == "9" and result.results[0]["correct"] is True


def test_openai_batch_input_runs_unchanged_and_writes_the_batch_output_format(tmp_path):
    with FakeServer() as server:
        # no --model: the served model the job names
        result = run(tmp_path, server, fake_gen(server, model=None), input=str(DATA / "openai_batch.jsonl"))
        prompts = {text.strip() for text in server.attempts}  # the fake server joins all parts (image: "")
    assert result.kind == "openai_batch"
    lines = {line["id"]: line for line in read_lines(tmp_path / "out" / RESULTS)}
    assert lines["req-1"]["answer"] == "B" and lines["req-2"]["answer"] == "4" and lines["req-3"]["answer"] == "16"
    assert prompts == {  # the user text as written, not wrapped in a benchmark prompt
        "Which angle is the largest? [[answer:B]]",
        "What is 2 + 2? [[answer:4]]",
        "Find the area. [[answer:16]]",
    }
    errors = {line["id"]: line["error"] for line in lines.values() if line["error"]}
    assert "remote images are not fetched" in errors["req-4"]
    assert "2 images" in errors["req-5"]
    assert "multi-turn" in errors["req-6"]
    assert errors["7"].endswith("openai_batch.jsonl:7: no custom_id")
    assert "openai_batch.jsonl:8: invalid JSON" in errors["8"]
    assert "only /v1/chat/completions" in errors["req-9"]
    assert all(f"openai_batch.jsonl:{lines[i]['row']}:" in e for i, e in errors.items())  # file and row named
    output = read_lines(tmp_path / "out" / BATCH_OUTPUT)
    assert len(output) == 9
    ok = output[0]
    assert ok["custom_id"] == "req-1" and ok["error"] is None and ok["id"].startswith("batch_req_")
    assert ok["response"]["status_code"] == 200
    body = ok["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "fake"
    assert "\\boxed{B}" in body["choices"][0]["message"]["content"] and body["choices"][0]["finish_reason"] == "stop"
    bad = output[3]
    assert bad["custom_id"] == "req-4" and bad["response"] is None and "remote" in bad["error"]["message"]
    assert bad["error"]["code"] == "invalid_request" and output[6]["custom_id"] is None  # the line without one
    assert set(lines["req-4"]) == set(lines["req-1"])  # error lines have the same keys as answered ones


def test_openai_batch_body_sampling_reaches_the_server(tmp_path):
    seen = []
    with FakeServer() as server:
        original = server._reply

        async def record(fault, body, prompt, writer):
            seen.append(body)
            return await original(fault, body, prompt, writer)

        server._reply = record
        run(tmp_path, server, input=str(DATA / "openai_batch.jsonl"))
    by_prompt = {b["messages"][-1]["content"][-1]["text"]: b for b in seen}
    first = by_prompt["Which angle is the largest? [[answer:B]]"]
    assert first["max_tokens"] == 64 and first["messages"][0]["role"] == "system"
    assert first["messages"][1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert by_prompt["What is 2 + 2? [[answer:4]]"]["max_tokens"] == 32
    assert by_prompt["Find the area. [[answer:16]]"]["seed"] == 7


def test_benchmark_rows_use_the_protocol_prompt(tmp_path, assets):
    with FakeServer() as server:
        run(tmp_path, server, bench="mathverse", data=str(assets / "mathverse"), limit=3)
        prompts = list(server.attempts)
    lines = read_lines(tmp_path / "out" / RESULTS)
    assert len(lines) == 3 and all("correct" in line and "gold" in line for line in lines)
    assert prompts and all("\\boxed{}" in p for p in prompts)  # the benchmark protocol's instruction
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["bench"] == "mathverse" and summary["n"] == 3


# ---------------------------------------------------------------------------------------------------------------
# bad rows, voting, resuming
# ---------------------------------------------------------------------------------------------------------------
def test_bad_rows_each_get_an_error_line_naming_the_row(tmp_path):
    with FakeServer() as server:
        result = run(tmp_path, server, input=str(DATA / "bad_rows.jsonl"))
    lines = read_lines(tmp_path / "out" / RESULTS)
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert lines[0]["error"] is None and lines[0]["answer"] == "16"
    errors = [line["error"] for line in lines[1:]]
    for expected, error in zip(
        [
            "file not found",
            "not an image",
            "bad_rows.jsonl:4: id 'empty': empty question",
            "bad_rows.jsonl:5: invalid JSON",
            "bad_rows.jsonl:6: id 'ok': duplicate id (first at row 1)",
            "bad_rows.jsonl:7: id 'onechoice': problem 'onechoice': 1 choices",
            "bad_rows.jsonl:8: expected an object, got list",
        ],
        errors,
        strict=True,
    ):
        assert expected in error, (expected, error)
    assert all(line["answer"] is None for line in lines[1:])
    assert result.counts == {
        "rows": 8,
        "answered": 1,
        "errors": 7,
        "error_ids": [r["id"] for r in lines[1:]],
        "no_answer": 0,
    }
    issues = (tmp_path / "out" / "issues.txt").read_text().splitlines()
    assert len(issues) == 7 and all("bad_rows.jsonl" in issue for issue in issues)


def test_n_samples_vote_and_agreement(tmp_path):
    with FakeServer() as server:
        rows = tmp_path / "rows.jsonl"
        rows.write_text(
            "".join(
                json.dumps({"id": f"q{i}", "question": f"Pick a letter {i}.", "choices": ["1", "2", "3", "4"]}) + "\n"
                for i in range(6)
            )
        )
        run(tmp_path, server, fake_gen(server, n=5, temperature=1.0), input=str(rows))
    lines = read_lines(tmp_path / "out" / RESULTS)
    assert any(line["agreement"] < 1 for line in lines)  # the samples differ, so the vote decides something
    for line in lines:
        letters = [s["answer"] for s in line["samples"]]
        assert line["n"] == 5 and len(letters) == 5 and all(s["reasoning"] for s in line["samples"])
        top = max(letters.count(a) for a in letters)
        assert line["votes"] == dict(Counter(letters)) and line["votes"][line["answer"]] == top
        assert letters.index(line["answer"]) == min(letters.index(a) for a in letters if letters.count(a) == top)
        assert line["agreement"] == top / 5
        assert line["reasoning"] in [s["reasoning"] for s in line["samples"] if s["answer"] == line["answer"]]


def test_majority_vote_groups_equal_values_and_breaks_ties_by_first_seen():
    answers = [{"answer": a} for a in ["5", "4", "5.0 cm", None, "4", "\\frac{10}{2}"]]
    best, votes, agreement = majority_vote(answers)
    assert (best, votes, agreement) == (0, {"5": 3, "4": 2}, 0.5)
    assert majority_vote([{"answer": "B"}, {"answer": "A"}, {"answer": "A"}, {"answer": "B"}])[0] == 0  # tie: first
    assert majority_vote([{"answer": None}]) == (None, {}, 0.0)
    assert parse_choices('["3", "4"]') == ["3", "4"] and parse_choices("(A) 3\n(B) 4") == ["3", "4"]


def test_rerun_skips_finished_rows_and_retries_failed_ones(tmp_path):
    rows = tmp_path / "rows.jsonl"
    questions = ["Find x. [[answer:A]]", "Find y. [[fault:500x1]]", "Find z. [[answer:C]]"]
    rows.write_text("".join(json.dumps({"id": f"r{i}", "question": q}) + "\n" for i, q in enumerate(questions)))
    with FakeServer() as server:
        first = run(tmp_path, server, input=str(rows))
        assert first.counts["error_ids"] == ["r1"]
        assert "HTTP 500" in read_lines(tmp_path / "out" / RESULTS)[1]["error"]
        before = sum(server.attempts.values())
        second = run(tmp_path, server, input=str(rows))
        assert sum(server.attempts.values()) - before == 1  # only the failed row is asked again
        assert second.counts["errors"] == 0
        # a changed question is asked again; the unchanged rows are not
        rows.write_text(rows.read_text().replace("Find z.", "Find w."))
        before = sum(server.attempts.values())
        run(tmp_path, server, input=str(rows))
        assert sum(server.attempts.values()) - before == 1
    assert read_lines(tmp_path / "out" / RESULTS)[2]["answer"] == "C"


def test_without_a_model_the_tiny_model_answers_in_process(tmp_path, tiny_dir):
    config = BatchQAConfig(
        input=str(DATA / "rows.jsonl"), out=str(tmp_path / "out"), progress=False, tiny_model_dir=str(tiny_dir)
    )
    result = run_batch_qa(config, GenerationConfig(max_new_tokens=4, batch_size=4))
    assert (result.counts["rows"], result.counts["answered"], result.counts["errors"]) == (4, 4, 0)
    for line in read_lines(tmp_path / "out" / RESULTS):
        assert isinstance(line["reasoning"], str) and line["tokens"] <= 4
        assert line["finish_reason"] in ("stop", "length") and line["error"] is None
    assert json.loads((tmp_path / "out" / "config.json").read_text())["generation"]["model"] == str(tiny_dir)


def test_options_that_cannot_work_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--input"):
        BatchQAConfig()
    with pytest.raises(ValueError, match="--input"):
        BatchQAConfig(input="x.jsonl", bench="geoqa")
    with pytest.raises(ValueError, match="unknown --bench"):
        BatchQAConfig(bench="nope")
    with pytest.raises(ValueError, match="--data goes with --bench"):
        BatchQAConfig(input="x.jsonl", data="y")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        BatchQAConfig(input="x.jsonl", out=str(tmp_path / "file"))
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--input", str(tmp_path / "none.jsonl")], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 1 and "error:" in proc.stderr and "input not found" in proc.stderr


# ---------------------------------------------------------------------------------------------------------------
# the bundled MathVerse sample, and a killed run
# ---------------------------------------------------------------------------------------------------------------
def test_mathverse_sample_writes_726_lines_with_the_missing_image_as_an_error_line(tmp_path, shared_data):
    with FakeServer() as server:
        result = run(tmp_path, server, fake_gen(server, concurrency=64), bench="mathverse")
    lines = read_lines(tmp_path / "out" / RESULTS)
    assert len(lines) == 726 and len({line["id"] for line in lines}) == 726
    failed = [line for line in lines if line["error"]]
    assert [line["id"] for line in failed] == ["99"]
    assert "99.png: file not found" in failed[0]["error"] and failed[0]["status"] == "error"
    assert all(line["reasoning"] for line in lines if line["id"] != "99")
    assert result.summary["n"] == 726 and result.summary["error_ids"] == ["99"]


def start_script(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, SCRIPT, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def without_latency(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k != "latency_s"} for line in lines]


def test_killed_and_restarted_run_ends_like_an_uninterrupted_one(tmp_path):
    shutil.copytree(DATA / "images", tmp_path / "images")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "image": "images/" + ("square.png", "triangle.png", "corrupt.png")[i % 3],
                    "question": f"Find angle {i}.",
                    "choices": ["30°", "45°", "60°", "90°"],
                    "gold": "ABCD"[i % 4],
                }
            )
            + "\n"
            for i in range(60)
        )
    )
    with FakeServer(latency_median=0.03, latency_sigma=0.5) as server:
        common = ["--input", str(rows), "--backend", "openai", "--model", "fake", "--api_base", server.base_url]
        common += ["--concurrency", "3", "--n", "2", "--temperature", "1.0", "--csv", "true", "--progress", "false"]
        whole = tmp_path / "whole"
        proc = start_script([*common, "--out", str(whole)])
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
        killed = tmp_path / "killed"
        responses = killed / "responses.jsonl"
        proc = start_script([*common, "--out", str(killed)])
        while proc.poll() is None:
            if responses.exists() and responses.read_bytes().count(b"\n") >= 25:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        assert not (killed / RESULTS).exists()
        sent_before = sum(server.attempts.values())
        proc = start_script([*common, "--out", str(killed)])
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
        resumed = sum(server.attempts.values()) - sent_before
    assert resumed < 40  # 40 rows have a readable image: the restart did not start over
    assert without_latency(read_lines(killed / RESULTS)) == without_latency(read_lines(whole / RESULTS))
    assert len(read_lines(whole / RESULTS)) == 60
    for name in ("summary.json", "samples.jsonl"):
        assert (killed / name).read_text() == (whole / name).read_text(), name
    assert without_latency(read_csv(killed / RESULTS_CSV)) == without_latency(read_csv(whole / RESULTS_CSV))
