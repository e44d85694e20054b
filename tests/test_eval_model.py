"""Evaluation with a model: the tiny offline Qwen2-VL through eval/run.py, resume after a kill, and the
OpenAI-compatible backend against a real HTTP server on 127.0.0.1 with injected errors."""

import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT, run_script
from PIL import Image, ImageDraw

from redstar_geo.evaluation import EvalConfig, run_evaluation
from redstar_geo.generation import GenerationConfig


@pytest.fixture
def tiny_model(tiny_dir) -> str:
    return str(tiny_dir)


@pytest.fixture
def geoqa_with_images(assets, tmp_path):
    """The GeoQA fixture with drawn stand-in diagrams (the real GeoQA images are not bundled)."""
    for name in ("test_questions.jsonl", "test_answers.jsonl"):
        shutil.copy(assets / "geoqa" / name, tmp_path / name)
    (tmp_path / "test").mkdir()
    for qid in (0, 1, 2, 88):
        img = Image.new("RGB", (160, 120), "white")
        ImageDraw.Draw(img).polygon([(20, 100), (140, 100), (60, 20)], outline="black")
        img.save(tmp_path / "test" / f"{qid}.png")
    return tmp_path / "test_questions.jsonl"


def test_bench_all_end_to_end_on_cpu(tiny_model, tmp_path):
    out = tmp_path / "all"
    result = run_script(
        "eval/run.py",
        "--bench",
        "all",
        "--model",
        tiny_model,
        "--max_new_tokens",
        "8",
        "--limit",
        "6",
        "--missing_image",
        "text_only",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = json.loads((out / "summary.json").read_text())
    from redstar_geo.benchmarks import BENCHMARKS

    assert [s["bench"] for s in summaries] == list(BENCHMARKS)
    for s in summaries:
        bench_dir = out / s["bench"]
        assert s["n"] == 6 and s["model"] == tiny_model
        assert s["correct"] + s["wrong"] + s["no_answer"] + s["errors"] == 6
        records = [json.loads(line) for line in (bench_dir / "responses.jsonl").read_text().splitlines()]
        assert len(records) == 6 and all(r["responses"] for r in records)
        for name in ("samples.jsonl", "report.html", "report.md"):
            assert (bench_dir / name).stat().st_size > 0, name
    assert "geoqa" in result.stdout and "truncated" in result.stdout


def test_unreadable_image_is_marked_not_skipped(tiny_model, geoqa_with_images, tmp_path):
    (geoqa_with_images.parent / "test" / "1.png").write_bytes(b"not a png")
    config = EvalConfig(bench="geoqa", data=str(geoqa_with_images), out=str(tmp_path / "o"), report=False)
    summary = run_evaluation(config, GenerationConfig(model=tiny_model, max_new_tokens=4))
    assert summary["errors"] == 1 and summary["error_ids"] == ["1"] and summary["n"] == 4
    sample = next(json.loads(s) for s in (tmp_path / "o/samples.jsonl").read_text().splitlines() if '"1"' in s)
    assert sample["status"] == "error" and "not an image" in sample["reason"]
    issues = (tmp_path / "o/issues.txt").read_text()
    assert f"{geoqa_with_images}: id '1': image: " in issues and "not asked; counts as an error" in issues
    assert summary["text_only"] == 0


def test_killed_run_resumes_to_the_same_samples(tiny_model, tmp_path):
    # 12 held-out GeoSynth problems (with real diagrams), one per batch, each appended as soon as it is done.
    args = [
        "eval/run.py",
        "--bench",
        "geosynth",
        "--data",
        "geosynth:eval:12",
        "--model",
        tiny_model,
        "--max_new_tokens",
        "32",
        "--batch_size",
        "1",
        "--save_every",
        "1",
        "--report",
        "false",
    ]
    full = run_script(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]

    resumed = tmp_path / "resumed"
    responses = resumed / "responses.jsonl"
    proc = subprocess.Popen(
        [sys.executable, *args, "--out", str(resumed)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and (not responses.exists() or len(responses.read_text().splitlines()) < 2):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    written = responses.read_text().splitlines()
    assert 2 <= len(written) < 12, "the run should have been killed part-way"
    with responses.open("a") as f:  # a line cut off mid-write by the kill
        f.write('{"id": "eval-0011", "prompt": "As sho')
    again = run_script(*args, "--out", str(resumed))
    assert again.returncode == 0, again.stderr[-2000:]
    assert responses.read_text().splitlines()[: len(written)] == written  # nothing done before was redone
    assert (resumed / "samples.jsonl").read_text() == (tmp_path / "full/samples.jsonl").read_text()
    assert "invalid JSON" in (resumed / "issues.txt").read_text()


class FakeChatServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions whose behaviour depends on the question in the prompt."""

    attempts: dict = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][0]["content"][-1]["text"]
        has_image = body["messages"][0]["content"][0]["type"] == "image_url"
        key = text
        FakeChatServer.attempts[key] = FakeChatServer.attempts.get(key, 0) + 1
        attempt = FakeChatServer.attempts[key]
        if "angle A = 80.0" in text and attempt == 1:  # id 0: a transient 500, then a good answer
            return self._send(500, {"error": "overloaded"})
        if "EG bisects" in text:  # id 1: a bad request, never retried
            return self._send(400, {"error": "bad request"})
        if "BD bisects" in text and attempt == 1:  # id 2: slower than the client's timeout, once
            time.sleep(1.5)
        if "radius of circle O" in text:  # id 88: hits the token limit
            return self._send(200, self._completion("Let me think... angle BOC is", "length"))
        answer = {True: "Answer: D", False: "Answer: A"}["angle A = 80.0" in text]
        return self._send(200, self._completion(f"image seen: {has_image}. {answer}", "stop", body.get("n", 1)))

    @staticmethod
    def _completion(content, reason, n=1):
        return {
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": reason}
                for i in range(n)
            ]
        }

    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_openai_backend_against_a_real_http_server(geoqa_with_images, tmp_path):
    FakeChatServer.attempts = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gen = GenerationConfig(
            backend="openai",
            model="served-model",
            api_base=f"http://127.0.0.1:{server.server_port}/v1",
            concurrency=4,
            request_timeout=1.0,
            max_retries=2,
            max_new_tokens=32,
        )
        config = EvalConfig(bench="geoqa", data=str(geoqa_with_images), out=str(tmp_path / "o"), report=False)
        summary = run_evaluation(config, gen)
    finally:
        server.shutdown()
    samples = {s["id"]: s for s in map(json.loads, (tmp_path / "o/samples.jsonl").read_text().splitlines())}
    assert samples["0"]["correct"] and samples["0"]["extracted"] == "D"  # retried after the 500
    assert samples["1"]["status"] == "error" and "HTTP 400" in samples["1"]["reason"]
    assert FakeChatServer.attempts[next(k for k in FakeChatServer.attempts if "EG bisects" in k)] == 1
    assert samples["2"]["extracted"] == "A"  # answered on the retry after a timeout
    assert samples["88"]["finish_reason"] == "length" and samples["88"]["status"] == "no_answer"
    assert (summary["errors"], summary["truncated"], summary["correct"]) == (1, 1, 2)  # id 2's gold is A
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "o/responses.jsonl").read_text().splitlines())}
    assert records["0"]["responses"][0].startswith("image seen: True")


class FakeExtractor(BaseHTTPRequestHandler):
    """Answers the LLM-extraction prompt: "D" when the response mentions the last option, else NONE."""

    calls = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeExtractor.calls += 1
        prompt = body["messages"][0]["content"][-1]["text"]
        answer = "D" if "the last option" in prompt else "NONE"
        FakeChatServer._send(self, 200, FakeChatServer._completion(answer, "stop"))


def test_llm_extractor_only_where_rules_find_nothing_and_cached(assets, tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "0",
                    "response": "The co-interior angles add up, so it must be the last option, I am fairly sure",
                },
                {"id": "1", "response": "Answer: C"},
                {"id": "2", "response": "I cannot tell from this figure"},
            ]
        )
        + "\n"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeExtractor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = EvalConfig(
        bench="geoqa",
        data=str(assets / "geoqa/test_questions.jsonl"),
        predictions=str(preds),
        out=str(tmp_path / "o"),
        extractor="llm",
        extractor_model="judge",
        extractor_api_base=f"http://127.0.0.1:{server.server_port}/v1",
        report=False,
    )
    try:
        summary = run_evaluation(config)
    finally:
        server.shutdown()
    samples = {s["id"]: s for s in map(json.loads, (tmp_path / "o/samples.jsonl").read_text().splitlines())}
    assert samples["0"]["method"] == "llm" and samples["0"]["correct"]
    assert samples["1"]["method"] == "answer_label"  # the rules found it: the LLM was not asked
    assert samples["2"]["status"] == "no_answer"
    assert FakeExtractor.calls == 2 and summary["correct"] == 2
    summary = run_evaluation(config)  # the server is gone: the cached extractions are reused
    assert summary["correct"] == 2 and FakeExtractor.calls == 2


def test_text_only_problems_are_counted_and_listed(tiny_model, geoqa_with_images, tmp_path):
    """--missing_image text_only: an unreadable and a missing diagram are asked without, scored, and reported."""
    (geoqa_with_images.parent / "test" / "1.png").write_bytes(b"not a png")
    (geoqa_with_images.parent / "test" / "2.png").unlink()
    out = tmp_path / "o"
    result = run_script(
        "eval/run.py",
        "--bench",
        "geoqa",
        "--data",
        str(geoqa_with_images.parent),
        "--model",
        tiny_model,
        "--max_new_tokens",
        "4",
        "--missing_image",
        "text_only",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["text_only"], summary["text_only_ids"], summary["errors"], summary["n"]) == (2, ["1", "2"], 0, 4)
    assert summary["correct"] + summary["wrong"] + summary["no_answer"] == 4  # all four are scored
    samples = {s["id"]: s for s in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    assert samples["1"]["text_only"] and "not an image" in samples["1"]["error"]
    assert "text_only" not in samples["0"]
    issues = (out / "issues.txt").read_text().splitlines()
    assert len(issues) == 2 and summary["issues"] == 2
    assert issues[0].startswith(f"{geoqa_with_images.parent}: id '1': image: ") and "not an image" in issues[0]
    assert "2.png: file not found" in issues[1]
    assert issues[1].endswith("asked without the image (--missing_image text_only)")
    assert "geoqa: 2 problems had an unreadable image, were asked without it and are scored: 1, 2" in result.stdout


class SurrogateServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose answers hold a lone surrogate, as JSON lets a buggy server send."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        # json.dumps escapes the lone surrogate as \ud800: valid JSON that no UTF-8 file can hold once decoded.
        FakeChatServer._send(self, 200, FakeChatServer._completion("odd \ud800 bytes. Answer: D", "stop"))


def test_lone_surrogate_in_a_model_response_is_stored_and_reported(geoqa_with_images, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SurrogateServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gen = GenerationConfig(backend="openai", model="m", api_base=f"http://127.0.0.1:{server.server_port}/v1")
    try:
        summary = run_evaluation(EvalConfig(bench="geoqa", data=str(geoqa_with_images), out=str(tmp_path / "o")), gen)
    finally:
        server.shutdown()
    records = [json.loads(line) for line in (tmp_path / "o/responses.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["responses"] for r in records] == [["odd \ufffd bytes. Answer: D"]] * 4
    issues = (tmp_path / "o/issues.txt").read_text(encoding="utf-8")
    assert f"{tmp_path / 'o/responses.jsonl'}: id '0': response has lone surrogates" in issues
    assert summary["correct"] == 1 and summary["issues"] == 4
    assert "odd \ufffd bytes" in (tmp_path / "o/report.html").read_text(encoding="utf-8")
