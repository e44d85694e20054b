"""Throughput of the OpenAI-compatible client against a server with heavy-tailed latencies, vs. the chunked design.

Usage:

    python benchmarks/bench_openai_client.py                      # 64, 512 and 2,048 in flight; about 12 minutes
    python benchmarks/bench_openai_client.py --in_flight 512 --window 20 --out $OUT/client.md

A fake OpenAI-compatible server (``redstar_geo.fake_server``) runs in its own process on 127.0.0.1; each reply waits a
lognormal delay (median ``--latency_median`` s, sigma 1.29, so the 99th percentile is 20x the median), as Long-CoT
generation times vary. With N requests always in flight the ideal throughput is N / mean latency (Little's law), so the
fraction of the ideal a client achieves is the fraction of the server's N slots it keeps busy: the server integrates
its number of requests in flight over time (``GET /v1/stats``), and busy request-seconds / (N x window) is reported.
That measure is exact where a count of completions is not: with a p99 of 20x the median, the few very long
requests that start or end near the window's edges swing a completion count by several percent either way. Each
design runs on an endless stream of requests, measured over ``--window`` seconds after ``--warmup`` seconds; the
completion rate and the client process's CPU time per request are reported alongside.

- ``window``: ``redstar_geo.openai_client.ChatClient`` (httpx, asyncio): a continuous window of N requests; each
  finished request's slot is refilled at once.
- ``chunked``: the design it replaced (urllib in a pool of N threads, as ``generate_responses`` used it): chunks of
  N requests, each chunk waiting for its slowest request before the next one starts; measured over whole chunks
  (the first chunk after the warm-up starts the window, the first chunk to end after ``--window`` seconds ends it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redstar_geo.openai_client import ChatClient  # noqa: E402

SIGMA = math.log(20) / 2.3263  # lognormal shape whose 99th percentile is 20x the median
PROMPT = (
    "As shown in the figure, in triangle ABC, angle A = 80°, angle B = 60°, DE ∥ BC. Find angle CED. Choices: "
    "A. 40° B. 60° C. 120° D. 140°. Think step by step and put the final answer in \\boxed{}. "
)


def body(i: int) -> dict:
    return {"model": "fake", "messages": [{"role": "user", "content": f"{PROMPT} #{i}"}], "max_tokens": 4096}


def start_server(median: float) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "redstar_geo.fake_server", "--port", str(port)]
    cmd += ["--latency_median", str(median), "--latency_sigma", str(SIGMA)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "fake OpenAI-compatible server at ..." once it listens
    return proc, f"http://127.0.0.1:{port}/v1"


def server_busy_seconds(url: str) -> float:
    with urllib.request.urlopen(url + "/stats", timeout=30) as response:
        return json.loads(response.read())["busy_seconds"]


class Window:
    """Counts completions, client CPU time and the server's busy request-seconds between warm-up and the end."""

    def __init__(self, url: str, warmup: float, window: float):
        self.url, self.warmup, self.window = url, warmup, window
        self.start = time.perf_counter()
        self.count = self.errors = 0
        self.t0 = self.cpu0 = self.busy0 = None

    def add(self, n: int, errors: int) -> bool:
        """Record n completions; True once the window is over."""
        now = time.perf_counter() - self.start
        if self.t0 is None and now >= self.warmup:
            self.t0, self.cpu0, self.busy0 = now, time.process_time(), server_busy_seconds(self.url)
        elif self.t0 is not None:
            self.count += n
            self.errors += errors
        if self.t0 is not None and now >= self.t0 + self.window:
            self.seconds, self.cpu = now - self.t0, time.process_time() - self.cpu0
            self.busy = server_busy_seconds(self.url) - self.busy0
            return True
        return False


def run_window(url: str, in_flight: int, warmup: float, window: float) -> Window:
    client = ChatClient(url, concurrency=in_flight, request_timeout=600, max_retries=0)
    measured = Window(url, warmup, window)
    for done in client.stream(itertools.count(), body):
        if measured.add(len(done), sum(reply.error is not None for _, reply in done)):
            return measured


def run_chunked(url: str, in_flight: int, warmup: float, window: float) -> Window:
    """The replaced design: a pool of N urllib threads, N requests at a time, each chunk waiting for its slowest."""
    endpoint = url + "/chat/completions"

    def one(i: int) -> bool:
        request = urllib.request.Request(
            endpoint, data=json.dumps(body(i)).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return bool(json.loads(response.read())["choices"])
        except OSError:
            return False

    measured = Window(url, warmup, window)  # measured over whole chunks, as the old stage wrote them
    ids = itertools.count()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        while True:
            results = list(pool.map(one, [next(ids) for _ in range(in_flight)]))
            if measured.add(len(results), results.count(False)):
                return measured


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in_flight", type=int, nargs="+", default=[64, 512, 2048])
    parser.add_argument("--designs", nargs="+", default=["window", "chunked"], choices=["window", "chunked"])
    parser.add_argument("--latency_median", type=float, default=1.0, help="seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before counting")
    parser.add_argument("--window", type=float, default=30.0, help="seconds counted")
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    args = parser.parse_args()
    mean_latency = args.latency_median * math.exp(SIGMA**2 / 2)
    rows = [
        "| design | in flight | ideal req/s | achieved req/s | % of ideal (slots busy) | CPU ms / req | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for in_flight in args.in_flight:
        for design in args.designs:
            server, url = start_server(args.latency_median)  # a fresh server: no connections left from the last run
            try:
                run = run_window if design == "window" else run_chunked
                m = run(url, in_flight, args.warmup, args.window)
            finally:
                server.terminate()
                server.wait()
            rows.append(
                f"| {design} | {in_flight:,} | {in_flight / mean_latency:,.0f} | {m.count / m.seconds:,.0f} "
                f"| {100 * m.busy / (in_flight * m.seconds):.1f}% | {1000 * m.cpu / max(m.count, 1):.2f} "
                f"| {m.errors} |"
            )
            print(rows[-1], flush=True)
    header = (
        f"lognormal latency: median {args.latency_median:g} s, p99 {20 * args.latency_median:g} s, mean "
        f"{mean_latency:.2f} s; {args.window:g} s counted after {args.warmup:g} s; {os.cpu_count()} cores"
    )
    table = header + "\n\n" + "\n".join(rows) + "\n"
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table)


if __name__ == "__main__":
    main()
