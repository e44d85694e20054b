"""Adaptive, resumable sampling of a Long-CoT teacher: every (problem, sample) drawn once, verified, kept on disk.

Usage::

    from redstar_geo.synthesis.sampling import SampleStore, make_teacher, run_sampling

    store = SampleStore("runs/synth/samples.jsonl")          # reads what an earlier (killed) run wrote
    teacher = make_teacher(gen_config, synth_config, verify_config.protocol, problems)
    statuses = run_sampling(problems, teacher, store, synth_config, gen_config, verify_config)

**Adaptive sampling.** A problem is sampled in rounds: ``first_round`` samples, then as many as its pass rate so far
says are needed for ``target_verified`` verified traces (or, once it has them, for one failed trace: a DPO
negative). It stops once it has them (``enough``) or its budget is spent (``budget``). The budget grows with the
problem's difficulty label (``min_samples_per_problem`` at level 1, ``samples_per_problem`` at 5,
``max_samples_per_problem`` at 9), and jumps to the maximum once the pass rate seen falls under ``hard_pass_rate``:
the paper samples hard problems more. Rounds are per problem, with no barrier across problems: the moment a
problem's round is complete its next round is queued, so a server is never left idle waiting for the slowest
sample of a round.

**Persistence.** Each sample is one JSON line appended (and fsynced) to ``samples.jsonl`` as soon as it is verified.
The plan of a problem's next round is a pure function of its completed rounds, and a sample's seed a function of
(seed, problem id, sample index), so a run killed at any moment and started again draws exactly the samples an
uninterrupted run draws, each once: what is on disk is skipped, a failed request (server error past its retries) is
tried again. At the end the file is rewritten in canonical order with one line per (problem, sample).

A sample record::

    {"problem_id", "sample", "round", "teacher", "text", "reasoning", "finish_reason", "n_tokens", "latency_s",
     "error", "reasons", "planted"}

``reasons`` are the verifier's reason codes (``[]``: verified); ``reasoning`` is the thinking a server returned apart
(``reasoning_content``), part of the trace (:func:`full_trace`); ``planted`` is the offline teacher's label.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from redstar_geo.generation import Generation, GenerationConfig, Request, get_backend
from redstar_geo.jsonl import IssueLog, append_jsonl, iter_jsonl, replace_surrogates, write_jsonl
from redstar_geo.schema import Problem
from redstar_geo.synthesis.config import SynthConfig, split_names
from redstar_geo.synthesis.prompts import teacher_messages_text
from redstar_geo.verify import VerifyConfig, verify_trace

logger = logging.getLogger(__name__)

SAMPLE_FIELDS = (
    "problem_id",
    "sample",
    "round",
    "teacher",
    "text",
    "reasoning",
    "finish_reason",
    "n_tokens",
    "latency_s",
    "error",
    "reasons",
    "planted",
)


def full_trace(record: dict) -> str:
    """The whole trace of a sample: the thinking a server returned apart, in ``<think>`` tags, then the text."""
    reasoning = record.get("reasoning")
    return f"<think>\n{reasoning}\n</think>\n\n{record['text']}" if reasoning else record["text"]


def is_verified(record: dict) -> bool:
    return record["error"] is None and not record["reasons"]


def is_failed(record: dict) -> bool:
    return record["error"] is None and bool(record["reasons"])


def sample_seed(base_seed: int, problem_id: str, sample: int) -> int:
    """The sampling seed of one (problem, sample): stable across runs and machines (no Python ``hash``)."""
    digest = hashlib.sha256(f"{base_seed}\0{problem_id}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def shard_of(problem_id: str, n_shards: int) -> int:
    """Which of ``n_shards`` shards a problem belongs to (stable across machines and problem orders)."""
    return int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "big") % n_shards


# ---------------------------------------------------------------------------------------------------------------
# the adaptive plan
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """Where a problem stands: the round being drawn and its samples still to draw, or why it stopped."""

    round: int
    pending: list[int]
    stop: str | None  # "enough" | "budget" | None while sampling
    budget: int


def base_budget(problem: Problem, config: SynthConfig) -> int:
    """The sampling budget from the difficulty label (1-9): min at 1, samples_per_problem at 5, max at 9."""
    level = problem.metadata.get("difficulty")
    if not isinstance(level, (int, float)) or isinstance(level, bool):
        return config.samples_per_problem
    level = min(9.0, max(1.0, float(level)))
    low, mid, high = config.min_samples_per_problem, config.samples_per_problem, config.max_samples_per_problem
    budget = low + (mid - low) * (level - 1) / 4 if level <= 5 else mid + (high - mid) * (level - 5) / 4
    return round(budget)


def _next_round_size(verified: int, drawn: int, config: SynthConfig) -> int:
    """Samples expected to bring the missing verified traces (or the one failed trace) at the pass rate seen."""
    rate = (verified + 1) / (drawn + 2)  # Laplace's rule: never 0 or 1 after a few samples
    missing = config.target_verified - verified
    if missing > 0:
        return max(1, math.ceil(missing / rate))
    return max(1, math.ceil(1 / (1 - rate)))


def plan_problem(problem: Problem, samples: dict[int, dict], config: SynthConfig) -> Plan:
    """The plan of ``problem`` given its stored ``samples`` (sample index -> record): replays the rounds from the
    start, so a restarted run reaches the same decisions as an uninterrupted one."""
    budget = base_budget(problem, config)
    drawn = verified = failed = 0
    round_index = 0
    while True:
        if drawn and verified < config.target_verified and verified / drawn < config.hard_pass_rate:
            budget = config.max_samples_per_problem  # hard by the pass rate seen: the largest budget, for good
        if verified >= config.target_verified and (failed or not config.need_failed):
            return Plan(round_index, [], "enough", budget)
        if drawn >= budget:
            return Plan(round_index, [], "budget", budget)
        size = config.first_round if round_index == 0 else _next_round_size(verified, drawn, config)
        indices = range(drawn, drawn + min(size, budget - drawn))
        pending = [i for i in indices if i not in samples or samples[i]["error"] is not None]
        if pending:
            return Plan(round_index, pending, None, budget)
        verified += sum(is_verified(samples[i]) for i in indices)
        failed += sum(is_failed(samples[i]) for i in indices)
        drawn += len(indices)
        round_index += 1


# ---------------------------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------------------------
class SampleStore:
    """The samples of a run, in ``path`` (appended as they come; the last record of a (problem, sample) wins)."""

    def __init__(self, path: str | Path, issues: IssueLog | None = None):
        self.path = Path(path)
        self.issues = IssueLog() if issues is None else issues
        self.by_problem: dict[str, dict[int, dict]] = {}
        lines = 0
        if self.path.exists():
            for line, rec in iter_jsonl(self.path, self.issues):
                lines += 1
                if not (
                    isinstance(rec, dict)
                    and isinstance(rec.get("problem_id"), str)
                    and isinstance(rec.get("sample"), int)
                    and all(key in rec for key in SAMPLE_FIELDS)
                ):
                    self.issues.add(self.path, line, None, "not a sample record; dropped")
                    continue
                self.by_problem.setdefault(rec["problem_id"], {})[rec["sample"]] = rec
        self.n_loaded = sum(map(len, self.by_problem.values()))
        if lines > self.n_loaded:  # a line cut off by a kill, or a retried sample: continue on a clean file
            self.rewrite()

    def samples(self, problem_id: str) -> dict[int, dict]:
        return self.by_problem.get(problem_id, {})

    def add(self, records: list[dict]) -> None:
        append_jsonl(self.path, records)
        for rec in records:
            self.by_problem.setdefault(rec["problem_id"], {})[rec["sample"]] = rec

    def records(self, problem_ids: list[str] | None = None) -> list[dict]:
        """Every record, one per (problem, sample), in ``problem_ids`` order (default: as stored) then by sample."""
        ids = list(self.by_problem) if problem_ids is None else problem_ids
        return [rec for pid in ids for _, rec in sorted(self.samples(pid).items())]

    def rewrite(self, problem_ids: list[str] | None = None) -> None:
        """Replace the file atomically with one line per (problem, sample), in canonical order."""
        ordered = self.records(problem_ids)
        if problem_ids is not None:  # samples of problems no longer in the set (a changed source) are kept, last
            known = set(problem_ids)
            ordered += [rec for pid in self.by_problem if pid not in known for rec in self.records([pid])]
        write_jsonl(self.path, ordered)


def reverify(store: SampleStore, problems: dict[str, Problem], filters: list[str], config: VerifyConfig) -> int:
    """Verify every stored trace again (the verification settings changed); returns how many changed verdict."""
    changed = 0
    for pid, samples in store.by_problem.items():
        problem = problems.get(pid)
        if problem is None:
            continue
        for rec in samples.values():
            if rec["error"] is None:
                reasons = trace_reasons(rec, problem, filters, config)
                changed += reasons != rec["reasons"]
                rec["reasons"] = reasons
    store.rewrite()
    return changed


def trace_reasons(record: dict, problem: Problem, filters: list[str], config: VerifyConfig) -> list[str]:
    """The verifier's reason codes for a sample; a reply the server cut at its token limit is ``truncated`` even
    when the cut happens to fall at the end of a sentence. A filter that raises on some odd trace rejects that trace
    (``verifier_error``, logged with the problem id) instead of stopping hours of sampling."""
    try:
        reasons = verify_trace(full_trace(record), problem, filters, config)
    except Exception:  # noqa: BLE001 - one trace lost to a verifier bug, not the run; the log says which
        logger.exception("verifying problem %r sample %s failed", problem.id, record["sample"])
        reasons = ["verifier_error"]
    if record["finish_reason"] == "length" and "truncated" not in reasons:
        reasons.append("truncated")
    return reasons


# ---------------------------------------------------------------------------------------------------------------
# teachers
# ---------------------------------------------------------------------------------------------------------------
class OfflineTeacherBackend:
    """The offline teacher (:mod:`redstar_geo.synthesis.offline_teacher`) behind the backend interface: a request id
    ``"<problem id>#<sample>"`` names what to write. Needs no image and no model."""

    needs_images = False

    def __init__(self, teacher, problems: dict[str, Problem], protocol: str):
        self.teacher, self.problems, self.protocol = teacher, problems, protocol

    def generate(self, requests: list[Request]) -> list[Generation]:
        out = []
        for request in requests:
            problem_id, sample = request.id.rsplit("#", 1)
            try:
                trace = self.teacher.sample(self.problems[problem_id], int(sample), self.protocol)
            except Exception as exc:  # noqa: BLE001 - e.g. not a GeoSynth problem: that sample fails, not the run
                out.append(Generation.failed(f"offline teacher: {type(exc).__name__}: {exc}"))
                continue
            out.append(
                Generation(
                    texts=[trace.text],
                    finish_reasons=[trace.finish_reason],
                    n_tokens=[trace.n_tokens],
                    reasoning=[trace.reasoning],
                    planted=[trace.planted],
                )
            )
        return out


def make_teacher(gen_config: GenerationConfig, config: SynthConfig, protocol: str, problems: list[Problem]):
    """The teacher backend ``gen_config.backend`` names (``offline``: the offline teacher over ``problems``)."""
    if gen_config.n != 1:
        raise ValueError("synthesis draws one sample per request: leave --n at 1 (use --samples_per_problem)")
    if gen_config.backend == "offline":
        from redstar_geo.synthesis.offline_teacher import OfflineTeacher, OfflineTeacherConfig

        teacher = OfflineTeacher(
            OfflineTeacherConfig(
                failure_rates=dict.fromkeys(_failure_kinds(), config.offline_failure_rate),
                seed=gen_config.seed,
                think_tags=config.offline_think_tags,
                separate_reasoning=config.offline_separate_reasoning,
                min_chars=config.offline_min_chars,
            )
        )
        return OfflineTeacherBackend(teacher, {p.id: p for p in problems}, protocol)
    if gen_config.temperature == 0:
        raise ValueError("sampling a teacher several times needs --temperature > 0 (the paper's teachers: 0.7-1.0)")
    return get_backend(gen_config)


def _failure_kinds() -> tuple[str, ...]:
    from redstar_geo.synthesis.offline_teacher import FAILURE_KINDS

    return FAILURE_KINDS


def teacher_name(gen_config: GenerationConfig) -> str:
    return "offline" if gen_config.backend == "offline" else f"{gen_config.backend}:{gen_config.model}"


# ---------------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Draw:
    problem: Problem
    sample: int
    round: int


class _Scheduler:
    """The state of one run: each problem's current round, what is in flight, and the records as they come."""

    def __init__(self, problems, teacher, store, config, gen_config, verify_config, system_prompt, progress):
        self.problems = {p.id: p for p in problems}
        self.order = [p.id for p in problems]
        self.teacher, self.store, self.config, self.gen_config = teacher, store, config, gen_config
        self.verify_config, self.filters = verify_config, split_names(config.filters)
        self.system_prompt = system_prompt
        self.name = teacher_name(gen_config)
        self.needs_images = getattr(teacher, "needs_images", True)
        self.open_in_round: dict[str, int] = {}
        self.stalled: set[str] = set()  # a sample failed at the server in this run: retried by the next run
        self.lock = threading.Lock()
        self.outstanding = 0
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=len(problems), desc="synthesis", unit="problem", dynamic_ncols=True)
        self.drawn = self.verified = self.errors = 0

    def start(self) -> list[_Draw]:
        draws = []
        for pid in self.order:
            draws += self._plan(pid)
        return draws

    def _plan(self, pid: str) -> list[_Draw]:
        plan = plan_problem(self.problems[pid], self.store.samples(pid), self.config)
        if plan.stop is not None:
            if self.bar is not None:
                self.bar.update()
            return []
        self.open_in_round[pid] = len(plan.pending)
        with self.lock:
            self.outstanding += len(plan.pending)
        return [_Draw(self.problems[pid], i, plan.round) for i in plan.pending]

    def request(self, draw: _Draw) -> Request:
        problem = draw.problem
        system, text = teacher_messages_text(problem, self.verify_config.protocol, self.system_prompt)
        image = None
        if self.needs_images and problem.image is not None:
            image = problem.load_image()  # checked readable before the run: see run_sampling
        return Request(
            id=f"{problem.id}#{draw.sample}",
            prompt=text,
            image=image,
            seed=sample_seed(self.gen_config.seed, problem.id, draw.sample),
            system_prompt=system,
        )

    def record(self, draw: _Draw, gen: Generation, latency: float | None) -> dict:
        rec = dict.fromkeys(SAMPLE_FIELDS)
        rec.update(problem_id=draw.problem.id, sample=draw.sample, round=draw.round, teacher=self.name, reasons=[])
        rec["latency_s"] = None if latency is None else round(latency, 3)
        if gen.error:
            rec.update(text="", finish_reason="error", error=gen.error)
            return rec
        reasoning = gen.reasoning[0] if gen.reasoning else None
        rec.update(
            text=replace_surrogates(gen.texts[0]),
            reasoning=None if reasoning is None else replace_surrogates(reasoning),
            finish_reason=gen.finish_reasons[0],
            n_tokens=gen.n_tokens[0] if gen.n_tokens else None,
            planted=gen.planted[0] if gen.planted else None,
        )
        rec["reasons"] = trace_reasons(rec, draw.problem, self.filters, self.verify_config)
        return rec

    def finish(self, done: list[tuple[_Draw, Generation, float | None]]) -> list[_Draw]:
        """Store finished samples; return the draws of the rounds they complete."""
        records = [self.record(draw, gen, latency) for draw, gen, latency in done]
        self.store.add(records)
        new = []
        for (draw, _, _), rec in zip(done, records, strict=True):
            pid = draw.problem.id
            self.drawn += 1
            self.verified += is_verified(rec)
            if rec["error"] is not None:
                self.errors += 1
                self.stalled.add(pid)
            self.open_in_round[pid] -= 1
            if self.open_in_round[pid] == 0 and pid not in self.stalled:
                new += self._plan(pid)
        with self.lock:
            self.outstanding -= len(done)
        if self.bar is not None:
            self.bar.set_postfix(samples=self.drawn, verified=self.verified, errors=self.errors, refresh=False)
        return new

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_sampling(
    problems: list[Problem],
    teacher,
    store: SampleStore,
    config: SynthConfig,
    gen_config: GenerationConfig,
    verify_config: VerifyConfig,
    progress: bool = True,
) -> list[dict]:
    """Sample ``teacher`` adaptively for every problem until each stops (see the module docstring); returns one
    status per problem: ``{"problem_id", "budget", "n_samples", "n_verified", "n_failed", "n_errors",
    "pass_rate", "tokens", "stop"}``."""
    scheduler = _Scheduler(
        problems, teacher, store, config, gen_config, verify_config, config.teacher_system_prompt, progress
    )
    try:
        draws = scheduler.start()
        if draws and hasattr(teacher, "stream"):
            _run_streaming(scheduler, teacher, draws)
        elif draws:
            _run_chunks(scheduler, teacher, draws, chunk_size=256 if gen_config.backend == "offline" else 64)
    finally:
        scheduler.close()
    store.rewrite([p.id for p in problems])
    return [problem_status(p, store.samples(p.id), config) for p in problems]


def _run_chunks(scheduler: _Scheduler, teacher, draws: list[_Draw], chunk_size: int) -> None:
    """A backend that generates a list at a time (offline, transformers, vLLM in-process): chunks of the queue;
    a problem's next round joins the queue's end as soon as its round is complete."""
    todo = deque(draws)
    while todo:
        chunk = [todo.popleft() for _ in range(min(chunk_size, len(todo)))]
        start = time.perf_counter()
        generations = teacher.generate([scheduler.request(d) for d in chunk])
        latency = (time.perf_counter() - start) / len(chunk) if scheduler.gen_config.backend != "offline" else None
        todo.extend(scheduler.finish([(d, g, latency) for d, g in zip(chunk, generations, strict=True)]))


def _run_streaming(scheduler: _Scheduler, teacher, draws: list[_Draw]) -> None:
    """A streaming backend (the OpenAI-compatible client): one continuous window fed from a live queue, so a
    problem's next round is sent while other problems' requests are still running."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for draw in draws:
        todo.put(draw)
    in_flight: dict[str, _Draw] = {}
    started: dict[str, float] = {}

    def live_requests():
        # Runs in the client's feeder thread. None tells it that nothing is ready yet: it sends what it has.
        while True:
            try:
                draw = todo.get(timeout=0.05)
            except queue.Empty:
                with scheduler.lock:
                    if scheduler.outstanding == 0:
                        return
                yield None
                continue
            request = scheduler.request(draw)
            in_flight[request.id] = draw
            started[request.id] = time.perf_counter()
            yield request

    for finished in teacher.stream(live_requests()):
        now = time.perf_counter()
        done = [(in_flight.pop(r.id), gen, now - started.pop(r.id)) for r, gen in finished]
        for draw in scheduler.finish(done):
            todo.put(draw)


def problem_status(problem: Problem, samples: dict[int, dict], config: SynthConfig) -> dict:
    """One problem's outcome: its budget, samples drawn, verified and failed, server errors, pass rate, tokens spent
    and why it stopped (``enough``, ``budget``, ``errors``: a sample failed at the server and is retried by the
    next run)."""
    plan = plan_problem(problem, samples, config)
    traces = [rec for rec in samples.values() if rec["error"] is None]
    verified = sum(map(is_verified, traces))
    errors = len(samples) - len(traces)
    return {
        "problem_id": problem.id,
        "budget": plan.budget,
        "n_samples": len(traces),
        "n_verified": verified,
        "n_failed": len(traces) - verified,
        "n_errors": errors,
        "pass_rate": round(verified / len(traces), 4) if traces else None,
        "tokens": sum(rec["n_tokens"] or 0 for rec in traces),
        "stop": plan.stop or ("errors" if errors else "pending"),
    }
