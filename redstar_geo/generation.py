"""Generating responses for problems: backends behind one small interface, and a resumable generation stage.

Usage::

    from redstar_geo.generation import GenerationConfig, get_backend, generate_responses

    gen = GenerationConfig(backend="transformers", model="runs/tiny-qwen2vl", max_new_tokens=512, batch_size=16)
    backend = get_backend(gen)
    records = generate_responses(problems, lambda p: bench.prompt(p, "choice"), backend, "runs/x/responses.jsonl")

A backend has ``generate(requests) -> list[Generation]``: one :class:`Generation` (``n`` texts, their finish
reasons, or an error) per :class:`Request`; a streaming backend also has ``stream(requests)``, which yields
``(request, generation)`` pairs as they finish. Backends:

- ``transformers``: in-process ``model.generate`` with left-padded batches of similar prompt length (sorted by
  length so little compute goes to padding), optional static KV cache and ``torch.compile`` (``--cache_implementation
  static --compile true``) on GPU;
- ``openai``: any OpenAI-compatible chat-completions server (vLLM, SGLang, ``transformers serve``) through
  :class:`redstar_geo.openai_client.ChatClient`: a continuous window of requests in flight, one deadline per
  attempt, retries with backoff and jitter, every malformed reply a per-sample error (streaming);
- ``vllm``: vLLM in-process (``pip install 'redstar-geo[vllm]'``).

``generate_responses`` appends one JSON line per problem to its output file as soon as it finishes; a rerun skips the
finished ids and tries the failed ones again, so a killed run loses nothing it had written.
"""

from __future__ import annotations

import itertools
import logging
import queue
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_geo.images import ImageLoadError
from redstar_geo.import_utils import require
from redstar_geo.jsonl import IssueLog, append_jsonl, iter_jsonl, replace_surrogates, write_jsonl
from redstar_geo.messages import chat_messages
from redstar_geo.openai_client import ChatClient, ChatReply
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

BACKENDS = ("transformers", "openai", "vllm", "offline")


@dataclass
class GenerationConfig:
    """Which model answers, through which backend, with which sampling parameters."""

    model: str | None = field(default=None, metadata={"help": "model directory or hub id (or served model name)"})
    backend: str = field(
        default="transformers",
        metadata={
            "help": f"generation backend: {', '.join(BACKENDS)} (offline: GeoSynth's offline teacher, for synthesis)"
        },
    )
    max_new_tokens: int = field(default=2048, metadata={"help": "longest response, in tokens"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    n: int = field(default=1, metadata={"help": "responses per problem (pass@n when > 1; needs temperature > 0)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    batch_size: int = field(default=16, metadata={"help": "transformers: prompts per generate() call"})
    dtype: str = field(default="auto", metadata={"help": "transformers/vllm weights dtype: auto, bfloat16, float32"})
    attn_implementation: str | None = field(default=None, metadata={"help": "transformers: sdpa, flash_attention_2"})
    cache_implementation: str | None = field(default=None, metadata={"help": "transformers: e.g. static"})
    compile: bool = field(
        default=False, metadata={"help": "transformers: static cache + compiled, CUDA-graphed decode step (GPU)"}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "allow model repository code (InternVL2)"})
    api_base: str = field(
        default="http://127.0.0.1:8000/v1",
        metadata={
            "help": "openai: server base URL, or several separated by commas (one vLLM server per node): each "
            "request goes to the live server with the most free slots"
        },
    )
    api_key: str = field(default="EMPTY", metadata={"help": "openai: API key"})
    concurrency: int = field(
        default=256,
        metadata={
            "help": "openai: requests kept in flight per server, a continuous window (hundreds to thousands; "
            "the server queues what it cannot run at once)"
        },
    )
    request_timeout: float = field(
        default=1800.0,
        metadata={"help": "openai: deadline of one attempt in seconds: connecting, sending and the whole reply"},
    )
    max_retries: int = field(
        default=5, metadata={"help": "openai: retries on timeouts, connection errors, 408/425/429 and 5xx"}
    )
    retry_backoff: float = field(
        default=1.0,
        metadata={
            "help": "openai: base of the exponential backoff between retries, seconds (full jitter; 429 "
            "waits as long as the server's Retry-After says)"
        },
    )
    save_every: int = field(
        default=64, metadata={"help": "transformers/vllm: problems per generate() call, appended as each call ends"}
    )
    missing_image: str = field(
        default="error",
        metadata={
            "help": "a problem whose image cannot be read: 'error' marks it and skips generation, "
            "'text_only' asks the question without the image (the error is still recorded)"
        },
    )

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {BACKENDS}")
        if min(self.n, self.max_new_tokens, self.batch_size, self.concurrency, self.save_every) < 1:
            raise ValueError("n, max_new_tokens, batch_size, concurrency and save_every must be >= 1")
        if self.request_timeout <= 0 or self.max_retries < 0 or self.retry_backoff < 0:
            raise ValueError("request_timeout must be > 0, max_retries and retry_backoff >= 0")
        if self.n > 1 and self.temperature == 0:
            raise ValueError("n > 1 samples need temperature > 0 (greedy decoding gives n identical responses)")
        if self.missing_image not in ("error", "text_only"):
            raise ValueError("missing_image must be 'error' or 'text_only'")


@dataclass
class Request:
    id: str
    prompt: str
    image: object | None = None  # a PIL image, or None for text-only
    seed: int | None = None  # this request's sampling seed (openai, vllm); None: the config's seed
    system_prompt: str | None = None


@dataclass
class Generation:
    texts: list[str]
    finish_reasons: list[str]  # "stop" | "length" | "error"
    error: str | None = None
    n_tokens: list[int] | None = None
    reasoning: list[str | None] | None = None  # the thinking, where a server returns it apart from the answer
    planted: list[str | None] | None = None  # the offline teacher only: the failure it planted in each text

    @classmethod
    def failed(cls, error: str, n: int = 1) -> Generation:
        return cls(texts=[""] * n, finish_reasons=["error"] * n, error=error)


def request_messages(request: Request, image_format: str = "object") -> list[dict]:
    """The chat messages of a request (:func:`redstar_geo.messages.chat_messages`: image first, then the prompt)."""
    return chat_messages(
        request.prompt, image=request.image, system_prompt=request.system_prompt, image_format=image_format
    )


class TransformersBackend:
    """In-process generation with ``model.generate`` on length-sorted, left-padded batches."""

    def __init__(self, config: GenerationConfig, model=None, processor=None):
        self.config = config
        if model is None:
            from redstar_geo.models import load_model_and_processor

            model, processor = load_model_and_processor(
                config.model,
                trust_remote_code=config.trust_remote_code,
                torch_dtype=config.dtype,
                attn_implementation=config.attn_implementation,
            )
        if not hasattr(processor, "image_processor"):
            from redstar_geo.models import CONVERT_HINT

            raise ValueError(
                f"{config.model}: has no multimodal processor (remote-code InternVL2); convert it to transformers' "
                f"native InternVL ({CONVERT_HINT}), or evaluate it with --backend vllm / --backend openai"
            )
        self.torch = require("torch", extra="train", feature="the transformers backend")
        self.model, self.processor = model.eval(), processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"  # decoder-only batching: new tokens must line up at the right

    def _inputs(self, requests: list[Request]):
        conversations = [request_messages(r) for r in requests]
        return self.processor.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            processor_kwargs={"padding": True},
        ).to(self.model.device)

    def generate(self, requests: list[Request]) -> list[Generation]:
        cfg = self.config
        # Sort by prompt length so each batch pads little; restore the caller's order at the end.
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt))
        results: dict[int, Generation] = {}
        configured = self.model.generation_config.eos_token_id  # an id or a list of ids (Qwen2.5-VL, InternVL2)
        eos = set(configured if isinstance(configured, list) else [configured]) - {None}
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            batch = [requests[i] for i in idx]
            try:
                inputs = self._inputs(batch)
                kwargs = dict(
                    max_new_tokens=cfg.max_new_tokens,
                    num_return_sequences=cfg.n,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
                if cfg.temperature > 0:
                    kwargs.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if cfg.cache_implementation:
                    kwargs["cache_implementation"] = cfg.cache_implementation
                if cfg.compile:
                    # Compile the decode step only (generate does this with a static cache): compiling the whole
                    # forward would recompile the prefill for every new prompt length and image size.
                    from transformers import CompileConfig

                    kwargs.update(cache_implementation="static", compile_config=CompileConfig(dynamic=False))
                self.torch.manual_seed(cfg.seed)
                with self.torch.inference_mode():
                    out = self.model.generate(**inputs, **kwargs)  # (batch * n, prompt_len + new)
            except Exception as exc:  # noqa: BLE001 - one bad batch is recorded per sample, the run goes on
                logger.exception("generation failed for %s", [r.id for r in batch])
                for i in idx:
                    results[i] = Generation.failed(f"{type(exc).__name__}: {exc}", cfg.n)
                continue
            new = out[:, inputs["input_ids"].shape[1] :].tolist()
            for j, i in enumerate(idx):
                texts, reasons, lengths = [], [], []
                for seq in new[j * cfg.n : (j + 1) * cfg.n]:
                    stop = next((k for k, t in enumerate(seq) if t in eos), None)
                    tokens = seq if stop is None else seq[:stop]
                    tokens = [t for t in tokens if t != self.tokenizer.pad_token_id]
                    texts.append(self.tokenizer.decode(tokens, skip_special_tokens=True))
                    reasons.append("stop" if stop is not None else "length")
                    lengths.append(len(tokens))
                results[i] = Generation(texts=texts, finish_reasons=reasons, n_tokens=lengths)
        return [results[i] for i in range(len(requests))]


class OpenAIBackend:
    """An OpenAI-compatible ``/chat/completions`` server through :class:`redstar_geo.openai_client.ChatClient`: a
    continuous window of ``concurrency`` requests, one deadline per attempt, retries, every malformed reply a
    per-sample error. ``stream`` yields results as they finish; ``generate`` returns them in order."""

    def __init__(self, config: GenerationConfig):
        if not config.model:
            raise ValueError("the openai backend needs --model: the served model's name")
        self.config = config
        self.client = ChatClient(
            config.api_base,
            config.api_key,
            concurrency=config.concurrency,
            request_timeout=config.request_timeout,
            max_retries=config.max_retries,
            retry_backoff=config.retry_backoff,
        )

    def body(self, request: Request) -> dict:
        cfg = self.config
        return {
            "model": cfg.model,
            "messages": request_messages(request, image_format="data_uri"),
            "n": cfg.n,
            "max_tokens": cfg.max_new_tokens,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "seed": cfg.seed if request.seed is None else request.seed,
        }

    def _generation(self, reply: ChatReply) -> Generation:
        if reply.error is not None:
            return Generation.failed(reply.error, self.config.n)
        return Generation(
            texts=reply.texts, finish_reasons=reply.finish_reasons, n_tokens=reply.n_tokens, reasoning=reply.reasoning
        )

    def stream(self, requests: Iterable[Request]) -> Iterator[list[tuple[Request, Generation]]]:
        for done in self.client.stream(requests, self.body):
            yield [(request, self._generation(reply)) for request, reply in done]

    def generate(self, requests: list[Request]) -> list[Generation]:
        by_position = {}
        for done in self.client.stream(range(len(requests)), lambda i: self.body(requests[i])):
            by_position.update((i, self._generation(reply)) for i, reply in done)
        return [by_position[i] for i in range(len(requests))]


class VLLMBackend:
    """vLLM in-process: ``LLM.chat`` over the whole batch (vLLM schedules it with continuous batching)."""

    def __init__(self, config: GenerationConfig):
        vllm = require("vllm", extra="vllm", feature="the vllm backend")
        self.config = config
        self.llm = vllm.LLM(
            model=config.model,
            dtype=config.dtype,
            trust_remote_code=config.trust_remote_code,
            seed=config.seed,
            limit_mm_per_prompt={"image": 1},
        )
        self.sampling_params = vllm.SamplingParams

    def _params(self, seed: int | None):
        cfg = self.config
        return self.sampling_params(
            n=cfg.n,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_tokens=cfg.max_new_tokens,
            seed=cfg.seed if seed is None else seed,
        )

    def generate(self, requests: list[Request]) -> list[Generation]:
        params = [self._params(r.seed) for r in requests]  # a request's own seed (synthesis samples) or the config's
        outputs = self.llm.chat([request_messages(r, image_format="data_uri") for r in requests], params)
        return [
            Generation(
                texts=[o.text for o in out.outputs],
                finish_reasons=[o.finish_reason or "stop" for o in out.outputs],
                n_tokens=[len(o.token_ids) for o in out.outputs],
            )
            for out in outputs
        ]


def get_backend(config: GenerationConfig, model=None, processor=None):
    """The backend ``config.backend`` names (``model``/``processor`` reuse an already loaded transformers model)."""
    if config.backend == "transformers":
        if model is None and not config.model:
            raise ValueError("the transformers backend needs --model: a model directory or hub id")
        return TransformersBackend(config, model, processor)
    if config.backend == "openai":
        return OpenAIBackend(config)
    if config.backend == "offline":
        raise ValueError(
            "--backend offline is the offline teacher, which only writes Long-CoT traces for GeoSynth problems in "
            "synthesis (data_prep/synthesize.py); choose transformers, openai or vllm"
        )
    return VLLMBackend(config)


def _is_finished(record) -> bool:
    """A stored record that need not be generated again: it has its responses, all of them text."""
    responses = record.get("responses")
    return bool(responses) and isinstance(responses, list) and all(isinstance(r, str) for r in responses)


def read_done(path: Path, issues: IssueLog) -> tuple[dict[str, dict], int]:
    """The finished records already in ``path`` and the number of ids whose last record failed.

    The last record of an id wins (a retry is appended after the failure it replaces). A record without responses
    (its generation or its image failed) is dropped so that this run tries it again; so is a line cut off by a
    kill and a record whose responses are not text (from an older version), each reported in ``issues``. When
    anything was dropped the file is rewritten with the finished records only, so appends continue a clean file.
    """
    if not path.exists():
        return {}, 0
    latest, bad, lines = {}, len(issues), 0
    for line, rec in iter_jsonl(path, issues):
        lines += 1
        if not (isinstance(rec, dict) and isinstance(rec.get("id"), str)):
            issues.add(path, line, None, "not a generation record (no string id); dropped")
            continue
        if rec.get("responses") and not _is_finished(rec):
            issues.add(path, line, rec["id"], "stored responses are not all text; generating again")
        latest[rec["id"]] = rec
    done = {rid: rec for rid, rec in latest.items() if _is_finished(rec)}
    if len(issues) > bad or len(done) < lines:
        write_jsonl(path, done.values())
    return done, len(latest) - len(done)


def stream_generations(
    backend, requests: Iterable[Request], chunk_size: int
) -> Iterator[list[tuple[Request, Generation]]]:
    """Lists of ``(request, generation)`` as they finish: a streaming backend's own order (``backend.stream``),
    else ``backend.generate`` on ``chunk_size`` requests at a time."""
    if hasattr(backend, "stream"):
        yield from backend.stream(requests)
        return
    iterator = iter(requests)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        yield list(zip(chunk, backend.generate(chunk), strict=True))


def generate_responses(
    problems: list[Problem],
    prompt_fn: Callable[[Problem], str],
    backend,
    path: str | Path,
    missing_image: str = "error",
    chunk_size: int = 64,
    issues: IssueLog | None = None,
    progress: bool = True,
) -> dict[str, dict]:
    """Generate for every problem not yet finished in ``path``; return ``{id: record}`` for all problems.

    A record is ``{"id", "prompt", "responses", "reasoning", "finish_reasons", "n_tokens", "error", "image_error",
    "text_only"}``, appended to ``path`` as soon as its generation finishes (in the order they finish). A rerun
    skips the finished ids and tries again the ones that failed (generation errors, unreadable images), and says
    how many. A problem whose image cannot be read gets ``error`` and ``image_error`` set and, unless
    ``missing_image="text_only"`` (then ``text_only`` is true), no responses. Lone surrogates in generated text
    (invalid Unicode, which UTF-8 cannot store) are replaced with U+FFFD and reported in ``issues``.
    """
    path = Path(path)
    issues = IssueLog() if issues is None else issues
    done, failed_before = read_done(path, issues)
    todo = [p for p in problems if p.id not in done]
    if failed_before:
        logger.warning("%s: trying again %d samples that failed before", path, failed_before)
    # Records of problems not sent (unreadable image) and records awaiting their generation, keyed by id. Filled by
    # `requests()`, which a streaming backend runs in its own thread, hence the queue.
    not_sent: queue.SimpleQueue = queue.SimpleQueue()
    waiting: dict[str, dict] = {}

    def requests() -> Iterator[Request]:
        for problem in todo:
            prompt = prompt_fn(problem)
            record, image, ask = start_record(problem.id, prompt, problem, missing_image)
            if ask:
                waiting[problem.id] = record
                yield Request(problem.id, prompt, image)
            else:
                not_sent.put(record)

    appender = RecordAppender(path, done, not_sent, len(todo) if progress else 0, f"generate {path.parent.name}")
    try:
        for finished in stream_generations(backend, requests(), chunk_size):
            appender.write([finish_record(waiting.pop(r.id), gen, path, issues) for r, gen in finished])
        appender.write([])  # problems after the last request that were not sent
    finally:
        appender.close()
    return {p.id: done[p.id] for p in problems}


def start_record(record_id: str, prompt: str, problem: Problem, missing_image: str) -> tuple[dict, Any, bool]:
    """``(record, image, ask)`` for a generation about to be asked: the record of :func:`generate_responses` with
    no responses yet, the problem's image, and whether to ask at all (not for an unreadable image, unless
    ``missing_image="text_only"``; the record then carries the image error)."""
    image, error = None, None
    if problem.image is not None:
        try:
            image = problem.load_image()
        except ImageLoadError as exc:
            error = f"image: {exc}"
    record = {
        "id": record_id,
        "prompt": prompt,
        "responses": [],
        "reasoning": None,
        "finish_reasons": [],
        "n_tokens": None,
        "error": error,
        "image_error": error,
        "text_only": error is not None and missing_image == "text_only",
    }
    return record, image, error is None or missing_image == "text_only"


def finish_record(record: dict, gen: Generation, path: Path, issues: IssueLog) -> dict:
    """``record`` filled with ``gen``: its error, or its texts with lone surrogates (invalid Unicode, which UTF-8
    cannot store) replaced by U+FFFD and reported in ``issues``."""
    if gen.error:
        record["error"] = (record["error"] + "; " if record["error"] else "") + f"generation: {gen.error}"
        return record
    texts = [replace_surrogates(text) for text in gen.texts]
    reasoning = None if gen.reasoning is None else [t if t is None else replace_surrogates(t) for t in gen.reasoning]
    if texts != gen.texts or reasoning != gen.reasoning:
        issues.add(path, None, record["id"], "response has lone surrogates (invalid Unicode); stored with U+FFFD")
    record.update(responses=texts, reasoning=reasoning, finish_reasons=gen.finish_reasons, n_tokens=gen.n_tokens)
    return record


class RecordAppender:
    """Appends finished generation records to ``path`` as they come, with the records never sent (taken from the
    ``not_sent`` queue, which a streaming backend's request thread fills), keeps ``done`` current, and shows a
    progress bar of ``total`` records with the count of failures (none for ``total`` 0)."""

    def __init__(self, path: Path, done: dict, not_sent: queue.SimpleQueue, total: int, desc: str, unit="sample"):
        self.path, self.done, self.not_sent, self.errors = path, done, not_sent, 0
        self.bar = None
        if total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)

    def write(self, records: list[dict]) -> None:
        while not self.not_sent.empty():
            records.append(self.not_sent.get())
        if not records:
            return
        append_jsonl(self.path, records)
        self.done.update((r["id"], r) for r in records)
        self.errors += sum(bool(r["error"]) and not r["responses"] for r in records)
        if self.bar is not None:
            self.bar.update(len(records))
            self.bar.set_postfix(errors=self.errors, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def stream_transformers(
    model,
    processor,
    messages: list[dict],
    max_new_tokens: int = 1024,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop=None,
    seed: int | None = None,
):
    """Stream one chat reply of an in-process model token by token (the demo): yields
    :class:`redstar_geo.openai_client.ChatDelta` pieces of new text with the tokens generated so far, and last a
    delta with ``finish_reason`` "stop" (end of sequence), "length" (``max_new_tokens`` reached) or "cancelled".

    ``messages`` come from :func:`redstar_geo.messages.chat_messages` (``image_format="object"``). Generation runs
    in a background thread feeding transformers' ``TextIteratorStreamer``; a ``StoppingCriteria`` watches ``stop`` (a
    ``threading.Event``) at every token, so setting it ends generation at once, as does closing the iterator early.
    An exception in generation is raised here.
    """
    import threading

    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    from redstar_geo.openai_client import ChatDelta

    torch = require("torch", extra="train", feature="in-process streaming generation")
    stop = stop if stop is not None else threading.Event()
    closed = threading.Event()  # the consumer went away: stop too, without touching the caller's event
    tokenizer = getattr(processor, "tokenizer", processor)
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    ).to(model.device)
    prompt_length = inputs["input_ids"].shape[1]
    generated = [0]

    class WatchStop(StoppingCriteria):
        """Counts the generated tokens and ends generation once ``stop`` is set or the consumer has gone."""

        def __call__(self, input_ids, scores, **kwargs):
            generated[0] = input_ids.shape[1] - prompt_length
            done = stop.is_set() or closed.is_set()
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = dict(
        **inputs,
        max_new_tokens=max_new_tokens,
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([WatchStop()]),
        pad_token_id=tokenizer.pad_token_id,
    )
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    errors: list[BaseException] = []

    def run():
        try:
            if seed is not None:
                torch.manual_seed(seed)
            with torch.inference_mode():
                model.generate(**kwargs)
        except Exception as exc:  # noqa: BLE001 - raised in the consumer's thread
            errors.append(exc)
            streamer.end()  # generate ends the streamer only when it finishes; without this the consumer waits

    thread = threading.Thread(target=run, name="stream-generate", daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece:
                yield ChatDelta(content=piece, completion_tokens=generated[0])
    finally:
        closed.set()
        thread.join()
    if errors:
        raise errors[0]
    if stop.is_set():
        reason = "cancelled"
    elif generated[0] >= max_new_tokens:
        reason = "length"
    else:
        reason, generated[0] = "stop", max(0, generated[0] - 1)  # the end-of-sequence token is not counted
    yield ChatDelta(finish_reason=reason, completion_tokens=generated[0])
