"""The Gradio demo (redstar_geo/demo.py, demo/app.py): its request handler with scripted backends, in-process
streaming with the tiny model, SSE streaming from an OpenAI-compatible server, and the served app through
gradio_client (20 concurrent requests, each answered; a non-image upload refused with a message)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from redstar_geo.config import parse_config
from redstar_geo.demo import (
    DemoConfig,
    DemoExample,
    DemoSession,
    EndpointBackend,
    InProcessBackend,
    LoopGuard,
    Throttle,
    answer_card,
    clean_display,
    demo_examples,
    parse_choices,
    split_reasoning,
)
from redstar_geo.openai_client import ChatClient, ChatDelta, StreamError
from redstar_geo.schema import Problem

QUESTION = "Find the length of side h."
LOOP_SENTENCE = "Let me check angle ABC again, since it is equal to angle ACB. "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choice_problem(**kwargs) -> Problem:
    fields = dict(
        id="p1", source="test", question="Find angle B.", choices=["30°", "45°", "60°", "120°"], answer_letter="C"
    )
    return Problem(**{**fields, **kwargs})


class ScriptedBackend:
    """A backend that streams given pieces (then, with ``forever``, repeats the last one until stopped)."""

    image_format = "object"
    name = "scripted"

    def __init__(self, pieces, forever=False, delay=0.0):
        self.pieces, self.forever, self.delay = list(pieces), forever, delay
        self.messages = None

    def stream(self, messages, settings, stop):
        self.messages = messages
        n = 0
        for piece in self.pieces:
            if stop.is_set():
                break
            n += 1
            time.sleep(self.delay)
            yield ChatDelta(content=piece, completion_tokens=n)
        while self.forever and not stop.is_set() and n < 100_000:
            n += 1
            time.sleep(self.delay)
            yield ChatDelta(content=self.pieces[-1], completion_tokens=n)
        reason = "cancelled" if stop.is_set() else "stop"
        yield ChatDelta(finish_reason=reason, completion_tokens=n)


def run(session, *args, **kwargs):
    """All updates of one request."""
    return list(session.respond(*args, **kwargs))


# ---------------------------------------------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------------------------------------------
def test_parse_choices_takes_lines_with_or_without_letters():
    assert parse_choices("") == []
    assert parse_choices("A. 30°\nB. 45°\n\nC: 60°\n(D) 120°") == ["30°", "45°", "60°", "120°"]
    assert parse_choices("30°\n45°") == ["30°", "45°"]
    assert parse_choices("A. 30°\nC. 45°") == ["A. 30°", "C. 45°"]  # not A, B: the letters are part of the text
    with pytest.raises(ValueError, match="1 choices"):
        parse_choices("30°")
    with pytest.raises(ValueError, match="9 choices"):
        parse_choices("\n".join(map(str, range(9))))


def test_throttle_lets_through_a_few_updates_per_second():
    now = [0.0]
    throttle = Throttle(4, clock=lambda: now[0])
    passed = []
    for _ in range(400):  # 400 tokens over 2 seconds
        passed.append(throttle())
        now[0] += 0.005
    assert passed[0] and 8 <= sum(passed) <= 9


def test_loop_guard_catches_a_loop_and_checks_only_every_n_tokens():
    problem = choice_problem()
    guard = LoopGuard(problem, every=64)
    looping = "We start from the figure. " + LOOP_SENTENCE * 12
    assert not guard(looping, 10)  # not yet time to check
    assert guard(looping, 64)
    guard = LoopGuard(problem, every=64)
    healthy = "In triangle ABC, AB = AC, so angle B = angle C = (180° - 60°) / 2 = 60°. The answer is \\boxed{C}."
    assert not guard(healthy, 64) and not guard(healthy * 2, 200)


def test_split_reasoning_and_clean_display():
    assert split_reasoning("<think>AB = 3</think> The answer is \\boxed{B}.") == (
        "AB = 3",
        "The answer is \\boxed{B}.",
    )
    assert split_reasoning("AB = 3, so \\boxed{B}") == ("AB = 3, so \\boxed{B}", "")
    assert clean_display("a\x00b\x1bc\nd\te") == "abc\nd\te"


def test_answer_card_shows_the_letter_with_its_choice_and_the_verdict():
    problem = choice_problem()
    card = answer_card("angle B = 60°, so the answer is \\boxed{C}.", problem, finished=True, judged=True)
    assert "## C. 60°" in card and "✓ **correct**" in card
    card = answer_card("so the answer is \\boxed{A}.", problem, finished=True, judged=True)
    assert "## A. 30°" in card and "✗ **wrong** — gold answer C (60°)" in card
    card = answer_card("so the answer is \\boxed{A}.", problem, finished=True, judged=False)
    assert "## A. 30°" in card and "gold" not in card
    free = Problem(id="f", source="test", question="Find the area.", answer="9\\pi")
    assert "## $9\\pi$" in answer_card("Area = \\boxed{9\\pi}", free, finished=True, judged=True)
    assert "No final answer" in answer_card("still thinking", free, finished=True, judged=True)
    assert "gold answer $9\\pi$" in answer_card("still thinking", free, finished=True, judged=True)
    assert "appears once" in answer_card("still thinking", free, finished=False, judged=True)


def test_config_defaults_are_safe_and_checked():
    (config,) = parse_config(DemoConfig, args=[])
    assert config.host == "127.0.0.1" and not config.share and not config.trust_remote_code
    assert config.model is None and config.endpoint is None and config.concurrency == 1
    (config,) = parse_config(DemoConfig, args=["--endpoint", "http://127.0.0.1:8000/v1", "--model", "m", "--share"])
    assert config.share and config.concurrency == 8
    with pytest.raises(ValueError, match="--endpoint needs --model"):
        DemoConfig(endpoint="http://127.0.0.1:8000/v1")
    with pytest.raises(ValueError, match="max_new_tokens"):
        DemoConfig(max_new_tokens=0)


def test_examples_are_real_mathverse_diagrams_and_geosynth_problems(tmp_path, shared_data):
    examples = demo_examples(tmp_path)
    mathverse = [e for e in examples if e.id.startswith("mathverse-")]
    geosynth = [e for e in examples if e.id.startswith("geosynth-")]
    assert len(mathverse) == 4 and len(geosynth) == 3
    assert mathverse[0].label == "MathVerse 226 · right triangle: find side h"
    for example in examples:
        assert Path(example.image_path).is_file() and example.problem.has_gold
    # MathVerse diagrams are read where they are, not copied
    assert all(Path(e.image_path).parent == shared_data / "mathverse" / "images" for e in mathverse)
    assert all(Path(e.image_path).parent == tmp_path and e.problem.language == "en" for e in geosynth)


# ---------------------------------------------------------------------------------------------------------------
# the request handler, with scripted backends
# ---------------------------------------------------------------------------------------------------------------
def test_respond_streams_throttled_updates_and_a_final_answer(assets):
    pieces = [f"step {i}: angle B grows. " for i in range(300)] + ["So the answer is \\boxed{C}."]
    backend = ScriptedBackend(pieces, delay=0.001)
    session = DemoSession(backend, DemoConfig(updates_per_second=4, examples=False))
    start = time.monotonic()
    updates = run(session, None, "Find angle B.", "30°\n45°\n60°\n120°", "", 512, 0.0, 1.0)
    seconds = time.monotonic() - start
    assert len(updates) <= 2 + 4 * seconds + 2  # first, throttled ones, final: not one per token (302 pieces)
    chat, card, status = updates[-1]
    thinking = chat[-1]
    assert thinking["metadata"]["title"] == "Reasoning" and thinking["metadata"]["status"] == "done"
    assert thinking["content"].endswith("\\boxed{C}.") and "301 tokens" in thinking["metadata"]["log"]
    assert "## C. 60°" in card and "gold" not in card  # a typed question has no gold answer
    assert status.startswith("✓ finished") and "**301** tokens" in status
    # the prompt is the benchmark prompt with the choices, built by redstar_geo.messages
    text = backend.messages[-1]["content"][-1]["text"]
    assert text.startswith("Find angle B.\n\nChoices:\nA. 30°") and "\\boxed{}" in text
    assert [u[2].startswith("● generating") for u in updates[:-1]] == [True] * (len(updates) - 1)


def test_a_clicked_example_is_judged_until_the_question_is_edited(tmp_path):
    problem = choice_problem(id="geosynth-x", question="In triangle ABC, find angle B.")
    image = tmp_path / "d.png"
    from PIL import Image

    Image.new("RGB", (64, 64), "white").save(image)
    example = DemoExample("geosynth-x", "GeoSynth", problem, str(image))
    session = DemoSession(ScriptedBackend(["B = 60°, \\boxed{C}"]), DemoConfig(examples=False), [example])
    choices = "\n".join(problem.choices)
    chat, card, _ = run(session, str(image), problem.question, choices, "geosynth-x", 64, 0.0, 1.0)[-1]
    assert "✓ **correct** — gold answer C (60°)" in card
    assert chat[0]["content"] == {"path": str(image)} and chat[1]["content"].startswith(problem.question)
    _, card, _ = run(session, str(image), problem.question + " Explain.", choices, "geosynth-x", 64, 0.0, 1.0)[-1]
    assert "## C. 60°" in card and "correct" not in card


def test_stop_ends_the_stream_of_that_session_only():
    backend = ScriptedBackend(["thinking about the angles... "], forever=True, delay=0.002)
    session = DemoSession(backend, DemoConfig(examples=False, loop_check_tokens=10**9))
    updates = []

    def ask():
        updates.extend(session.respond(None, "Find x.", "", "", 8000, 0.0, 1.0, session="alice"))

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.5)
    assert session.stop("bob") == 0  # another user's stop button
    assert thread.is_alive()
    assert session.stop("alice") == 1
    thread.join(10)
    assert not thread.is_alive()
    chat, card, status = updates[-1]
    assert status.startswith("■ stopped") and chat[-1]["metadata"]["status"] == "done"
    assert session.stop("alice") == 0  # nothing left running


def test_loop_guard_stops_a_reply_that_repeats_itself():
    backend = ScriptedBackend(["We start from the figure. ", LOOP_SENTENCE], forever=True)
    session = DemoSession(backend, DemoConfig(examples=False, loop_check_tokens=32))
    chat, card, status = run(session, None, "Find x.", "", "", 100_000, 0.0, 1.0)[-1]
    assert status.startswith("↻ stopped by the loop guard")
    tokens = int(chat[-1]["metadata"]["log"].split()[0])
    assert tokens < 100  # caught after a few hundred characters of loop, not at max new tokens


def test_bad_requests_are_refused_with_a_message(tmp_path):
    session = DemoSession(ScriptedBackend(["x"]), DemoConfig(examples=False, max_image_pixels=100 * 100))
    with pytest.raises(ValueError, match="Type a question"):
        run(session, None, "  ", "", "", 64, 0.0, 1.0)
    with pytest.raises(ValueError, match="1 choices"):
        run(session, None, "Find x.", "only one", "", 64, 0.0, 1.0)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not an image.*Upload a PNG or JPEG"):
        run(session, str(text), "Find x.", "", "", 64, 0.0, 1.0)
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGB", (200, 200)).save(big)
    with pytest.raises(ValueError, match="exceeds the limit of 10000"):
        run(session, str(big), "Find x.", "", "", 64, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# in-process streaming with the tiny model
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_backend(tiny_dir):
    from redstar_geo.models import load_model_and_processor

    model, processor = load_model_and_processor(str(tiny_dir))
    return InProcessBackend(model, processor, "tiny")


def test_stream_transformers_streams_tokens_and_stops_on_the_event(tiny_backend):
    from PIL import Image

    from redstar_geo.demo import Settings
    from redstar_geo.generation import stream_transformers
    from redstar_geo.messages import chat_messages

    messages = chat_messages("Find x.", image=Image.new("RGB", (56, 56), "white"))
    model, processor = tiny_backend.model, tiny_backend.processor
    deltas = list(stream_transformers(model, processor, messages, max_new_tokens=12, temperature=1.0, seed=0))
    assert deltas[-1].finish_reason in ("length", "stop") and deltas[-1].completion_tokens <= 12
    assert sum(bool(d.content) for d in deltas) >= 2  # several pieces, not one at the end
    counts = [d.completion_tokens for d in deltas[:-1]]
    assert counts == sorted(counts)

    stop = threading.Event()
    seen = []
    start = time.monotonic()
    for delta in tiny_backend.stream(messages, Settings(max_new_tokens=5000, temperature=1.0, seed=0), stop):
        seen.append(delta)
        if len(seen) == 5:
            stop.set()
    assert time.monotonic() - start < 10
    assert seen[-1].finish_reason == "cancelled" and seen[-1].completion_tokens < 50


def test_closing_the_stream_early_stops_generation(tiny_backend):
    from redstar_geo.demo import Settings
    from redstar_geo.messages import chat_messages

    stream = tiny_backend.stream(chat_messages("Find x."), Settings(max_new_tokens=5000, temperature=1.0), None)
    next(stream)
    start = time.monotonic()
    stream.close()  # joins the generation thread, which must end at the next token
    assert time.monotonic() - start < 5


# ---------------------------------------------------------------------------------------------------------------
# streaming from an OpenAI-compatible server (server-sent events)
# ---------------------------------------------------------------------------------------------------------------
class SSEServer:
    """A minimal streaming ``/v1/chat/completions`` on 127.0.0.1: ``[[reasoning]]`` in the prompt sends the
    thinking as ``reasoning_content``; ``[[fail503xK]]`` answers 503 the first K times; ``[[bad]]`` sends a chunk
    that is not JSON; ``[[slow]]`` streams a long reply slowly."""

    def __init__(self):
        self.port = free_port()
        self.requests: list[dict] = []
        self.disconnects = 0
        self.failures: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, request):
        from aiohttp import web

        body = await request.json()
        self.requests.append(body)
        prompt = json.dumps(body["messages"])
        if "[[fail503x" in prompt:
            k = int(prompt.split("[[fail503x")[1].split("]]")[0])
            self.failures[prompt] = self.failures.get(prompt, 0) + 1
            if self.failures[prompt] <= k:
                return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if "[[http400]]" in prompt:
            return web.json_response({"error": {"message": "bad request: max_tokens too large"}}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(obj):
            data = obj if isinstance(obj, str) else json.dumps(obj)
            await response.write(f"data: {data}\n\n".encode())

        def chunk(delta, finish=None):
            return {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        try:
            await response.write(b": keep-alive comment\n\n")
            await send(chunk({"role": "assistant", "content": ""}))
            if "[[reasoning]]" in prompt:
                for piece in ["AB = 3, ", "so BC = 4."]:
                    await send(chunk({"reasoning_content": piece}))
            if "[[bad]]" in prompt:
                await send(chunk({"content": "partial "}))
                await send("{not json")
            pieces = ["The answer ", "is ", "\\boxed{C}."]
            if "[[slow]]" in prompt:
                pieces = ["thinking. "] * 2000
            for piece in pieces:
                await send(chunk({"content": piece}))
                if "[[slow]]" in prompt:
                    await asyncio.sleep(0.01)
            await send(chunk({}, finish="stop"))
            await send({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 7}})
            await send("[DONE]")
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        return response

    def __enter__(self):
        from aiohttp import web

        started = threading.Event()
        self.loop = asyncio.new_event_loop()

        async def start():
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self.handle)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
            started.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()))
        self.thread.daemon = True
        self.thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def body(text: str) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "max_tokens": 64}


@pytest.fixture
def sse_server():
    with SSEServer() as server:
        yield server


def test_stream_chat_yields_content_reasoning_and_the_token_count(sse_server):
    client = ChatClient(sse_server.base_url, max_retries=0)
    deltas = list(client.stream_chat(body("Find x. [[reasoning]]")))
    assert "".join(d.reasoning for d in deltas) == "AB = 3, so BC = 4."
    assert "".join(d.content for d in deltas) == "The answer is \\boxed{C}."
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert deltas[-1].completion_tokens == 7
    sent = sse_server.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_stream_chat_retries_before_the_first_piece_and_names_errors(sse_server):
    client = ChatClient(sse_server.base_url, max_retries=2, retry_backoff=0.01)
    text = "".join(d.content for d in client.stream_chat(body("Find x. [[fail503x2]]")))
    assert text == "The answer is \\boxed{C}." and len(sse_server.requests) == 3
    with pytest.raises(StreamError, match="HTTP 400: .*max_tokens too large"):
        list(client.stream_chat(body("[[http400]]")))
    got = []
    with pytest.raises(StreamError, match="malformed reply: not JSON"):
        for delta in client.stream_chat(body("[[bad]]")):
            got.append(delta.content)
    assert "partial " in got  # what came before the bad chunk was delivered
    closed = ChatClient(f"http://127.0.0.1:{free_port()}/v1", max_retries=1, retry_backoff=0.01)
    with pytest.raises(StreamError, match="connection:"):
        list(closed.stream_chat(body("Find x.")))


def test_stream_chat_stop_cancels_the_request(sse_server):
    client = ChatClient(sse_server.base_url, max_retries=0)
    stop = threading.Event()
    deltas = []
    start = time.monotonic()
    for delta in client.stream_chat(body("[[slow]]"), stop=stop):
        deltas.append(delta)
        if len(deltas) == 10:
            stop.set()
    assert deltas[-1].finish_reason == "cancelled" and time.monotonic() - start < 5
    deadline = time.monotonic() + 5
    while sse_server.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sse_server.disconnects == 1  # the server saw the connection close: it can stop generating


def test_the_demo_against_an_endpoint_separates_the_servers_reasoning(sse_server):
    backend = EndpointBackend(sse_server.base_url, "served-model")
    session = DemoSession(backend, DemoConfig(endpoint=sse_server.base_url, model="served-model", examples=False))
    chat, card, status = run(session, None, "Find x. [[reasoning]]", "1\n2\n3\n4", "", 64, 0.0, 1.0)[-1]
    assert chat[-2]["metadata"]["title"] == "Reasoning" and chat[-2]["content"] == "AB = 3, so BC = 4."
    assert chat[-1] == {"role": "assistant", "content": "The answer is \\boxed{C}."}
    assert "## C. 3" in card and "**7** tokens" in status
    sent = sse_server.requests[-1]
    assert sent["model"] == "served-model" and sent["max_tokens"] == 64


# ---------------------------------------------------------------------------------------------------------------
# the served app, through gradio_client
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served_app(tiny_backend, tmp_path_factory):
    pytest.importorskip("gradio")
    pytest.importorskip("gradio_client")
    from redstar_geo.demo import build_demo, launch

    config = DemoConfig(port=0, max_upload_mb=1, examples=False)  # 0: a free port
    demo = build_demo(tiny_backend, config)
    launch(demo, config, prevent_thread_lock=True, quiet=True)
    yield demo, config
    demo.close()


def test_twenty_concurrent_requests_are_all_answered(served_app, assets):
    from gradio_client import Client, handle_file

    demo, config = served_app
    assert demo.local_url.startswith("http://127.0.0.1:")  # bound to loopback by default
    image = handle_file(str(assets / "geoqa_original" / "image" / "0.png"))
    client = Client(demo.local_url, verbose=False)
    start = time.monotonic()
    jobs = [
        client.submit(image if i % 2 else None, f"Find x. (request {i})", "", "", 8, 0.0, 1.0, api_name="/answer")
        for i in range(20)
    ]
    results = [job.result(timeout=300) for job in jobs]
    seconds = time.monotonic() - start
    assert len(results) == 20
    for i, (chat, card, status) in enumerate(results):
        assert status.startswith("✓"), status
        assert chat[-2]["content"][0]["text"] == f"Find x. (request {i})"
        assert chat[-1]["metadata"]["title"] == "Reasoning" and chat[-1]["metadata"]["status"] == "done"
        assert card.startswith("#### Answer")
    print(f"20 concurrent requests answered in {seconds:.1f} s")


def test_a_non_image_upload_is_refused_with_a_message(served_app, tmp_path):
    from gradio_client import Client, handle_file

    demo, _ = served_app
    notes = tmp_path / "notes.txt"
    notes.write_text("angle ABC = 40°")
    client = Client(demo.local_url, verbose=False)
    with pytest.raises(Exception, match="notes.txt is not an image"):
        client.predict(handle_file(str(notes)), "Find x.", "", "", 8, 0.0, 1.0, api_name="/answer")


def test_uploads_over_the_size_limit_are_refused(served_app, tmp_path):
    import urllib.error
    import urllib.request

    demo, _ = served_app
    big = b"x" * (2 * 1024 * 1024)  # 2 MB against the 1 MB limit
    boundary = "----redstar"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        demo.local_url.rstrip("/") + "/gradio_api/upload",
        data=payload,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 413


def test_demo_app_script_usage_error_for_a_bad_option():
    from conftest import run_script

    proc = run_script("demo/app.py", "--endpoint", "http://127.0.0.1:9/v1", timeout=120)
    assert proc.returncode == 2 and "--endpoint needs --model" in proc.stderr


def test_demo_app_script_serves_the_embedded_tiny_model_on_loopback():
    import os
    import subprocess
    import sys
    import urllib.request

    from conftest import ROOT

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "demo/app.py", "--port", "0", "--examples", "false"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url, lines = None, []
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Running on local URL:" in line:
                url = line.split("Running on local URL:")[1].strip()
        assert url is not None, "".join(lines[-20:])
        assert url.startswith("http://127.0.0.1:")
        assert not any("public URL" in line for line in lines)  # no share link unless --share
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "RedStar-Geo demo" in page
        assert any("built tiny qwen2_vl" in line for line in lines)
    finally:
        proc.terminate()
        proc.wait(30)
