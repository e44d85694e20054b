"""Trace verification: the filters a teacher's Long-CoT trace must pass before the data engine keeps it for SFT.

A trace that fails becomes a DPO negative, tagged with every reason it failed. Shape after open-r1's ``rewards.py``:
a plain registry ``FILTERS`` from a name to a function with one signature,
``check(trace: str, problem: Problem, config: VerifyConfig) -> str | None``, returning a short reason code or None::

    from redstar_geo.verify import FILTERS, VerifyConfig, verify_trace

    reasons = verify_trace(trace, problem)                        # [] when the trace is kept
    reasons = verify_trace(trace, problem, names=["answer", "step_arithmetic"])
    reasons = verify_trace(trace, problem, config=VerifyConfig(protocol="value", max_chars=16_000))
    FILTERS["repetition"](trace, problem, VerifyConfig())         # "repetition_loop" or None

Reason codes: ``wrong_answer``, ``no_final_answer`` (answer), ``bad_format`` (format), ``repetition_loop``
(repetition), ``language_mixing`` (language_mixing), ``truncated`` / ``unclosed_think`` (truncation), ``too_short`` /
``too_long`` (length), ``arithmetic_error`` (step_arithmetic).

The final answer is read by the project's one answer judge (:func:`redstar_geo.judge.judge`), and every number by
its expression evaluator (:func:`redstar_geo.judge.to_number`), so verification, evaluation and rewards agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from redstar_geo.judge import PROTOCOLS, Verdict, extract_answer, judge, parse_letters, to_number
from redstar_geo.schema import LANGUAGES, Problem


@dataclass
class VerifyConfig:
    """What the filters accept.

    ``language`` is the script a trace must be written in (None: the problem's language). ``max_off_script_share``
    bounds the share of off-script words (English words in a Chinese trace, Han characters in an English one);
    ``max_off_script_run`` bounds the longest unbroken stretch of them (a switched-language sentence).
    ``protocol`` is how the answer is judged and what ``\\boxed{}`` must hold: "choice" (a letter) or "value".
    ``min_loop_chars`` / ``min_loop_repeats``: how long a cycle must run to count as a repetition loop.
    """

    language: str | None = None
    max_off_script_share: float = 0.1
    max_off_script_run: int = 8
    min_chars: int = 200
    max_chars: int = 32_000
    protocol: str = "choice"
    min_loop_chars: int = 300
    min_loop_repeats: int = 4

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in LANGUAGES:
            raise ValueError(f"language {self.language!r} is not one of {LANGUAGES} (or None)")
        if not 0.0 <= self.max_off_script_share <= 1.0:
            raise ValueError(f"max_off_script_share must be in [0, 1], got {self.max_off_script_share}")
        if self.max_off_script_run < 1:
            raise ValueError(f"max_off_script_run must be at least 1, got {self.max_off_script_run}")
        if self.min_chars < 0 or self.max_chars <= self.min_chars:
            raise ValueError(f"need 0 <= min_chars < max_chars, got {self.min_chars} and {self.max_chars}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is not one of {PROTOCOLS}")
        if self.min_loop_chars < 1 or self.min_loop_repeats < 2:
            raise ValueError("min_loop_chars must be >= 1 and min_loop_repeats >= 2")


# ---------------------------------------------------------------------------------------------------------------
# answer, format
# ---------------------------------------------------------------------------------------------------------------
_last_verdict: list = [None, None, None, None]  # trace, problem, protocol, verdict


def _verdict(trace: str, problem: Problem, protocol: str) -> Verdict:
    """``judge(trace, problem, protocol)``, judged once for the answer and format filters of one trace (the judge is
    the costliest step; identity, not equality, so a cached verdict can never belong to another problem)."""
    cached = _last_verdict
    if cached[0] is trace and cached[1] is problem and cached[2] == protocol:
        return cached[3]
    verdict = judge(trace, problem, protocol=protocol)
    cached[:] = [trace, problem, protocol, verdict]
    return verdict


def check_answer(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``wrong_answer`` / ``no_final_answer`` by the answer judge under ``config.protocol``."""
    verdict = _verdict(trace, problem, config.protocol)
    if verdict.correct:
        return None
    return "no_final_answer" if verdict.status == "no_answer" else "wrong_answer"


def check_format(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``bad_format`` unless the final answer is a ``\\boxed{}`` holding a choice letter (choice protocol, problem
    with choices) or a value (otherwise). No final answer at all is the answer filter's reason, not this one's."""
    verdict = _verdict(trace, problem, config.protocol)
    if verdict.extracted is None:
        return None
    if verdict.method != "boxed":
        return "bad_format"
    if config.protocol == "choice" and problem.letters:
        return None if parse_letters(verdict.extracted, problem.letters) else "bad_format"
    if problem.letters and parse_letters(verdict.extracted, problem.letters):
        return "bad_format"  # a bare letter where the value was asked for
    return None


# ---------------------------------------------------------------------------------------------------------------
# repetition
# ---------------------------------------------------------------------------------------------------------------
_LOOP_WINDOW = 24_000  # a loop is looked for in the trace's tail; longer than any unit times its repeats
_PROBE = 24  # the last characters, whose earlier occurrences propose the loop's period
_MAX_PERIOD_CANDIDATES = 6
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？\n])\s*")
_MIN_SENTENCE_CHARS = 12  # "Wait." or "Hmm." repeated is thinking, not a loop


def _periodic_suffix(text: str, period: int) -> int:
    """Length of the longest suffix of ``text`` with period ``period`` (binary search over C-level compares: the
    property is monotone, a shorter suffix of a periodic suffix is periodic).

    >>> _periodic_suffix("xyzabcabcab", 3)
    8
    """
    n = len(text)
    low, high = period, n  # a suffix of length `period` is trivially periodic
    while low < high:
        mid = (low + high + 1) // 2
        if text[n - mid : n - period] == text[n - mid + period :]:
            low = mid
        else:
            high = mid - 1
    return low


def tail_loop(text: str, min_chars: int = 300, min_repeats: int = 4) -> tuple[int, int] | None:
    """``(period, length)`` of a cycle the text ends in, when it runs ``min_chars`` characters and ``min_repeats``
    periods; else None. Candidate periods are the distances back to earlier occurrences of the last characters.

    >>> tail_loop("Okay. " + "I will check again. " * 40)
    (20, 801)
    >>> tail_loop("Angle ABC is 40°. Angle ABC plus angle ACB is 80°. So the answer is \\\\boxed{B}.") is None
    True
    """
    tail = text[-_LOOP_WINDOW:].rstrip()
    if len(tail) < min_chars:
        return None
    probe = tail[-_PROBE:]
    limit = len(tail) - 1  # occurrences that end before the last character: the probe itself excluded
    for _ in range(_MAX_PERIOD_CANDIDATES):
        found = tail.rfind(probe, 0, limit)
        if found < 0:
            return None
        period = len(tail) - len(probe) - found
        if period * min_repeats > len(tail):
            return None
        length = _periodic_suffix(tail, period)
        if length >= min_chars and length >= period * min_repeats:
            return period, length
        limit = found + len(probe) - 1
    return None


def sentence_run(text: str, max_block: int = 3) -> int:
    """The most times one block of 1 to ``max_block`` consecutive sentences is repeated in a row anywhere in the text
    (sentences shorter than a short clause are not counted).

    >>> sentence_run("We compute AB. " + "Let me verify the answer again. " * 5 + "Done.")
    5
    """
    sentences = [s for s in _SENTENCE_SPLIT.split(text) if len(s) >= _MIN_SENTENCE_CHARS]
    best = 1
    for block in range(1, max_block + 1):
        run = 0
        for i in range(block, len(sentences)):
            run = run + 1 if sentences[i] == sentences[i - block] else 0
            if run:
                best = max(best, run // block + 1)
    return best


def check_repetition(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``repetition_loop`` when the trace ends in a cycle (any period, tokens to paragraphs) or repeats one block of
    sentences ``min_loop_repeats`` times in a row. Reused phrases ("angle ABC") are no cycle."""
    if tail_loop(trace, config.min_loop_chars, config.min_loop_repeats):
        return "repetition_loop"
    if sentence_run(trace[-_LOOP_WINDOW:]) >= config.min_loop_repeats:
        return "repetition_loop"
    return None


# ---------------------------------------------------------------------------------------------------------------
# language mixing
# ---------------------------------------------------------------------------------------------------------------
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Scripts neither target uses: kana, Hangul, Cyrillic, Arabic, Thai, Devanagari.
_OTHER = "\u3040-\u30ff\uac00-\ud7af\u0400-\u04ff\u0600-\u06ff\u0e00-\u0e7f\u0900-\u097f"
# One Han character, one word of another script, or a Latin word (a LaTeX command name swallowed with its backslash).
_SCRIPT_TOKEN = re.compile(rf"(?P<han>[{_HAN}])|(?P<other>[{_OTHER}]+)|\\?(?P<latin>[A-Za-z]+)")
_NON_LATIN = re.compile(rf"[{_HAN}{_OTHER}]")
# Latin that Chinese mathematical text uses: units, functions, textbook abbreviations; point names are upper case.
_MATH_WORDS = frozenset(
    "cm mm dm km m kg g s h min rad deg sin cos tan cot sec csc arcsin arccos arctan log ln lg exp sqrt pi max min "
    "rt cm2 cm3 ok".split()
)


def _script_tokens(text: str) -> list[str]:
    """The text as a sequence of script tags: ``"han"``, ``"latin"`` (a prose word) or ``"other"``; formulas, LaTeX
    commands, point names (``AB``, ``∠ABC``), single letters, units and numbers are no token."""
    tokens = []
    for m in _SCRIPT_TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "latin":
            word = m.group("latin")
            if m.group().startswith("\\") or len(word) < 2 or word.isupper() or word.lower() in _MATH_WORDS:
                continue
        tokens.append(kind)
    return tokens


def off_script(text: str, language: str) -> tuple[float, int]:
    """``(share, longest run)`` of tokens outside ``language``'s script, counting Latin by the word and Han by the
    character.

    >>> off_script("在△ABC中，AB = 5 cm，∠ABC = 90°，所以 sin A = 3/5。", "zh")
    (0.0, 0)
    >>> off_script("So angle ABC is 40°. 所以答案是B", "en")
    (0.625, 5)
    """
    if language == "en" and not _NON_LATIN.search(text):
        return 0.0, 0  # the common case, an English trace with no other script, costs one scan
    tokens = _script_tokens(text)
    if not tokens:
        return 0.0, 0
    target = "han" if language == "zh" else "latin"
    off = run = longest = 0
    for kind in tokens:
        if kind == target:
            run = 0
        else:
            off += 1
            run += 1
            longest = max(longest, run)
    return off / len(tokens), longest


def check_language_mixing(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``language_mixing`` when too large a share of the trace's words is in another script, or one stretch of them
    is as long as a sentence (a Chinese paragraph in English, English prose in Chinese)."""
    share, longest = off_script(trace, config.language or problem.language)
    if share > config.max_off_script_share or longest > config.max_off_script_run:
        return "language_mixing"
    return None


# ---------------------------------------------------------------------------------------------------------------
# truncation, length
# ---------------------------------------------------------------------------------------------------------------
_TERMINAL = tuple(".。!！?？)）]】}$*>\"'”’`|°")
_OPEN_BOX = re.compile(r"\\boxed\s*\{[^{}]*$")


def check_truncation(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``unclosed_think`` for a ``<think>`` never closed; ``truncated`` for a trace cut off: an unclosed
    ``\\boxed{``, or a last line that ends mid-sentence and states no answer."""
    if trace.count("<think>") > trace.count("</think>"):
        return "unclosed_think"
    end = trace.rstrip()
    if not end:
        return "truncated"
    last_line = end[end.rfind("\n") + 1 :]
    if _OPEN_BOX.search(last_line[-200:]):
        return "truncated"
    if end.endswith(_TERMINAL):
        return None
    # "Answer: B", "故选C", "x = 5" end without a full stop but finish the trace; extraction over the last line only
    # is cheap.
    return None if extract_answer(last_line[-600:]).answer is not None else "truncated"


def check_length(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``too_short`` / ``too_long`` against ``config.min_chars`` / ``config.max_chars``."""
    if len(trace) < config.min_chars:
        return "too_short"
    if len(trace) > config.max_chars:
        return "too_long"
    return None


# ---------------------------------------------------------------------------------------------------------------
# step arithmetic
# ---------------------------------------------------------------------------------------------------------------
# A run of arithmetic: numbers, operators, LaTeX arithmetic commands, degree signs, units, equals signs. Anything
# else (a variable, a point name, a word) ends it, so "x + 40 = 100" yields only " + 40 = 100", whose first side is
# then rejected for starting with an operator.
_MATH_RUN = re.compile(
    r"(?:\\(?:d?frac|tfrac|sqrt|times|cdot|div|pi|circ|left|right|boxed|approx)(?![A-Za-z])|\\[,;! ]"
    r"|\\(?:text|mathrm)\{\s*(?:cm|mm|m|km|units?|degrees?)?\s*\}"
    r"|(?<![A-Za-z])(?:cm|mm|dm|km|m|units?|degrees?|square)(?![A-Za-z])"
    r"|[0-9.+\-−–×÷*/^(){}\[\]√π°²³½⅓¼¾⅔·=≈ \t])+"
)
_SIGN = re.compile(r"≈|\\approx|=")
_UNIT = re.compile(r"(?<![A-Za-z])(?:cm|mm|dm|km|m)(?![A-Za-z])|°|\\circ")
_SIDE_START = re.compile(r"\s*(?:[0-9(√π½⅓¼¾⅔{]|\\(?:d?frac|tfrac|sqrt|pi|left)(?![A-Za-z]))")
_OPERAND_AFTER = re.compile(r"\s*(?:[A-Za-z∠△⊙α-ω_′'](?![A-Za-z])|[∠△⊙α-ω])")
_FUNCTION_BEFORE = re.compile(r"(?:sin|cos|tan|cot|sec|csc|log|ln|lg|\^|_)\s*$")
# Where an arithmetic run may start right after (no space) or end right before: boundaries, not operands.
_BOUNDARY = frozenset('$,;，。；：、（）「」“”"!?！？\n')
_CORRECTION = re.compile(r"(?i)\bwait\b|mistake|\bwrong\b|\bactually\b|\boops\b|不对|错|等等|更正|纠正")
_LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+")


def _side_value(side: str) -> float | None:
    side = side.replace("\\boxed", "").replace("–", "-").strip()
    if not side or len(side) > 200:
        return None
    return to_number(side)


def _close_enough(left: float, right: float, right_text: str, approximate: bool) -> bool:
    """Equal, or equal to the precision the right side is written with (``√2 ≈ 1.41``; π taken as 3.14)."""
    if math.isclose(left, right, rel_tol=1e-6, abs_tol=1e-9):
        return True
    decimals = re.search(r"\d\.(\d+)\s*\S{0,8}\s*$", right_text)
    if approximate or decimals:
        places = len(decimals.group(1)) if decimals else 0
        return abs(left - right) <= max(0.5 * 10**-places + 1e-9, 1e-2 * abs(right))
    return False


def _at_boundary(char: str) -> bool:
    return char.isspace() or char in _BOUNDARY or "\u4e00" <= char <= "\u9fff"


def arithmetic_errors(text: str) -> list[str]:
    """Every explicit calculation in ``text`` whose sides evaluate to different numbers, as ``"left = right"``.

    A calculation is checked only where both sides are plain arithmetic (numbers, ``+ - × ÷ / ^``, ``√``, ``π``,
    ``\\frac``, ``\\sqrt``; degrees and units dropped); sides with variables or point names are skipped, as is a slip
    the trace itself then corrects ("Wait, ...") or recomputes right.

    >>> arithmetic_errors("∠C = 180° − 60° − 80° = 40°, and √(6² + 8²) = 10, so 2 × 5 = 10 cm.")
    []
    >>> arithmetic_errors("So 180° - 40° - 40° = 110°.")
    ['180° - 40° - 40° = 110°']
    >>> arithmetic_errors("x + 40 = 100, so x = 60; sin 30° = 1/2; √2 ≈ 1.41")
    []
    """
    if "=" not in text and "≈" not in text and "\\approx" not in text:
        return []
    text = _LIST_MARKER.sub(" ", text)
    errors: list[tuple[str, int]] = []
    right_lefts: set[float] = set()
    for run in _MATH_RUN.finditer(text):
        chunk = run.group()
        if not chunk.strip(" \t.") or ("=" not in chunk and "≈" not in chunk and "\\approx" not in chunk):
            continue
        start, end = run.start(), run.end()
        # A full stop that ends the sentence before the run is a boundary, not a decimal point.
        before = " " if chunk[0].isspace() or chunk[0] == "." or not start else text[start - 1]
        chunk = chunk.lstrip(" \t.")
        parts, signs = _SIGN.split(chunk), _SIGN.findall(chunk)
        after = " " if chunk[-1].isspace() or end == len(text) else text[end]
        values = [_side_value(p) for p in parts]
        # The first side continues an operand before the run ("∠1 + 40°", "AB^2", "sin 30°"); the last one continues
        # into one after it ("= 2x", "= 2 ∠A", "= 4:3").
        if (
            not _at_boundary(before)
            or (before.isspace() and _FUNCTION_BEFORE.search(text[max(0, start - 8) : start]))
            or not _SIDE_START.match(parts[0])
            or (before == "," and start >= 2 and text[start - 2].isdigit())
        ):
            values[0] = None
        thousands = after == "," and text[end + 1 : end + 2].isdigit()  # "1,500"
        if not _at_boundary(after) or after == ":" or thousands or _OPERAND_AFTER.match(text, end):
            values[-1] = None
        if not parts[-1].strip() and len(values) >= 2:
            values[-1] = None
        for i, sign in enumerate(signs):
            left, right = values[i], values[i + 1]
            if left is None or right is None:
                continue
            left_units, right_units = set(_UNIT.findall(parts[i])), set(_UNIT.findall(parts[i + 1]))
            if left_units and right_units and left_units != right_units:
                continue  # "1 m = 100 cm": a conversion, not arithmetic
            if ("π" in parts[i] or "pi" in parts[i]) != ("π" in parts[i + 1] or "pi" in parts[i + 1]) and (
                left_units or right_units
            ):
                continue  # "180° = π": degrees and radians
            if _close_enough(left, right, parts[i + 1], sign != "="):
                right_lefts.add(round(left, 6))
                continue
            statement = f"{parts[i].strip()} {sign} {parts[i + 1].strip().rstrip('.')}"
            following = text[end : end + 200]
            if following.lstrip().startswith("?") or _CORRECTION.search(following):
                continue  # the trace doubts or corrects it at once
            errors.append((statement, round(left, 6)))
    return [statement for statement, left in errors if left not in right_lefts]


def check_step_arithmetic(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``arithmetic_error`` when an explicit calculation in the trace is wrong, whatever the final answer."""
    return "arithmetic_error" if arithmetic_errors(trace) else None


# ---------------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------------
TraceFilter = Callable[[str, Problem, VerifyConfig], "str | None"]

FILTERS: dict[str, TraceFilter] = {
    "length": check_length,
    "truncation": check_truncation,
    "repetition": check_repetition,
    "language_mixing": check_language_mixing,
    "format": check_format,
    "answer": check_answer,
    "step_arithmetic": check_step_arithmetic,
}


def verify_trace(
    trace: str, problem: Problem, names: list[str] | None = None, config: VerifyConfig | None = None
) -> list[str]:
    """Every reason code the trace fails on, in registry order (``[]``: keep it). ``names`` picks filters from
    :data:`FILTERS` (default: all of them); an unknown name is a KeyError naming the known ones."""
    config = config or VerifyConfig()
    chosen = list(FILTERS) if names is None else names
    unknown = [name for name in chosen if name not in FILTERS]
    if unknown:
        raise KeyError(f"unknown filters {unknown}; known: {sorted(FILTERS)}")
    if not isinstance(trace, str):
        raise TypeError(f"trace must be a string, got {type(trace).__name__}")
    reasons = []
    for name in chosen:
        reason = FILTERS[name](trace, problem, config)
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    return reasons
