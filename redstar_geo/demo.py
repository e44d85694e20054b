"""The Gradio demo: ask a geometry question about a diagram and watch the model reason, token by token.

Usage::

    from redstar_geo.demo import DemoConfig, build_demo, launch, load_backend

    config = DemoConfig()                                   # the embedded tiny model, 127.0.0.1:7860
    config = DemoConfig(model="Qwen/Qwen2-VL-7B-Instruct")  # any supported model, in-process
    config = DemoConfig(endpoint="http://127.0.0.1:8000/v1", model="served-name")   # an OpenAI-compatible server
    backend = load_backend(config)
    demo = build_demo(backend, config)
    launch(demo, config)                                    # blocks; launch(..., prevent_thread_lock=True) returns

``demo/app.py`` is the command-line entry. What a request goes through:

- the question (with optional choices, one per line) becomes the benchmark prompt (:func:`format_prompt`) and the chat
  messages (:func:`redstar_geo.messages.chat_messages`), exactly as evaluation asks it;
- the reply streams from the backend (:func:`redstar_geo.generation.stream_transformers` in-process: a
  ``TextIteratorStreamer`` fed by ``generate`` in a thread, with a stop event checked at every token; or
  :meth:`redstar_geo.openai_client.ChatClient.stream_chat` against a server) into a collapsible "Reasoning" block of
  the chatbot;
- the browser gets at most ``updates_per_second`` updates (each update re-sends and re-renders the whole message, so
  one update per token makes a long trace cost quadratic time in the browser), with a live token count;
- every ``loop_check_tokens`` tokens the text so far goes through the verification filter for repetition loops
  (:func:`redstar_geo.verify.check_repetition`); a reply caught repeating itself is stopped;
- the answer card shows the final answer as the project's judge extracts it (:func:`redstar_geo.judge.judge`), with
  the text of the choice a letter names, and, for the bundled examples (real MathVerse diagrams, GeoSynth problems),
  whether it matches the gold answer.

Safe defaults: bound to 127.0.0.1, no share link, a request queue with a concurrency limit, an upload size limit, an
image pixel limit, non-image uploads refused with a message, no remote model code unless ``trust_remote_code``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redstar_geo.benchmarks.common import format_prompt
from redstar_geo.images import ImageLoadError, load_image
from redstar_geo.import_utils import require
from redstar_geo.judge import judge
from redstar_geo.messages import chat_messages
from redstar_geo.openai_client import ChatClient, ChatDelta, StreamError
from redstar_geo.schema import LETTERS, Problem, ProblemError, detect_language
from redstar_geo.verify import VerifyConfig, check_repetition

logger = logging.getLogger(__name__)

# The delimiters models write LaTeX in; the chatbot and the answer card render all four.
LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "\\[", "right": "\\]", "display": True},
]
# Real diagrams from the bundled MathVerse sample offered as examples, by pid, with their labels. Read through the
# benchmark loader, never copied.
MATHVERSE_EXAMPLES = {
    "226": "right triangle: find side h",
    "246": "circle: exact area",
    "222": "triangle with altitudes: length of BD",
    "33": "unit circle: choices in LaTeX",
}
GEOSYNTH_EXAMPLES = 3
TINY_MODEL_NOTE = (
    "the embedded tiny Qwen2-VL with random weights (its text is noise: it shows the pipeline, not geometry); "
    "pass --model or --endpoint for a real model"
)
CSS = """
#answer-card {border: 2px solid var(--color-accent); border-radius: 12px; padding: 4px 16px; min-height: 96px}
#answer-card h2 {font-size: 1.9em; margin: 0.2em 0}
#status {font-size: 0.95em; color: var(--body-text-color-subdued)}
"""
# Status and verdict marks below are plain symbols (✓ ✗ ● ■ ↻ ⚠), not emoji: they render in any font, headless
# browsers included.
EMPTY_CARD = "#### Answer\n*ask a question*"
# Control characters other than tab and newline: a random or broken model emits them, and a browser shows them as
# boxes (or not at all).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CHOICE_PREFIX = re.compile(r"^\s*\(?([A-Ha-h])\)?\s*[.:：)．]\s*(.*)$")


@dataclass
class DemoConfig:
    """What the demo serves and how (``python demo/app.py --help`` lists these)."""

    model: str | None = field(
        default=None,
        metadata={
            "help": "model directory or hub id loaded in-process; with --endpoint, the served model's name. "
            "Default: the embedded tiny random model"
        },
    )
    endpoint: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible server base URL (e.g. http://127.0.0.1:8000/v1)"}
    )
    api_key: str = field(default="EMPTY", metadata={"help": "endpoint: API key"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind; 0.0.0.0 exposes it to the network"})
    port: int = field(default=7860, metadata={"help": "port (0: a free one)"})
    share: bool = field(default=False, metadata={"help": "create a public gradio.live share link"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow model repository code (InternVL2)"})
    dtype: str = field(default="auto", metadata={"help": "in-process weights dtype: auto, bfloat16, float32"})
    max_new_tokens: int = field(default=1024, metadata={"help": "default of the max-new-tokens slider"})
    max_new_tokens_limit: int = field(default=8192, metadata={"help": "largest max new tokens a user may ask for"})
    temperature: float = field(default=0.0, metadata={"help": "default sampling temperature (0 = greedy)"})
    top_p: float = field(default=1.0, metadata={"help": "default nucleus sampling threshold"})
    concurrency_limit: int | None = field(
        default=None,
        metadata={"help": "requests generated at once (default: 1 in-process, 8 against an endpoint); others queue"},
    )
    max_queue: int = field(default=64, metadata={"help": "requests that may wait in the queue; more are refused"})
    max_upload_mb: float = field(default=10.0, metadata={"help": "largest upload, in MB"})
    max_image_pixels: int = field(default=16_000_000, metadata={"help": "largest image, in pixels (width x height)"})
    updates_per_second: float = field(default=4.0, metadata={"help": "streamed updates sent to the browser per s"})
    loop_check_tokens: int = field(
        default=64, metadata={"help": "check the reply for a repetition loop every this many tokens"}
    )
    request_timeout: float = field(default=1800.0, metadata={"help": "endpoint: deadline of one request, s"})
    examples: bool = field(default=True, metadata={"help": "offer the MathVerse and GeoSynth examples"})

    def __post_init__(self):
        if self.endpoint and not self.model:
            raise ValueError("--endpoint needs --model: the name the server serves the model under")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port}: use 0 (a free port) to 65535")
        if not 1 <= self.max_new_tokens <= self.max_new_tokens_limit:
            raise ValueError("need 1 <= --max_new_tokens <= --max_new_tokens_limit")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("--temperature must be >= 0 and --top_p in (0, 1]")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            raise ValueError("--concurrency_limit must be at least 1 (or unset for the default)")
        if min(self.max_queue, self.max_image_pixels, self.loop_check_tokens) < 1 or self.max_upload_mb <= 0:
            raise ValueError("--max_queue, --max_image_pixels, --loop_check_tokens and --max_upload_mb must be > 0")
        if self.updates_per_second <= 0 or self.request_timeout <= 0:
            raise ValueError("--updates_per_second and --request_timeout must be > 0")

    @property
    def concurrency(self) -> int:
        """Requests generated at once: one in-process model on a CPU serves one at a time best."""
        return self.concurrency_limit or (8 if self.endpoint else 1)


@dataclass
class Settings:
    """One request's generation settings (the accordion's sliders)."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None  # in-process sampling seed (None: not reseeded)


# ---------------------------------------------------------------------------------------------------------------
# backends: a reply as a stream of ChatDelta pieces
# ---------------------------------------------------------------------------------------------------------------
class InProcessBackend:
    """A model loaded in this process (``stream_transformers``)."""

    image_format = "object"

    def __init__(self, model, processor, name: str):
        if not hasattr(processor, "image_processor"):
            raise ValueError(f"{name}: has no multimodal processor; the demo needs a vision-language model")
        self.model, self.processor, self.name = model.eval(), processor, name

    def stream(self, messages: list[dict], settings: Settings, stop: threading.Event) -> Iterator[ChatDelta]:
        from redstar_geo.generation import stream_transformers

        yield from stream_transformers(
            self.model,
            self.processor,
            messages,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            stop=stop,
            seed=settings.seed,
        )


class EndpointBackend:
    """An OpenAI-compatible server, streamed (``ChatClient.stream_chat``)."""

    image_format = "data_uri"

    def __init__(self, api_base: str, model: str, api_key: str = "EMPTY", request_timeout: float = 1800.0):
        self.client = ChatClient(api_base, api_key, concurrency=1, request_timeout=request_timeout, max_retries=2)
        self.model = self.name = model

    def stream(self, messages: list[dict], settings: Settings, stop: threading.Event) -> Iterator[ChatDelta]:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        yield from self.client.stream_chat(body, stop=stop)


def load_backend(config: DemoConfig):
    """The backend ``config`` asks for: the endpoint, the model in-process, or the embedded tiny model (built in a
    temporary directory in a few seconds, no download)."""
    if config.endpoint:
        return EndpointBackend(config.endpoint, config.model, config.api_key, config.request_timeout)
    from redstar_geo.models import load_model_and_processor

    if config.model:
        model, processor = load_model_and_processor(
            config.model, trust_remote_code=config.trust_remote_code, torch_dtype=config.dtype
        )
        return InProcessBackend(model, processor, config.model)
    from redstar_geo.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="redstar-geo-tiny-") as tmp:
        model, processor = load_model_and_processor(str(build_tiny_model(Path(tmp) / "tiny-qwen2vl")))
    return InProcessBackend(model, processor, TINY_MODEL_NOTE)


# ---------------------------------------------------------------------------------------------------------------
# pieces of a request: choices, examples, throttling, the loop guard, the answer card
# ---------------------------------------------------------------------------------------------------------------
def parse_choices(text: str | None) -> list[str]:
    """Choices typed one per line, with or without their letters (``A. 30°`` / ``(B) 45°`` / ``60°``); raises
    ValueError unless there are none or 2-8."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    prefixed = [_CHOICE_PREFIX.match(line) for line in lines]
    if lines and all(prefixed) and "".join(m.group(1).upper() for m in prefixed) == LETTERS[: len(lines)]:
        lines = [m.group(2).strip() for m in prefixed]
    if len(lines) == 1 or len(lines) > len(LETTERS):
        raise ValueError(f"{len(lines)} choices: give none, or 2 to {len(LETTERS)}, one per line")
    return lines


def format_choices(choices: list[str]) -> str:
    """Choices as ``A. text`` lines (what the user message shows)."""
    return "\n".join(f"{letter}. {choice}" for letter, choice in zip(LETTERS, choices, strict=False))


@dataclass
class DemoExample:
    """A clickable example: its problem (with the gold answer) and the diagram's path."""

    id: str
    label: str
    problem: Problem
    image_path: str


def demo_examples(
    image_dir: str | Path, mathverse: dict[str, str] | None = None, geosynth_count: int = GEOSYNTH_EXAMPLES
) -> list[DemoExample]:
    """Examples: the bundled MathVerse problems ``mathverse`` (pid: label; default :data:`MATHVERSE_EXAMPLES`; real
    diagrams, read in place; skipped with a
    warning where the shared data is absent) and ``geosynth_count`` held-out English GeoSynth problems, whose
    diagrams are written to ``image_dir``."""
    from redstar_geo.benchmarks import load_benchmark
    from redstar_geo.jsonl import DataError

    examples = []
    try:
        by_id = {p.id: p for p in load_benchmark("mathverse")}
    except (DataError, OSError) as exc:
        logger.warning("no MathVerse examples: %s", exc)
        by_id = {}
    for pid, label in (MATHVERSE_EXAMPLES if mathverse is None else mathverse).items():
        problem = by_id.get(pid)
        if problem is not None and problem.image and Path(problem.image).is_file():
            examples.append(DemoExample(f"mathverse-{pid}", f"MathVerse {pid} · {label}", problem, problem.image))
    image_dir = Path(image_dir)
    image_dir.mkdir(parents=True, exist_ok=True)
    english = (p for p in load_benchmark("geosynth", data="geosynth:eval:24") if p.language == "en")
    for problem in list(english)[:geosynth_count]:
        path = image_dir / f"geosynth-{problem.id}.png"
        path.write_bytes(problem.image)
        family = str(problem.metadata.get("family", "problem")).replace("_", " ")
        examples.append(DemoExample(f"geosynth-{problem.id}", f"GeoSynth · {family}", problem, str(path)))
    return examples


class Throttle:
    """True at most ``per_second`` times a second: when a streamed update may go to the browser."""

    def __init__(self, per_second: float, clock=time.monotonic):
        self.interval, self.clock, self.last = 1.0 / per_second, clock, float("-inf")

    def __call__(self) -> bool:
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class LoopGuard:
    """Whether a reply is caught in a repetition loop, checked every ``every`` tokens with the verification filter
    (:func:`redstar_geo.verify.check_repetition`: a cycle at the end, or a block of sentences repeated in a row)."""

    def __init__(self, problem: Problem, every: int = 64, config: VerifyConfig | None = None):
        self.problem, self.every, self.config = problem, every, config or VerifyConfig()
        self.next_check = every

    def __call__(self, text: str, tokens: int) -> bool:
        if tokens < self.next_check:
            return False
        self.next_check = tokens + self.every
        return check_repetition(text, self.problem, self.config) is not None


def split_reasoning(text: str) -> tuple[str, str]:
    """``(reasoning, answer part)`` of a reply: around ``</think>`` when it has one (a ``<think>`` tag dropped),
    else the whole reply is reasoning (a Long-CoT trace ends with its answer)."""
    if "</think>" in text:
        thinking, _, after = text.rpartition("</think>")
        return thinking.replace("<think>", "", 1).strip(), after.strip()
    return text.replace("<think>", "", 1), ""


def _math(value: str) -> str:
    """An extracted answer ready for Markdown: LaTeX wrapped in ``$...$`` unless it already has delimiters."""
    if "$" in value or "\\(" in value or "\\[" in value or not re.search(r"[\\^_{]", value):
        return value
    return f"${value}$"


def _gold_text(problem: Problem) -> str:
    gold = problem.gold_answer("choice")
    if gold and len(gold) == 1 and gold in problem.letters:
        return f"{gold} ({_math(problem.choice_text(gold))})"
    return _math(str(gold))


def answer_card(text: str, problem: Problem, finished: bool, judged: bool) -> str:
    """The answer card's Markdown: the answer the judge extracts (a letter with its choice's text), and with
    ``judged`` (a problem with a known gold answer) whether it is right."""
    if not text.strip():
        return "#### Answer\n*waiting for the model…*" if not finished else "#### Answer\n**No reply.**"
    verdict = judge(text, problem)
    if verdict.extracted is None:
        if not finished:
            return "#### Answer\n*reasoning… the answer appears once the model states it*"
        card = f"#### Answer\n**No final answer** — {verdict.reason}."
        return card + (f"\n\n✗ gold answer {_gold_text(problem)}" if judged and problem.has_gold else "")
    letter = verdict.letter
    if letter and len(letter) == 1 and letter in problem.letters:
        shown = f"{letter}. {_math(problem.choice_text(letter))}"
    elif letter:
        shown = letter
    else:
        shown = _math(verdict.extracted)
    lines = [f"#### Answer{'' if finished else ' (so far)'}", f"## {shown}"]
    if judged and problem.has_gold:
        mark = "✓ **correct**" if verdict.correct else "✗ **wrong**"
        lines.append(f"{mark} — gold answer {_gold_text(problem)}")
        lines.append(f"<small>judge: {verdict.reason} (found by: {verdict.method})</small>")
    else:  # no gold answer: the judge's reason would only compare with nothing
        lines.append(f"<small>found by: {verdict.method}</small>")
    return "\n\n".join(lines)


def clean_display(text: str) -> str:
    """Text as shown in the browser: control characters dropped."""
    return _CONTROL.sub("", text)


# ---------------------------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------------------------
class DemoSession:
    """The request handler behind the app, apart from Gradio's widgets so tests can drive it directly."""

    def __init__(self, backend, config: DemoConfig, examples: list[DemoExample] | None = None):
        self.backend, self.config = backend, config
        self.examples = {e.id: e for e in examples or []}
        self._stops: dict[str, set[threading.Event]] = {}
        self._lock = threading.Lock()

    # stop events, per browser session (the stop button stops that session's requests, not everyone's)
    def _new_stop(self, session: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._stops.setdefault(session, set()).add(event)
        return event

    def _drop_stop(self, session: str, event: threading.Event) -> None:
        with self._lock:
            events = self._stops.get(session, set())
            events.discard(event)
            if not events:
                self._stops.pop(session, None)

    def stop(self, session: str) -> int:
        """Stop the session's running requests; returns how many."""
        with self._lock:
            events = list(self._stops.get(session, ()))
        for event in events:
            event.set()
        return len(events)

    def problem_for(self, image_path: str | None, question: str, choices_text: str, example_id: str) -> Problem:
        """The problem a request asks: the clicked example's (with its gold answer) while the question and choices
        are still the example's, else a new one without a gold answer. Raises ValueError with a message for the
        user."""
        question = (question or "").strip()
        if not question:
            raise ValueError("Type a question (for example: Find the length of side h.)")
        choices = parse_choices(choices_text)
        example = self.examples.get(example_id or "")
        if example and example.problem.question.strip() == question and example.problem.choices == choices:
            return dataclasses.replace(example.problem, image=image_path)
        try:
            return Problem(
                id="demo",
                source="demo",
                question=question,
                choices=choices,
                language=detect_language(question),
                image=image_path,
                require_gold=False,
            )
        except ProblemError as exc:
            raise ValueError(str(exc)) from None

    def messages(self, problem: Problem) -> list[dict]:
        """The chat messages for ``problem``: the benchmark prompt, and the diagram within the pixel limit."""
        image = None
        if problem.image is not None:
            try:
                image = load_image(problem.image, owner="the image", max_pixels=self.config.max_image_pixels)
            except ImageLoadError as exc:
                raise ValueError(f"{exc}. Upload a PNG or JPEG diagram.") from None
        return chat_messages(format_prompt(problem, "choice"), image=image, image_format=self.backend.image_format)

    def respond(
        self,
        image_path: str | None,
        question: str,
        choices_text: str,
        example_id: str,
        max_new_tokens: float,
        temperature: float,
        top_p: float,
        session: str = "default",
    ) -> Iterator[tuple[list[dict], str, str]]:
        """Stream ``(chat messages, answer card, status)`` updates for one question, throttled; the last one is the
        final state. Raises ValueError (with a message for the user) for a request that cannot be asked."""
        problem = self.problem_for(image_path, question, choices_text, example_id)
        messages = self.messages(problem)
        judged = problem.has_gold
        settings = Settings(
            max_new_tokens=max(1, min(int(max_new_tokens), self.config.max_new_tokens_limit)),
            temperature=max(0.0, float(temperature)),
            top_p=min(1.0, max(0.01, float(top_p))),
        )
        user = []
        if image_path:
            user.append({"role": "user", "content": {"path": image_path}})
        asked = problem.question + (f"\n\n{format_choices(problem.choices)}" if problem.choices else "")
        user.append({"role": "user", "content": asked})

        stop = self._new_stop(session)
        throttle = Throttle(self.config.updates_per_second)
        guard = LoopGuard(problem, self.config.loop_check_tokens)
        content, reasoning, tokens, finish, error, looped = "", "", 0, None, None, False
        start = time.monotonic()

        def render(final: bool) -> tuple[list[dict], str, str]:
            elapsed = time.monotonic() - start
            thinking, answer_part = (reasoning, content) if reasoning else split_reasoning(content)
            chat = [
                *user,
                {
                    "role": "assistant",
                    "content": clean_display(thinking.strip()) or "…",
                    "metadata": {
                        "title": "Reasoning",
                        "status": "done" if final else "pending",
                        "log": f"{tokens} tokens",
                        "duration": round(elapsed, 1),
                    },
                },
            ]
            full = reasoning + "\n</think>\n" + content if reasoning else content
            if answer_part.strip():
                chat.append({"role": "assistant", "content": clean_display(answer_part)})
            card = answer_card(full, problem, final, judged)
            rate = f"{tokens / elapsed:.1f} tok/s" if elapsed > 0 else ""
            if not final:
                status = f"● generating · **{tokens}** tokens · {rate}"
            elif error:
                status = f"⚠ error after {tokens} tokens: {error}"
            elif looped:
                status = f"↻ stopped by the loop guard: the reply was repeating itself · {tokens} tokens"
            elif finish == "cancelled":
                status = f"■ stopped · {tokens} tokens in {elapsed:.1f} s"
            else:
                why = "max new tokens reached" if finish == "length" else "finished"
                status = f"✓ {why} · **{tokens}** tokens in {elapsed:.1f} s ({rate})"
            return chat, card, status

        yield render(False)
        try:
            for delta in self.backend.stream(messages, settings, stop):
                content += delta.content
                reasoning += delta.reasoning
                if delta.completion_tokens is not None:
                    tokens = delta.completion_tokens
                elif delta.content or delta.reasoning:
                    tokens += 1  # a server streams about one token per delta; its usage corrects the count
                finish = delta.finish_reason or finish
                if not looped and not stop.is_set() and guard(reasoning + content, tokens):
                    looped = True
                    stop.set()
                if throttle():
                    yield render(False)
        except (StreamError, RuntimeError, ValueError, OSError) as exc:
            logger.warning("generation failed: %s", exc)
            error = str(exc)
        finally:
            stop.set()  # a handler closed early (the browser went away) stops its generation too
            self._drop_stop(session, stop)
        yield render(True)


def refuse_non_images(image, gr):
    """Make ``image`` (a ``gr.Image``) refuse an upload that is not an image with a message instead of a stack
    trace. Wrapped on the instance: a ``gr.Image`` subclass would make Gradio write a ``.pyi`` stub beside this
    module."""
    original = image.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - PIL's many ways to refuse a file
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(f"{name} is not an image ({type(exc).__name__}). Upload a PNG or JPEG diagram.") from None

    image.preprocess = preprocess
    return image


def build_demo(backend, config: DemoConfig, examples: list[DemoExample] | None = None):
    """The Gradio Blocks app. ``examples``: default :func:`demo_examples` when ``config.examples``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports leave the machine unless asked
    gr = require("gradio", extra="demo", feature="the demo")
    if examples is None and config.examples:
        examples = demo_examples(Path(tempfile.mkdtemp(prefix="redstar-geo-demo-")))
    session = DemoSession(backend, config, examples)

    def respond(image, question, choices, example_id, max_new_tokens, temperature, top_p, request: gr.Request):
        try:
            yield from session.respond(
                image,
                question,
                choices,
                example_id,
                max_new_tokens,
                temperature,
                top_p,
                session=getattr(request, "session_hash", None) or "default",
            )
        except ValueError as exc:
            raise gr.Error(str(exc)) from None

    def stop(request: gr.Request):
        session.stop(getattr(request, "session_hash", None) or "default")

    # Gradio finds the request parameter by its type hint; this module's annotations are strings (postponed
    # evaluation) naming a `gr` that is local here, so the hints are given as objects.
    respond.__annotations__ = stop.__annotations__ = {"request": gr.Request}

    with gr.Blocks(title="RedStar-Geo demo") as demo:
        gr.Markdown(
            "# RedStar-Geo: geometry with long chains of thought\n"
            f"Model: **{backend.name}**. Upload or paste a diagram, ask, and watch the reasoning stream; the answer "
            "card shows the final answer as the evaluation judge reads it."
        )
        with gr.Row():
            with gr.Column(scale=2):
                image = gr.Image(
                    type="filepath", sources=["upload", "clipboard"], label="Diagram", height=280, elem_id="diagram"
                )
                refuse_non_images(image, gr)
                question = gr.Textbox(
                    label="Question", lines=3, placeholder="Find the length of side h.", elem_id="question"
                )
                choices = gr.Textbox(
                    label="Choices (optional, one per line)",
                    lines=3,
                    placeholder="A. 1\nB. 2\nC. √3\nD. 2√3",
                    elem_id="choices",
                )
                example_id = gr.Textbox(visible=False, label="example id")
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
                    clear = gr.Button("Clear", elem_id="clear")
                with gr.Accordion("Generation settings", open=False):
                    max_new_tokens = gr.Slider(
                        1,
                        config.max_new_tokens_limit,
                        value=config.max_new_tokens,
                        step=1,
                        label="Max new tokens",
                        elem_id="max-new-tokens",
                    )
                    temperature = gr.Slider(
                        0.0, 2.0, value=config.temperature, step=0.05, label="Temperature", elem_id="temperature"
                    )
                    top_p = gr.Slider(0.05, 1.0, value=config.top_p, step=0.05, label="Top-p", elem_id="top-p")
            with gr.Column(scale=3):
                card = gr.Markdown(EMPTY_CARD, elem_id="answer-card", latex_delimiters=LATEX_DELIMITERS)
                status = gr.Markdown("", elem_id="status")
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chatbot",
                    height=520,
                    latex_delimiters=LATEX_DELIMITERS,
                    feedback_options=None,
                    buttons=["copy"],
                )
        if examples:
            gr.Examples(
                examples=[[e.image_path, e.problem.question, "\n".join(e.problem.choices), e.id] for e in examples],
                inputs=[image, question, choices, example_id],
                example_labels=[e.label for e in examples],
                label="Examples (MathVerse diagrams and GeoSynth problems with known answers: the card says if the "
                "model got it right)",
            )
        inputs = [image, question, choices, example_id, max_new_tokens, temperature, top_p]
        outputs = [chatbot, card, status]
        shared = dict(concurrency_limit=config.concurrency, concurrency_id="generate", show_progress="minimal")
        ask.click(respond, inputs, outputs, api_name="answer", **shared)
        question.submit(respond, inputs, outputs, api_visibility="private", **shared)
        # Not queued: a stop must get through while the queue is full of requests.
        stop_button.click(stop, None, None, queue=False, api_name="stop")
        # A user's own edit makes the question no longer the example's: no verdict against its gold answer.
        for edited in (image.upload, image.clear, question.input, choices.input):
            edited(lambda: "", None, example_id, queue=False, api_visibility="private")
        clear.click(
            lambda: (None, "", "", "", [], EMPTY_CARD, ""),
            None,
            [image, question, choices, example_id, chatbot, card, status],
            queue=False,
            api_visibility="private",
        )
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.max_queue)
    return demo


def launch(demo, config: DemoConfig, **kwargs):
    """Serve ``demo`` as ``config`` says (``kwargs`` go to ``Blocks.launch``, e.g. ``prevent_thread_lock=True``)."""
    gr = require("gradio", extra="demo", feature="the demo")
    from redstar_geo.benchmarks import data_dir

    allowed = [str(data_dir() / "mathverse" / "images")]  # the example diagrams, served from where they are
    port = config.port
    if not port:  # Gradio itself would try 7860 upwards
        with socket.socket() as sock:
            sock.bind((config.host, 0))
            port = sock.getsockname()[1]
    return demo.launch(
        server_name=config.host,
        server_port=port,
        share=config.share,
        max_file_size=int(config.max_upload_mb * 1024 * 1024),
        allowed_paths=allowed,
        theme=gr.themes.Soft(),
        css=CSS,
        show_error=True,
        **kwargs,
    )
