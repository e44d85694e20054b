"""A fake OpenAI-compatible chat server, for tests, benchmarks and dry runs of a pipeline without a GPU.

Usage::

    python -m redstar_geo.fake_server --port 8000                        # answers at once
    python -m redstar_geo.fake_server --port 8000 --latency_median 1.0 --latency_sigma 1.29   # heavy-tailed latency

    # in a test: a server on a free port of 127.0.0.1, in a background thread
    with FakeServer(latency_median=0.0) as server:
        url = server.base_url            # http://127.0.0.1:PORT/v1
        ...
        server.attempts                  # {prompt text: requests received}

``POST /v1/chat/completions`` replies with a short step-by-step answer that depends only on the prompt, the choice
index and the request's ``seed``: the same request always gets the same text. A prompt can ask for its answer with
``[[answer:D]]``, and for a fault with ``[[fault:NAME]]`` (every attempt) or ``[[fault:NAMExK]]`` (the first K
attempts of that prompt, then a good reply). Faults, each something a real server, proxy or network has done:

``500``, ``503``, ``400``: that HTTP status with a JSON error; ``429``: rate limited, with ``Retry-After: 1``;
``html502``: a proxy's HTML error page with status 502; ``html200``: an HTML page with status 200; ``drop``: the
connection closed without a reply; ``garbage_status``: a status line that is not HTTP; ``truncated``: a body cut
off before its Content-Length; ``trickle``: the reply sent one byte every 0.5 s; ``choices_strings``:
``{"choices": ["hello"]}``; ``message_string``: a ``message`` that is a plain string; ``content_int``:
``"content": 42``; ``no_choices``: ``{}``; ``non_utf8``: bytes that are not UTF-8 in the body; ``surrogate``: a
lone surrogate (``\\ud800``) in the content. And two valid shapes that clients get wrong: ``content_parts``
(content as a list of ``{"type": "text"}`` parts) and ``reasoning`` (the thinking in ``reasoning_content``).

Latency: each reply waits a delay drawn from a lognormal distribution (median ``latency_median`` seconds, shape
``latency_sigma``: sigma 1.29 puts the 99th percentile at 20x the median), as the lengths of Long-CoT responses do.
``faults=False`` turns every fault off (a healthy server for a rerun).

Written on asyncio streams rather than a web framework: the faults live below HTTP (a garbage status line, a body
shorter than its Content-Length, a reply trickled byte by byte), which frameworks exist to prevent.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter

FAULT = re.compile(r"\[\[fault:([a-z0-9_]+?)(?:x(\d+))?\]\]")
ANSWER = re.compile(r"\[\[answer:([^\]]+)\]\]")
STATUS_TEXT = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
STATUS_TEXT.update({502: "Bad Gateway", 503: "Service Unavailable"})
HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def prompt_text(body: dict) -> str:
    """The text of the last message (string content, or its text parts joined)."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))


def reply_text(prompt: str, index: int, seed) -> str:
    """A deterministic short 'reasoning' ending in a boxed answer: ``[[answer:X]]``'s X, else a letter."""
    digest = hashlib.sha256(f"{seed}|{index}|{prompt}".encode()).digest()
    asked = ANSWER.search(prompt)
    answer = asked.group(1) if asked else "ABCD"[digest[0] % 4]
    return (
        f"Let me work through the figure step by step (trace {digest[:4].hex()}). The answer is \\boxed{{{answer}}}."
    )


class FakeServer:
    """The server on 127.0.0.1: in a background thread (``with FakeServer() as s:``) or in front (``serve``)."""

    def __init__(
        self,
        port: int = 0,
        latency_median: float = 0.0,
        latency_sigma: float = 0.0,
        faults: bool = True,
        trickle_interval: float = 0.5,
        seed: int = 0,
    ):
        self.port, self.latency_median, self.latency_sigma = port, latency_median, latency_sigma
        self.faults, self.trickle_interval = faults, trickle_interval
        self.rng = random.Random(seed)
        self.attempts: Counter = Counter()  # prompt text -> requests received (including faulted ones)
        self.requests = 0
        # Requests being answered, and their integral over time (request-seconds): by Little's law, busy seconds per
        # second over the window / N is the fraction of an N-slot server that a client keeps busy.
        self.in_flight, self._busy, self._since = 0, 0.0, time.perf_counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    def serve(self) -> None:
        """Run in the foreground until interrupted."""

        async def main():
            await self.start()
            print(f"fake OpenAI-compatible server at {self.base_url}", flush=True)
            async with self._server:
                await self._server.serve_forever()

        asyncio.run(main())

    def __enter__(self) -> FakeServer:
        started = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-openai-server")
        self._thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            self._server.close()
            for task in asyncio.all_tasks():  # open keep-alive connections and replies still waiting
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- HTTP ------------------------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # HTTP/1.1 keep-alive: one request after another on the same connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self._respond(method, path, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client went away, or the server is shutting down
        finally:
            writer.close()

    @staticmethod
    def _send(writer, status: int, payload: bytes, content_type="application/json", extra: str = "") -> None:
        head = (
            f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Status')}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}\r\n"
        )
        writer.write(head.encode("latin-1") + payload)

    def _count_in_flight(self, change: int) -> None:
        now = time.perf_counter()
        self._busy += self.in_flight * (now - self._since)
        self.in_flight, self._since = self.in_flight + change, now

    def stats(self) -> dict:
        """Requests received, those in flight, and busy request-seconds so far (``GET /v1/stats``)."""
        self._count_in_flight(0)
        return {"requests": self.requests, "in_flight": self.in_flight, "busy_seconds": self._busy}

    async def _respond(self, method: str, path: str, raw: bytes, writer) -> bool:
        """Answer one request; False closes the connection."""
        if method == "GET" and path.endswith("/stats"):
            self._send(writer, 200, json.dumps(self.stats()).encode())
            await writer.drain()
            return True
        if method == "GET" and path.endswith("/models"):
            self._send(
                writer, 200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
            )
            await writer.drain()
            return True
        if method != "POST" or not path.endswith("/chat/completions"):
            self._send(writer, 404, b'{"error": {"message": "not found"}}')
            await writer.drain()
            return True
        self.requests += 1
        try:
            body = json.loads(raw)
            prompt = prompt_text(body)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            self._send(writer, 400, b'{"error": {"message": "invalid request body"}}')
            await writer.drain()
            return True
        self.attempts[prompt] += 1
        fault = None
        match = FAULT.search(prompt) if self.faults else None
        if match and (match.group(2) is None or self.attempts[prompt] <= int(match.group(2))):
            fault = match.group(1)
        self._count_in_flight(+1)
        try:
            if self.latency_median > 0:
                delay = self.latency_median * math.exp(self.latency_sigma * self.rng.gauss(0.0, 1.0))
                await asyncio.sleep(delay)
            return await self._reply(fault, body, prompt, writer)
        finally:
            self._count_in_flight(-1)

    async def _reply(self, fault: str | None, body: dict, prompt: str, writer) -> bool:
        n = int(body.get("n") or 1)
        texts = [reply_text(prompt, i, body.get("seed")) for i in range(n)]
        message: dict = {"role": "assistant", "content": None}
        choices = [
            {"index": i, "message": {**message, "content": text}, "finish_reason": "stop"}
            for i, text in enumerate(texts)
        ]
        payload = {"id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model"), "choices": choices}
        payload["usage"] = {"prompt_tokens": len(prompt) // 4, "completion_tokens": sum(len(t) // 4 for t in texts)}
        status, content_type, extra = 200, "application/json", ""
        if fault in ("500", "503", "400", "429"):
            status, payload = int(fault), {"error": {"message": f"fake {fault}", "code": int(fault)}}
            extra = "Retry-After: 1\r\n" if fault == "429" else ""
        elif fault == "html502":
            self._send(writer, 502, HTML_PAGE, "text/html")
            await writer.drain()
            return True
        elif fault == "html200":
            self._send(writer, 200, HTML_PAGE, "text/html")
            await writer.drain()
            return True
        elif fault == "drop":
            return False
        elif fault == "garbage_status":
            writer.write(b"GARBAGE 200 ??\r\n\r\n{}")
            await writer.drain()
            return False
        elif fault == "choices_strings":
            payload = {"choices": ["hello"]}
        elif fault == "message_string":
            payload["choices"] = [{"index": 0, "message": texts[0], "finish_reason": "stop"}]
        elif fault == "content_int":
            payload["choices"][0]["message"]["content"] = 42
        elif fault == "no_choices":
            payload = {}
        elif fault == "content_parts":
            for choice, text in zip(payload["choices"], texts, strict=True):
                half = len(text) // 2
                choice["message"]["content"] = [
                    {"type": "text", "text": text[:half]},
                    {"type": "text", "text": text[half:]},
                ]
        elif fault == "reasoning":
            for choice in payload["choices"]:
                choice["message"]["reasoning_content"] = "First I look at the figure. Wait, let me verify."
        data = json.dumps(payload).encode()
        if fault == "surrogate":  # JSON may escape a lone surrogate; no UTF-8 text can hold it once decoded
            payload["choices"][0]["message"]["content"] = texts[0].replace("Let me", "Let \ud800 me")
            data = json.dumps(payload).encode()
        elif fault == "non_utf8":
            data = data.replace(b"step by step", b"step \xff\xfe step")
        if fault == "truncated":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            writer.write(head.encode() + data[: len(data) // 2])
            await writer.drain()
            return False
        if fault == "trickle":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            writer.write(head.encode())
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(self.trickle_interval)
            return True
        self._send(writer, status, data, content_type, extra)
        await writer.drain()
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency_median", type=float, default=0.0, help="median reply delay, seconds")
    parser.add_argument("--latency_sigma", type=float, default=0.0, help="lognormal shape (1.29: p99 = 20x median)")
    parser.add_argument("--no_faults", action="store_true", help="ignore [[fault:...]] markers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.time()
    server = FakeServer(args.port, args.latency_median, args.latency_sigma, not args.no_faults, seed=args.seed)
    try:
        server.serve()
    except KeyboardInterrupt:
        print(f"served {server.requests} requests in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
