"""The OpenAI-compatible client against a real server on 127.0.0.1 (redstar_geo.fake_server): every fault a server,
proxy or network has produced, retries, deadlines, reruns that retry exactly the failures, and a killed evaluation
that resumes to the same samples."""

import itertools
import json
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_script
from PIL import Image, ImageDraw

from redstar_geo.evaluation import EvalConfig, run_evaluation
from redstar_geo.fake_server import FakeServer
from redstar_geo.generation import GenerationConfig
from redstar_geo.openai_client import ChatClient, MalformedReply, parse_chat_completion, retry_after_seconds

# fault marker -> the kind of error the sample ends with (None: the reply is good, possibly after retries)
FAULTS = {
    "500": "generation: HTTP 500",
    "503x1": None,  # one 503, then a good reply
    "429x1": None,  # rate limited once (Retry-After: 1), then a good reply
    "400": "generation: HTTP 400",
    "html502": "generation: HTTP 502",
    "html200": "generation: malformed reply",
    "drop": "generation: connection",
    "garbage_status": "generation: connection",
    "truncated": "generation: connection",
    "trickle": "generation: timeout",
    "choices_strings": "generation: malformed reply",
    "message_string": "generation: malformed reply",
    "content_int": "generation: malformed reply",
    "no_choices": "generation: malformed reply",
    "non_utf8": "generation: malformed reply",
    "surrogate": None,  # stored with U+FFFD and reported as an issue
    "content_parts": None,  # joined into one text
    "reasoning": None,  # the thinking kept apart
    "none": None,
}


def completion(**message):
    return {"choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}]}


def test_replies_are_checked_field_by_field():
    parts = completion(
        content=[{"type": "text", "text": "Answer: "}, {"type": "image_url"}, {"type": "text", "text": "B"}]
    )
    assert parse_chat_completion(parts, 1).texts == ["Answer: B"]
    reply = parse_chat_completion(completion(content=None, reasoning_content="thinking..."), 1)
    assert (reply.texts, reply.reasoning, reply.finish_reasons) == ([""], ["thinking..."], ["stop"])
    two = {"choices": [{"index": 1, "message": {"content": "b"}}, {"index": 0, "message": {"content": "a"}}]}
    assert parse_chat_completion(two, 2).texts == ["a", "b"]  # in index order
    for bad, reason in [
        ({"choices": ["hello"]}, "a choice is a str"),
        ({"choices": [{"message": "hi"}]}, "'message' is str"),
        (completion(content=42), "content is int (42)"),
        (completion(content={"text": "x"}), "content is dict"),
        ({"choices": []}, "not a non-empty list"),
        ([1, 2], "JSON list, not an object"),
        ({"error": {"message": "model overloaded"}}, "error object instead of choices: model overloaded"),
        (completion(content="a"), "asked for n=2 choices, got 1"),
    ]:
        with pytest.raises(MalformedReply, match=re.escape(reason)):
            parse_chat_completion(bad, 2 if "n=2" in reason else 1)
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now
    assert retry_after_seconds("soon") is None


def test_window_pulls_items_only_as_slots_free_up():
    """Memory stays bounded: an endless stream of items is read a window at a time, and stopping early works."""
    pulled = itertools.count()
    with FakeServer(latency_median=0.01) as server:
        client = ChatClient(server.base_url, concurrency=8, request_timeout=5)
        items = (next(pulled) for _ in itertools.count())
        got = 0
        for done in client.stream(items, lambda i: {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}):
            got += len(done)
            if got >= 40:
                break
    assert 40 <= got and next(pulled) <= got + 2 * 8 + 32 + 1  # in flight + queued + one prefetched batch


def test_deadline_bounds_the_whole_request_not_each_read():
    """A reply trickled one byte every 0.5 s is cut off at the deadline, not allowed 0.5 s per byte."""
    with FakeServer() as server:
        client = ChatClient(server.base_url, concurrency=1, request_timeout=1.0, max_retries=0)
        start = time.perf_counter()
        (reply,) = client.complete_all(
            [{"model": "m", "messages": [{"role": "user", "content": "[[fault:trickle]]"}]}]
        )
    assert reply.error == "timeout: no complete reply within 1 s"
    assert time.perf_counter() - start < 3


def geoqa_with_faults(tmp_path, faults) -> str:
    """A G-LLaVA-format GeoQA file whose question i carries fault marker i and asks for answer B (the gold)."""
    (tmp_path / "test").mkdir()
    questions, answers = [], []
    for i, fault in enumerate(faults):
        img = Image.new("RGB", (96, 64), "white")
        ImageDraw.Draw(img).line([(8, 56), (88, 56), (40, 8), (8, 56)], fill="black")
        img.save(tmp_path / "test" / f"{i}.png")
        marker = f"[[fault:{fault}]] " if fault != "none" else ""
        text = (
            "\nFirst perform reasoning, then finally select the answer from the choices in the following format: "
            f"Answer: xxx.\nQuestion:{marker}[[answer:B]] In triangle ABC, angle A = {40 + i}°, angle B = 60°, find "
            "angle C ()\nChoices:\nA:40°\nB:80°\nC:60°\nD:20°"
        )
        questions.append({"question_id": i, "image": f"test/{i}.png", "text": text})
        answers.append({"question_id": i, "text": "B"})
    for name, rows in (("test_questions.jsonl", questions), ("test_answers.jsonl", answers)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "test_questions.jsonl")


def test_every_fault_becomes_a_sample_error_and_a_rerun_retries_exactly_those(tmp_path):
    data = geoqa_with_faults(tmp_path, list(FAULTS))
    out = tmp_path / "run"
    config = EvalConfig(bench="geoqa", data=data, out=str(out), report=False)
    gen = dict(backend="openai", model="fake", concurrency=8, request_timeout=1.0, max_retries=2, retry_backoff=0.05)
    with FakeServer() as server:
        summary = run_evaluation(config, GenerationConfig(api_base=server.base_url, **gen))
        first_attempts = dict(server.attempts)
    samples = {s["id"]: s for s in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    failing = {str(i) for i, kind in enumerate(FAULTS.values()) if kind}
    for i, (fault, kind) in enumerate(FAULTS.items()):
        sample = samples[str(i)]
        if kind:
            assert sample["status"] == "error" and sample["reason"].startswith(kind), (fault, sample["reason"])
        else:
            assert sample["correct"], (fault, sample)
    assert summary["errors"] == len(failing) and set(summary["error_ids"]) == failing
    expected_kinds = {}
    for kind in filter(None, FAULTS.values()):
        expected_kinds[kind] = expected_kinds.get(kind, 0) + 1
    assert summary["error_kinds"] == expected_kinds
    # Retried: 5xx, dropped connections, timeouts (3 attempts); never retried: 400 and malformed replies.
    attempts = {fault: sum(n for p, n in first_attempts.items() if f"[[fault:{fault}]]" in p) for fault in FAULTS}
    assert attempts["500"] == attempts["drop"] == attempts["trickle"] == 3 and attempts["503x1"] == 2
    assert attempts["400"] == attempts["content_int"] == attempts["html200"] == 1
    records = {r["id"]: r for r in map(json.loads, (out / "responses.jsonl").read_text(encoding="utf-8").splitlines())}
    reasoning_id, surrogate_id = str(list(FAULTS).index("reasoning")), str(list(FAULTS).index("surrogate"))
    assert records[reasoning_id]["reasoning"] == ["First I look at the figure. Wait, let me verify."]
    assert records[surrogate_id]["responses"][0].startswith("Let \ufffd me work")
    assert "lone surrogates" in (out / "issues.txt").read_text(encoding="utf-8")

    # The server is healthy again: the rerun sends exactly the failed samples, and nothing that succeeded.
    with FakeServer(faults=False) as healthy:
        summary = run_evaluation(config, GenerationConfig(api_base=healthy.base_url, **gen))
        resent = {p for p in healthy.attempts}
    assert resent == {p for p in first_attempts if any(f"[[fault:{f}]]" in p for f, k in FAULTS.items() if k)}
    assert len(resent) == len(failing) and summary["errors"] == 0 and summary["correct"] == len(FAULTS)
    lines = (out / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(FAULTS) and {json.loads(line)["id"] for line in lines} == set(samples)
    again = {r["id"]: r for r in map(json.loads, lines)}
    assert all(again[i] == records[i] for i in records if i not in failing)  # the finished ones were kept as they were


def test_stored_non_text_responses_are_generated_again(tmp_path):
    """A responses.jsonl from an older version holding "content": 42 as a response is repaired, not re-read forever."""
    data = geoqa_with_faults(tmp_path, ["none", "none"])
    out = tmp_path / "run"
    out.mkdir()
    (out / "responses.jsonl").write_text(
        json.dumps({"id": "0", "prompt": "p", "responses": [42], "finish_reasons": ["stop"], "error": None}) + "\n"
    )
    config = EvalConfig(bench="geoqa", data=data, out=str(out), report=False)
    with FakeServer() as server:
        summary = run_evaluation(config, GenerationConfig(backend="openai", model="m", api_base=server.base_url))
    assert summary["correct"] == 2 and server.requests == 2
    assert "stored responses are not all text" in (out / "issues.txt").read_text()


def test_killed_openai_evaluation_resumes_to_the_same_samples(tmp_path):
    args = ["eval/run.py", "--bench", "geosynth", "--data", "geosynth:eval:48", "--backend", "openai"]
    args += ["--model", "fake", "--concurrency", "6", "--report", "false"]
    with FakeServer(latency_median=0.05, latency_sigma=1.0) as server:
        args += ["--api_base", server.base_url]
        full = run_script(*args, "--out", str(tmp_path / "full"))
        assert full.returncode == 0, full.stderr[-2000:]

        resumed = tmp_path / "resumed"
        responses = resumed / "responses.jsonl"
        proc = subprocess.Popen(
            [sys.executable, *args, "--out", str(resumed)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while time.time() < deadline and (not responses.exists() or len(responses.read_text().splitlines()) < 8):
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        written = [line for line in responses.read_text().splitlines() if line.endswith("}")]  # a kill may cut one
        assert 8 <= len(written) < 48, "the run should have been killed part-way"
        sent_before = server.requests
        again = run_script(*args, "--out", str(resumed))
        assert again.returncode == 0, again.stderr[-2000:]
    assert server.requests - sent_before == 48 - len(written)  # only what was unfinished
    assert responses.read_text().splitlines()[: len(written)] == written
    assert (resumed / "samples.jsonl").read_text() == (tmp_path / "full/samples.jsonl").read_text()
    full_records = {r["id"]: r["responses"] for r in map(json.loads, (tmp_path / "full/responses.jsonl").open())}
    assert {r["id"]: r["responses"] for r in map(json.loads, responses.open())} == full_records
