"""A client for OpenAI-compatible chat servers (vLLM, SGLang, ``transformers serve``) that survives hours of work.

Usage::

    from redstar_geo.openai_client import ChatClient

    client = ChatClient("http://127.0.0.1:8000/v1", concurrency=512, request_timeout=1800)
    for done in client.stream(items, make_body):     # items: any iterable; make_body(item) -> request JSON
        for item, reply in done:                      # replies in the order they finish, a few at a time
            print(item, reply.texts if reply.error is None else reply.error)

    # several servers (one vLLM server per node): each request goes to the live server with the most free slots
    client = ChatClient(["http://node1:8000/v1", "http://node2:8000/v1"], concurrency=256)
    client.server_stats()                             # per server: requests, failures, in flight, down

    # one reply streamed token by token (``"stream": true``; the demo), from any thread
    for delta in client.stream_chat({"model": "m", "messages": messages}, stop=stop_event):
        print(delta.reasoning + delta.content, end="")   # the last delta carries finish_reason and the token count

What it guarantees, whatever the server, a proxy or the network does:

- one total deadline per attempt (``request_timeout``: connecting, sending and reading the whole reply; a server
  that trickles its reply byte by byte is cut off at the deadline, not once per byte);
- retries with exponential backoff and full jitter on timeouts, connection errors (refused, dropped, a reply cut
  off before its Content-Length, a garbage status line), 408, 425, 429 (honouring ``Retry-After``) and 5xx;
  other 4xx answers and malformed replies are not retried within the run, since asking again gets the same answer;
- never an exception for one request: every failure becomes a :class:`ChatReply` with ``error`` set to
  ``"<kind>: <detail>"`` (kinds: ``timeout``, ``connection``, ``HTTP <status>``, ``malformed reply``), so one bad
  reply costs one sample, not the run;
- a continuous window of ``concurrency`` requests in flight per server, with no batch barrier: a finished request's
  slot is refilled at once, so a few very long generations never idle the rest of the server's capacity; items are
  pulled from ``items`` only as slots free up, so memory stays bounded however many there are. A live source (work
  that appears as earlier results come back) may yield ``None`` when it has nothing to send yet;
- with several servers, every attempt goes to the live server with the most free slots; a server that refuses or
  drops connections is set aside for a while (5 s, doubling to 5 min while it keeps failing) and then tried again,
  and the request's retry goes to another one.

Built on ``aiohttp``'s client (connection pooling, HTTP/1.1 keep-alive; the library vLLM's own serving benchmarks
drive servers with), not on ``httpx`` or the ``openai`` package built on it: measured here against a local server at
512 requests in flight (``benchmarks/bench_openai_client.py``), httpx spent 2.7 ms of CPU per request once its
connection pool was split into small ones (one pool of 512 connections: 40 ms, as httpcore scans every connection
for every request), aiohttp 0.8 ms, so on a 2-core machine only aiohttp keeps thousands of requests in flight.
The ``openai`` package would also parse replies into lenient models that hide a malformed reply (a ``choices``
list of strings, ``"content": 42``) instead of naming it. Here the JSON is checked field by field, and each sample
records why it failed.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import queue
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field

import aiohttp

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class ChatReply:
    """One request's outcome: ``n`` texts and finish reasons, or ``error`` (then the lists are empty)."""

    texts: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    reasoning: list[str | None] | None = None  # the thinking, where the server returns it apart (reasoning_content)
    n_tokens: list[int] | None = None
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0


@dataclass
class ChatDelta:
    """One piece of a streamed reply: new answer text and new reasoning text (servers that return the thinking apart,
    ``reasoning_content``); the last piece carries ``finish_reason`` ("stop", "length", "cancelled") and, when
    known, ``completion_tokens`` (the tokens generated so far)."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    completion_tokens: int | None = None


class StreamError(RuntimeError):
    """A streamed request that failed; ``str(err)`` is ``"<kind>: <detail>"`` as in :attr:`ChatReply.error`."""


class MalformedReply(ValueError):
    """A reply whose JSON is not a chat completion; the message says what is wrong with it."""


def _text_of(content, where: str) -> str:
    """Message content as text: a string, null (nothing), or a list of parts whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif not (isinstance(part, dict) and part.get("type") not in (None, "text")):  # images etc. are skipped
                raise MalformedReply(f"{where}: a content part is {type(part).__name__}, not text")
        return "".join(texts)
    raise MalformedReply(f"{where}: content is {type(content).__name__} ({json.dumps(content)[:40]}), not text")


def parse_chat_completion(data, n: int) -> ChatReply:
    """Check a decoded ``/chat/completions`` reply field by field; :class:`MalformedReply` names what is wrong."""
    if not isinstance(data, dict):
        raise MalformedReply(f"the reply is a JSON {type(data).__name__}, not an object")
    if "choices" not in data and isinstance(data.get("error"), (dict, str)):
        error = data["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise MalformedReply(f"an error object instead of choices: {str(message)[:200]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedReply(f"'choices' is {json.dumps(choices)[:60]}, not a non-empty list")
    if not all(isinstance(c, dict) for c in choices):
        bad = next(c for c in choices if not isinstance(c, dict))
        raise MalformedReply(f"a choice is a {type(bad).__name__} ({json.dumps(bad)[:40]}), not an object")
    if len(choices) < n:
        raise MalformedReply(f"asked for n={n} choices, got {len(choices)} (does the server support n?)")
    choices = sorted(choices, key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0)[:n]
    reply = ChatReply(reasoning=[])
    for i, choice in enumerate(choices):
        message = choice.get("message")
        if not isinstance(message, dict):
            raise MalformedReply(f"choice {i}: 'message' is {type(message).__name__}, not an object")
        reply.texts.append(_text_of(message.get("content"), f"choice {i}"))
        thinking = message.get("reasoning_content", message.get("reasoning"))
        reply.reasoning.append(_text_of(thinking, f"choice {i} reasoning") if thinking is not None else None)
        reason = choice.get("finish_reason")
        reply.finish_reasons.append(reason if isinstance(reason, str) and reason else "stop")
    if not any(reply.reasoning):
        reply.reasoning = None
    usage = data.get("usage")
    if n == 1 and isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        reply.n_tokens = [usage["completion_tokens"]]
    return reply


def parse_stream_chunk(data) -> ChatDelta:
    """Check one decoded ``chat.completion.chunk`` of a streamed reply (its first choice only: the demo asks for one);
    :class:`MalformedReply` names what is wrong. A chunk without choices (the final usage chunk) is an empty delta."""
    if not isinstance(data, dict):
        raise MalformedReply(f"a stream chunk is a JSON {type(data).__name__}, not an object")
    if "choices" not in data and isinstance(data.get("error"), (dict, str)):
        error = data["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise MalformedReply(f"an error object in the stream: {str(message)[:200]}")
    choices = data.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise MalformedReply(f"'choices' of a stream chunk is {json.dumps(choices)[:60]}, not a list of objects")
    delta = ChatDelta()
    if choices:
        message = choices[0].get("delta") or {}
        if not isinstance(message, dict):
            raise MalformedReply(f"a stream chunk's 'delta' is {type(message).__name__}, not an object")
        delta.content = _text_of(message.get("content"), "stream chunk")
        thinking = message.get("reasoning_content", message.get("reasoning"))
        delta.reasoning = _text_of(thinking, "stream chunk reasoning")
        reason = choices[0].get("finish_reason")
        delta.finish_reason = reason if isinstance(reason, str) and reason else None
    usage = data.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        delta.completion_tokens = usage["completion_tokens"]
    return delta


async def _sse_data(response) -> AsyncIterator[bytes]:
    """The ``data:`` payloads of a server-sent-event stream, up to ``[DONE]`` (comments and other fields skipped:
    OpenAI-compatible servers send one ``data:`` line per event)."""
    async for line in response.content:
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        yield data


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _short(body: bytes) -> str:
    """The start of a reply body for an error message, whitespace collapsed."""
    return " ".join(body[:300].decode("utf-8", "replace").split())[:200]


# How long a server that refuses or drops connections is skipped: from 5 s, doubling while it keeps failing.
MIN_DOWN_SECONDS, MAX_DOWN_SECONDS = 5.0, 300.0


@dataclass
class Server:
    """One OpenAI-compatible server and what the client has seen of it."""

    url: str
    in_flight: int = 0
    requests: int = 0
    failures: int = 0
    down_until: float = 0.0  # time.monotonic() before which it is skipped
    down_for: float = 0.0  # the last time out; doubles while it keeps failing

    def set_aside(self, now: float) -> None:
        self.down_for = min(MAX_DOWN_SECONDS, max(MIN_DOWN_SECONDS, 2 * self.down_for))
        self.down_until = now + self.down_for


def split_api_bases(api_base: str | list[str]) -> list[str]:
    """One base URL, a comma-separated list of them, or a list, as a list of URLs."""
    urls = api_base.split(",") if isinstance(api_base, str) else list(api_base)
    urls = [url.strip().rstrip("/") for url in urls if url.strip()]
    if not urls:
        raise ValueError("no server base URL given (api_base)")
    return urls


class ChatClient:
    """Chat-completion requests against one or several OpenAI-compatible servers; see the module docstring."""

    def __init__(
        self,
        api_base: str | list[str],
        api_key: str = "EMPTY",
        concurrency: int = 256,
        request_timeout: float = 1800.0,
        max_retries: int = 5,
        retry_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ):
        self.servers = [Server(url) for url in split_api_bases(api_base)]
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.concurrency, self.request_timeout, self.max_retries = concurrency, request_timeout, max_retries
        self.retry_backoff, self.max_backoff = retry_backoff, max_backoff

    @property
    def window(self) -> int:
        """Requests kept in flight in all: ``concurrency`` per server."""
        return self.concurrency * len(self.servers)

    def server_stats(self) -> list[dict]:
        """Per server: url, requests sent, failed attempts (connection errors), in flight, seconds until retried."""
        now = time.monotonic()
        return [
            {
                "url": s.url,
                "requests": s.requests,
                "failures": s.failures,
                "in_flight": s.in_flight,
                "down_seconds": round(max(0.0, s.down_until - now), 1),
            }
            for s in self.servers
        ]

    async def _pick_server(self) -> Server:
        """The live server with the most free slots; when all are set aside, wait for the first to come back."""
        while True:
            now = time.monotonic()
            live = [s for s in self.servers if s.down_until <= now]
            if live:
                return min(live, key=lambda s: s.in_flight)
            await asyncio.sleep(min(s.down_until for s in self.servers) - now)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server says when; a little jitter so waiting clients do not return at once
            return min(retry_after, self.max_backoff * 5) + random.uniform(0, self.retry_backoff)
        return random.uniform(0, min(self.max_backoff, self.retry_backoff * 2**attempt))  # "full jitter"

    async def _attempt(self, session, payload: bytes, n: int):
        """One attempt on the least busy live server: (reply or None, error or None, retryable, Retry-After)."""
        server = await self._pick_server()
        server.in_flight += 1
        server.requests += 1
        try:
            # The session's total timeout (request_timeout) bounds the whole attempt: connecting, sending, reading.
            url = server.url + "/chat/completions"
            async with session.post(url, data=payload, headers=self.headers) as response:
                status, body = response.status, await response.read()
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except asyncio.TimeoutError:  # aiohttp's timeouts; not the builtin TimeoutError before Python 3.11
            return None, f"timeout: no complete reply within {self.request_timeout:g} s", True, None
        except aiohttp.ClientError as exc:  # refused, reset, dropped, cut-off body, a status line that is not HTTP
            detail = " ".join(str(exc).split())[:200] or "no detail"
            server.failures += 1
            if len(self.servers) > 1:  # with one server there is nowhere else to go: the backoff alone paces it
                server.set_aside(time.monotonic())
            return None, f"connection: {type(exc).__name__}: {detail}", True, None
        finally:
            server.in_flight -= 1
        server.down_for = 0.0  # it answered: a later failure starts the time out afresh
        if status != 200:
            return None, f"HTTP {status}: {_short(body)}", status in RETRY_STATUSES or status >= 500, retry_after
        try:
            data = json.loads(body)
        except UnicodeDecodeError as exc:
            return None, f"malformed reply: not UTF-8 (byte {body[exc.start]:#04x} at {exc.start})", False, None
        except ValueError:
            return None, f"malformed reply: not JSON: {_short(body)!r}", False, None
        try:
            return parse_chat_completion(data, n), None, False, None
        except MalformedReply as exc:
            return None, f"malformed reply: {exc}", False, None

    async def complete(self, session, body: dict) -> ChatReply:
        """One request with its retries; never raises for anything the server or network does."""
        payload = json.dumps(body).encode()
        n = int(body.get("n") or 1)
        start = time.perf_counter()
        error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            reply, error, retryable, retry_after = await self._attempt(session, payload, n)
            if reply is not None:
                reply.attempts, reply.seconds = attempt + 1, time.perf_counter() - start
                return reply
            if not retryable or attempt == self.max_retries:
                return ChatReply(error=error, attempts=attempt + 1, seconds=time.perf_counter() - start)
            logger.debug("%s; retrying (attempt %d of %d)", error, attempt + 2, self.max_retries + 1)
            await asyncio.sleep(self._backoff(attempt, retry_after))
        raise AssertionError("unreachable")

    async def _run(self, items: Iterable, make_body: Callable, emit: Callable) -> None:
        """``concurrency`` workers, each taking the next item as soon as its request is done."""
        iterator = iter(items)

        def next_batch(k: int) -> list:
            """Up to k items with their bodies; run in a worker thread so that reading and encoding images (the
            slow part of building a multimodal request) never stalls the event loop. A ``None`` from a live source
            (nothing to send yet) sends what was gathered at once."""
            batch = []
            for item in iterator:
                if item is None:
                    if batch:
                        break
                    continue
                batch.append((item, make_body(item)))
                if len(batch) == k:
                    break
            return batch

        window = self.window
        pending: asyncio.Queue = asyncio.Queue(maxsize=window)
        done_feeding = object()

        async def feed():
            while batch := await asyncio.to_thread(next_batch, 32):
                for entry in batch:
                    await pending.put(entry)
            for _ in range(window):
                await pending.put(done_feeding)

        async def work(session):
            while (entry := await pending.get()) is not done_feeding:
                item, body = entry
                emit(item, await self.complete(session, body))

        # limit: one connection per request in flight (aiohttp's default is 100). total: one deadline per attempt for
        # connecting, sending and reading the whole reply (a per-read timeout would let a trickling server hold a
        # request indefinitely).
        connector = aiohttp.TCPConnector(limit=window)
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            feeder = asyncio.create_task(feed())
            await asyncio.gather(feeder, *(work(session) for _ in range(window)))

    def stream(self, items: Iterable, make_body: Callable[[object], dict]) -> Iterator[list[tuple[object, ChatReply]]]:
        """Send a request per item, ``concurrency`` per server at a time; yield lists of ``(item, reply)`` as they
        finish.

        The requests run on an event loop in a background thread, so the caller can write each result as it comes
        (and a slow disk never stalls the requests). Stopping the iteration early cancels what is in flight.
        """
        results: queue.Queue = queue.Queue()
        finished = object()
        loop = asyncio.new_event_loop()
        main_task: list[asyncio.Task] = []

        def run():
            asyncio.set_event_loop(loop)
            main_task.append(loop.create_task(self._run(items, make_body, lambda i, r: results.put((i, r)))))
            try:
                loop.run_until_complete(main_task[0])
                results.put(finished)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
                results.put(exc)
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="openai-client", daemon=True)
        thread.start()
        try:
            while True:
                first = results.get()
                batch = [first]
                while not results.empty() and len(batch) < 4096:
                    batch.append(results.get_nowait())
                stop = next((x for x in batch if x is finished or isinstance(x, BaseException)), None)
                pairs = [x for x in batch if isinstance(x, tuple)]
                if pairs:
                    yield pairs
                if isinstance(stop, BaseException):
                    raise stop
                if stop is finished:
                    return
        finally:
            if thread.is_alive() and main_task:  # the caller stopped early: cancel what is in flight
                try:
                    loop.call_soon_threadsafe(main_task[0].cancel)
                except RuntimeError:  # the loop closed in the meantime: nothing left to cancel
                    pass
                thread.join(30)

    def complete_all(self, bodies: list[dict]) -> list[ChatReply]:
        """Replies to ``bodies``, in their order (a convenience over :meth:`stream`)."""
        replies: dict[int, ChatReply] = {}
        for done in self.stream(range(len(bodies)), lambda i: bodies[i]):
            replies.update(done)
        return [replies[i] for i in range(len(bodies))]

    async def stream_completion(self, session, body: dict) -> AsyncIterator[ChatDelta]:
        """One request with ``"stream": true``: yields :class:`ChatDelta` pieces as the server sends them.

        Retried like :meth:`complete` (timeouts, connection errors, 408/425/429, 5xx) as long as nothing has been
        received; a failure after the first piece raises :class:`StreamError` (a retry would repeat what the caller
        already has). Asks for the usage in the last chunk, so the final delta carries the token count.
        """
        payload = json.dumps({**body, "stream": True, "stream_options": {"include_usage": True}}).encode()
        for attempt in range(self.max_retries + 1):
            server = await self._pick_server()
            server.in_flight += 1
            server.requests += 1
            received, retryable, retry_after = False, False, None
            try:
                async with session.post(server.url + "/chat/completions", data=payload, headers=self.headers) as r:
                    if r.status != 200:
                        retryable = r.status in RETRY_STATUSES or r.status >= 500
                        retry_after = retry_after_seconds(r.headers.get("Retry-After"))
                        error = f"HTTP {r.status}: {_short(await r.read())}"
                    else:
                        async for data in _sse_data(r):
                            try:
                                delta = parse_stream_chunk(json.loads(data))
                            except UnicodeDecodeError:
                                raise StreamError("malformed reply: a stream chunk is not UTF-8") from None
                            except ValueError as exc:  # not JSON, or MalformedReply
                                detail = exc if isinstance(exc, MalformedReply) else f"not JSON: {_short(data)!r}"
                                raise StreamError(f"malformed reply: {detail}") from None
                            received = True
                            yield delta
                        return
            except asyncio.TimeoutError:
                retryable, error = True, f"timeout: no complete reply within {self.request_timeout:g} s"
            except aiohttp.ClientError as exc:
                detail = " ".join(str(exc).split())[:200] or "no detail"
                server.failures += 1
                retryable, error = True, f"connection: {type(exc).__name__}: {detail}"
            finally:
                server.in_flight -= 1
            if received or not retryable or attempt == self.max_retries:
                raise StreamError(error)
            logger.debug("%s; retrying (attempt %d of %d)", error, attempt + 2, self.max_retries + 1)
            await asyncio.sleep(self._backoff(attempt, retry_after))

    def stream_chat(self, body: dict, stop: threading.Event | None = None) -> Iterator[ChatDelta]:
        """:meth:`stream_completion` for synchronous callers (a Gradio handler): the request runs on an event loop
        in a background thread. ``stop`` set, or the iterator closed early, cancels the request (the server sees
        the connection close and stops generating); after ``stop`` a last delta with ``finish_reason="cancelled"``
        is yielded. Raises :class:`StreamError`."""
        pieces: queue.Queue = queue.Queue()
        finished = object()

        async def run():
            try:
                timeout = aiohttp.ClientTimeout(total=self.request_timeout)
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    async for delta in self.stream_completion(session, body):
                        pieces.put(delta)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
                pieces.put(exc)
            finally:
                pieces.put(finished)

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="openai-stream", daemon=True)
        thread.start()
        future = asyncio.run_coroutine_threadsafe(run(), loop)
        done = False
        try:
            while True:
                try:
                    item = pieces.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if stop is not None and stop.is_set():
                    yield ChatDelta(finish_reason="cancelled")
                    return
                if item is None:
                    continue
                if item is finished:
                    done = True
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not done:  # stopped early: cancel the request and let it unwind (closing the connection)
                future.cancel()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        if pieces.get(timeout=0.5) is finished:
                            break
                    except queue.Empty:
                        if future.done():
                            break
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            if not loop.is_running():
                loop.close()
