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

The final answer is read by the project's one answer judge (:func:`redstar_geo.judge.judge`), and every number as
its expression evaluator (:func:`redstar_geo.judge.to_number`) reads it, so verification, evaluation and rewards
agree (the step check reads plain and LaTeX arithmetic by faster routes that give the judge's values; the tests check
them against it).

Cost: about a million traces are verified per run, so every filter is built to cost little per trace: it looks only
where its evidence can be (the signs of calculations, the answer after ``</think>``, the trace's tail for loops), does
its scanning in a few C-level passes (regexes that start with a fixed string, ``str``/``bytes`` methods) rather than
a Python loop per character or word, and reads what recurs once (calculations and their sides are cached by text;
a plain or LaTeX calculation with new numbers by its shape, compiled once into a function of its numbers). Inputs of
100k+ characters cost time in proportion to their length. ``benchmarks/bench_verify.py`` measures it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from redstar_geo.judge import (
    _DEGREE,
    PROTOCOLS,
    Verdict,
    extract_answer,
    judge,
    parse_letters,
    to_number,
)
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
_SENTENCE_SPLIT = re.compile(r"([.!?。！？\n])\s*")
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


def _long_sentences(text: str) -> list[str]:
    """The text's sentences of :data:`_MIN_SENTENCE_CHARS` or more: each ends with its terminator (``.!?。！？`` or a
    line break), the whitespace after the terminator dropped, as splitting at ``(?<=[.!?。！？\\n])\\s*`` gives them,
    but by plain string operations, which are several times faster than a regex scan."""
    if "\0" in text:
        parts = _SENTENCE_SPLIT.split(text)  # the terminator as an item of its own
        pieces = [*map(operator.add, parts[0::2], parts[1::2]), parts[-1]]
    else:
        for terminator in ".!?。！？\n":
            if terminator in text:
                text = text.replace(terminator, terminator + "\0")
        pieces = text.split("\0")
    sentences = [s for s in map(str.lstrip, itertools.islice(pieces, 1, None)) if len(s) >= _MIN_SENTENCE_CHARS]
    if len(pieces[0]) >= _MIN_SENTENCE_CHARS:
        sentences.insert(0, pieces[0])  # the text's first sentence keeps its leading whitespace
    return sentences


def sentence_run(text: str, max_block: int = 3) -> int:
    """The most times one block of 1 to ``max_block`` consecutive sentences is repeated in a row anywhere in the text
    (sentences shorter than a short clause are not counted).

    >>> sentence_run("We compute AB. " + "Let me verify the answer again. " * 5 + "Done.")
    5
    """
    sentences = _long_sentences(text)
    best = 1
    for block in range(1, min(max_block, len(sentences) - 1) + 1):
        if any(map(operator.eq, itertools.islice(sentences, block, None), sentences)):
            # 1 where a sentence repeats the one `block` sentences before it; a run of L ones is L // block + 1 blocks
            same = bytes(map(operator.eq, itertools.islice(sentences, block, None), sentences))
            best = max(best, max(map(len, same.split(b"\0"))) // block + 1)
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
# Latin that Chinese mathematical text uses: units, functions, textbook abbreviations; point names are upper case.
_MATH_WORDS = frozenset(
    "cm mm dm km m kg g s h min rad deg sin cos tan cot sec csc arcsin arccos arctan log ln lg exp sqrt pi max min "
    "rt cm2 cm3 ok".split()
)
# A Latin word of prose: two or more letters with a lower-case one among them, not right after a backslash (a LaTeX
# command) or a letter, and not one of _MATH_WORDS in any case. Point names (``AB``, ``∠ABC``), single letters,
# formulas and numbers are no word. The pattern starts with the word's first letter, so the regex engine skips to
# candidates by a character-set scan; the conditions on the word follow as lookarounds.
_NOT_MATH_WORD = "|".join(
    f"(?<=[{word[0]}{word[0].upper()}])(?i:{word[1:]})"
    for word in sorted(_MATH_WORDS, key=len, reverse=True)
    if word.isalpha() and len(word) >= 2
)
_PROSE = rf"(?<![\\A-Za-z][A-Za-z])(?:(?<=[a-z])|(?=[A-Z]*[a-z]))(?!(?:{_NOT_MATH_WORD})(?![A-Za-z]))[A-Za-z]+"
_PROSE_WORD = re.compile(rf"[A-Za-z]{_PROSE}")
_NON_LATIN = re.compile(rf"[{_HAN}{_OTHER}]")
_HAN_RUN = re.compile(rf"[{_HAN}]+")
# What is off-script in an English trace (Han by the character, another script by the word) ...
_NON_LATIN_RUN = re.compile(rf"(?P<han>[{_HAN}]+)|[{_OTHER}]+")
# ... and in a Chinese one: a Latin word of prose, or a word of another script.
_OFF_ZH = re.compile(rf"[A-Za-z{_OTHER}](?:(?<=[{_OTHER}])[{_OTHER}]*|{_PROSE})")


def _off_script_words(text: str, language: str, enough_run: float = math.inf) -> tuple[int, int]:
    """``(count, longest run)`` of the words outside ``language``'s script, Han counted by the character; counting
    stops once a run is longer than ``enough_run`` (the verdict is known then)."""
    if language == "zh":
        # Few in a Chinese trace (often only the "think" of the tags); a run of them is broken by a Han character.
        off = run = longest = 0
        previous_end = None
        for m in _OFF_ZH.finditer(text):
            broken = previous_end is None or _HAN_RUN.search(text, previous_end, m.start()) is not None
            run = 1 if broken else run + 1
            off, longest, previous_end = off + 1, max(longest, run), m.end()
            if longest > enough_run:
                break
        return off, longest
    if not _NON_LATIN.search(text):
        return 0, 0  # the common case, an English trace with no other script, costs one scan
    off = run = longest = previous_end = 0
    for m in _NON_LATIN_RUN.finditer(text):
        start, end = m.span()
        if run and _PROSE_WORD.search(text, previous_end, start):
            run = 0  # an English word between: the run is broken
        size = end - start if m.lastgroup == "han" else 1
        off, run, previous_end = off + size, run + size, end
        longest = max(longest, run)
        if longest > enough_run:
            break
    return off, longest


def _script_words(text: str, language: str, at_least: float = math.inf) -> int:
    """How many words ``text`` has in ``language``'s script (Han by the character), counted until ``at_least``."""
    count = 0
    for m in (_HAN_RUN if language == "zh" else _PROSE_WORD).finditer(text):
        count += m.end() - m.start() if language == "zh" else 1
        if count >= at_least:
            break
    return count


def off_script(text: str, language: str) -> tuple[float, int]:
    """``(share, longest run)`` of the words outside ``language``'s script, counting Latin by the word and Han by the
    character. Formulas, LaTeX commands, point names (``AB``, ``∠ABC``), single letters, units and numbers are no
    word of either script.

    >>> off_script("在△ABC中，AB = 5 cm，∠ABC = 90°，所以 sin A = 3/5。", "zh")
    (0.0, 0)
    >>> off_script("So angle ABC is 40°. 所以答案是B", "en")
    (0.625, 5)
    """
    off, longest = _off_script_words(text, language)
    if not off:
        return 0.0, 0
    return off / (_script_words(text, language) + off), longest


def _utf8_leads(*ranges: tuple[int, int]) -> set[int]:
    """The first bytes of the UTF-8 encodings of the characters in ``ranges``."""
    return {chr(code).encode("utf-8", "surrogatepass")[0] for low, high in ranges for code in range(low, high + 1)}


# Byte-level tests, several times faster than a regex scan of the text: a text whose UTF-8 encoding has none of the
# first bytes of the other scripts' (or Han) characters has none of those characters. Kana share their first byte
# with Chinese punctuation and are told by their first two.
_OTHER_LEADS = _utf8_leads((0x0400, 0x04FF), (0x0600, 0x06FF), (0x0900, 0x097F), (0x0E00, 0x0E7F), (0xAC00, 0xD7AF))
_KANA_BYTES = re.compile(rb"\xe3[\x81-\x83]")
_NOT_NON_LATIN_LEADS = bytes(
    sorted(set(range(256)) - _OTHER_LEADS - _utf8_leads((0x3040, 0x30FF), (0x3400, 0x9FFF), (0xF900, 0xFAFF)))
)
# ASCII letters and backslashes kept, the first bytes of other scripts' characters as 1, every other byte a space:
# what is left splits into the Latin words (a command keeps its backslash).
_LATIN_WORD_BYTES = bytes(
    b if chr(b).isascii() and (chr(b).isalpha() or b == 92) else 1 if b in _OTHER_LEADS else 32 for b in range(256)
)
_MATH_BYTES = frozenset(word.encode() for word in _MATH_WORDS)


def _prose_words_zh(encoded: bytes) -> int | None:
    """How many Latin words of prose (as :data:`_PROSE_WORD` finds them) a text has, from its UTF-8 ``encoded``; None
    when it may hold another script's words too."""
    words = encoded.translate(_LATIN_WORD_BYTES)
    if b"\1" in words or _KANA_BYTES.search(encoded):
        return None
    words = words.replace(b"\\", b" \\").split()
    prose = [w for w in set(words) if w[0] != 92 and len(w) >= 2 and not w.isupper() and w.lower() not in _MATH_BYTES]
    return sum(map(words.count, prose))


def check_language_mixing(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``language_mixing`` when too large a share of the trace's words is in another script, or one stretch of them
    is as long as a sentence (a Chinese paragraph in English, English prose in Chinese).

    The same decision as :func:`off_script`'s numbers give, reached faster: an English trace with no character of
    another script is passed at once, and a Chinese one with no other script than Latin and too few Latin words to
    make a long stretch is judged by their count; the words are located only where a stretch could be too long."""
    language = config.language or problem.language
    encoded = trace.encode("utf-8", "surrogatepass")
    if language == "zh":
        off = longest = _prose_words_zh(encoded)  # a stretch is at most all of them
        if off is None or longest > config.max_off_script_run:
            off, longest = _off_script_words(trace, language, config.max_off_script_run)
    elif encoded.translate(None, _NOT_NON_LATIN_LEADS):
        off, longest = _off_script_words(trace, language, config.max_off_script_run)
    else:
        return None
    if not off:
        return None
    if longest > config.max_off_script_run:
        return "language_mixing"
    # The share is off / (in-script + off). In-script words are counted only until there are enough of them to keep
    # the share clearly within bounds (two to spare); below that the count, and so the share, is exact.
    limit = config.max_off_script_share
    enough = off * (1 - limit) / limit + 2 if limit > 0 else 0
    share = off / (_script_words(trace, language, enough) + off)
    return "language_mixing" if share > limit else None


# ---------------------------------------------------------------------------------------------------------------
# truncation, length
# ---------------------------------------------------------------------------------------------------------------
_TERMINAL = tuple(".。!！?？)）]】}$*>\"'”’`|°")
_OPEN_BOX = re.compile(r"\\boxed\s*\{[^{}]*$")


def _unclosed_think(trace: str, tries: int = 16) -> bool:
    """``trace.count("<think>") > trace.count("</think>")``, counted at the few "<" of a trace (a search for one
    character is several times faster than for a word; neither tag overlaps itself)."""
    opened = closed = 0
    at = trace.find("<")
    for _ in range(tries):
        if at < 0:
            return opened > closed
        if trace.startswith("<think>", at):
            opened += 1
        elif trace.startswith("</think>", at):
            closed += 1
        at = trace.find("<", at + 1)
    return trace.count("<think>") > trace.count("</think>")


def check_truncation(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``unclosed_think`` for a ``<think>`` never closed; ``truncated`` for a trace cut off: an unclosed
    ``\\boxed{``, or a last line that ends mid-sentence and states no answer."""
    if _unclosed_think(trace):
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
# A calculation is read from a run of arithmetic: numbers, operators, LaTeX arithmetic commands, degree signs, units,
# signs (=, ≈, ＝). Anything else (a variable, a point name, a word) ends the run, so "x + 40 = 100" yields only
# " + 40 = 100", whose first side is then rejected for starting with an operator.
#
# Cost: a trace is mostly prose, so runs are not looked for everywhere. The scan jumps from sign to sign (a literal
# search when "=" is the trace's only sign), matches each run's rest forward from its first sign and its start
# backward, on the reversed text with the tokens reversed: the same runs a left-to-right scan of every run would find
# (tests/test_verify.py checks this against such a scan). What a run's text states is read once per distinct text
# (_calculation, cached; a plain or LaTeX run with new numbers by its compiled shape, _plain_all_right); the context
# around a run is looked at only when its text holds a wrong calculation, and a correction only when a wrong
# calculation survives that.
# The characters of a run outside its named tokens (spaces and the signs are added where they belong).
_PLAIN = r"0-9.+\-−–×÷*/^(){}\[\]√π°²³½⅓¼¾⅔·⋅＋－０-９"
_NAMED_NO_SIGN = (
    r"\\(?:d?frac|tfrac|sqrt|times|cdot|div|pi|circ|left|right|boxed)(?![A-Za-z])|\\[,;! ]"
    r"|\\(?:text|mathrm)\{\s*(?:cm|mm|m|km|units?|degrees?)?\s*\}"
    r"|(?<![A-Za-z])(?:cm|mm|dm|km|m|units?|degrees?|square)(?![A-Za-z])"
)
_APPROX = r"\\approx(?![A-Za-z])"
_NAMED_TOKEN = rf"{_NAMED_NO_SIGN}|{_APPROX}"
# The tokens read backward, for a run's part before its first sign (no sign among them): each spelled in reverse, a
# lookbehind of the forward token becoming a lookahead and the other way round.
_NAMED_REVERSED = (
    r"(?<![A-Za-z])(?:carfd?|carft|trqs|semit|todc|vid|ip|cric|tfel|thgir|dexob)\\|[,;!]\\|(?<= )\\"
    r"|\}\s*(?:mc|mm|m|mk|s?tinu|s?eerged)?\s*\{(?:txet|mrhtam)\\"
    r"|(?<![A-Za-z])(?:mc|mm|md|mk|m|s?tinu|s?eerged|erauqs)(?![A-Za-z])"
)
# Both patterns run through the plain characters with one single-character loop (fast in the regex engine) and try
# the named tokens only where one can start (a backslash or a unit's letter; backward, also "}" and the backslash of
# "\ " after its space): the same tokens as matching every token in turn, in a fraction of the time.
_RUN_REST = rf"[{_PLAIN} \t=≈＝]*(?:(?=[\\cmdkus])(?:(?:{_NAMED_TOKEN})[{_PLAIN} \t=≈＝]*)+|)"
# From a run's first sign to the run's end. A sign with nothing but spaces after it ("AB = AC") starts no
# calculation and is passed over.
_SIGN_REST = rf"[ \t]*(?:{_NAMED_TOKEN}|[{_PLAIN}=≈＝]){_RUN_REST}"
_EQUALS_RUN = re.compile(rf"={_SIGN_REST}")
_APPROX_SIGN = re.compile(_APPROX)
_PLAIN_REVERSED = r"0-9.+\-−–×÷*/^(){\[\]√π°²³½⅓¼¾⅔·⋅＋－０-９ \t"  # no "}": it may end "\text{cm}"
_REVERSED_LEFT = re.compile(
    rf"[{_PLAIN_REVERSED}]*(?:(?=[ctsvidme,;!}}\\])(?:(?:{_NAMED_REVERSED}|\}})[{_PLAIN_REVERSED}]*)+|)"
)
_SIGN_SPLIT = re.compile(r"(≈|\\approx(?![A-Za-z])|=|＝)")  # split keeping the signs
_NO_UNITS: frozenset[str] = frozenset()
_DEGREES = frozenset("°")
_UNIT = re.compile(r"(?<![A-Za-z])(?:cm|mm|dm|km|m)(?![A-Za-z])|°|\\circ")
_SIDE_START = re.compile(r"\s*(?:[0-9(√π½⅓¼¾⅔{０-９]|\\(?:d?frac|tfrac|sqrt|pi|left)(?![A-Za-z]))")
_OPERAND_AFTER = re.compile(r"\s*(?:[A-Za-z∠△⊙α-ω_′'](?![A-Za-z])|[∠△⊙α-ω])")
_FUNCTION_BEFORE = re.compile(r"(?:sin|cos|tan|cot|sec|csc|log|ln|lg|\^|_)\s*$")
_DECIMALS = re.compile(r"\d\.(\d+)\s*\S{0,8}\s*$")
_FULL_STOP = re.compile(r"\.(?=[ \t])")
_NOT_LAST = 1 << 30  # the last-index of a calculation whose right side is no run's last
# Where an arithmetic run may start right after (no space) or end right before: boundaries, not operands.
_BOUNDARY = frozenset('$,;，。；：、（）「」“”"!?！？\n')
# A list marker at the start of a line ("1. ", "2) ", "- "), and an enumeration label anywhere ("(2) 3 + 4 = 7"):
# neither is part of the calculation after it.
_LIST_MARKER = re.compile(r"[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+")
_LABEL = re.compile(r"[ \t]*\(\d{1,2}\)[ \t]+(?=[0-9√π(\\０-９])")
# A trace correcting a slip: doubting it at once ("= 110?"), or a correction word soon after it ...
_DOUBT = re.compile(r"[ \t]*[?？]")
_CORRECTION = re.compile(
    r"(?i)\b(?:wait|actually|hmm+|no|nope|oops|wrong|mistakes?|mistaken|incorrect|miscalculat\w*|correction|"
    r"should\s+(?:be|have\s+been)|recalculat\w*|recomput\w*|re-?check\w*|double-check\w*|hold\s+on|"
    r"not\s+(?:right|correct))\b"
    r"|不对|错|等等|等一下|不是|更正|纠正|应该是|应为|应是|重新计算|重算|验算|检查|嗯"
)
# ... followed by the right result: a number, fraction, root or multiple of π.
_STATED_VALUE = re.compile(
    r"\\[dt]?frac\{[^{}]{1,20}\}\{[^{}]{1,20}\}"
    r"|(?:\d+(?:\.\d+)?[ \t]*)?(?:√|\\sqrt)[ \t]*(?:\{[^{}]{1,20}\}|\(?\d+(?:\.\d+)?\)?)"
    r"|\d+(?:\.\d+)?[ \t]*(?:π|\\pi(?![A-Za-z]))"
    r"|\d+(?:\.\d+)?(?:[ \t]*/[ \t]*\d+(?:\.\d+)?)?"
)
# How close a correction must follow a slip is counted in sentences, the same in English and in Chinese (which packs
# more into fewer characters), and in characters at most.
_SENTENCE_END = re.compile(r"(?:[。！？]|[.!?](?=\s|$))\s*|\n\s*")
_RECOMPUTED_SENTENCES = 3
_WINDOW_CHARS = 400
# The same calculation written alike: no spaces, degree signs, units or markup; one spelling of each operator.
_KEY_NOISE = re.compile(
    r"\s+|°|\^\{?\\circ\}?|\\circ|\\boxed|\\left|\\right|\\[,;! ]|\\(?:text|mathrm)\{[^{}]*\}|[{}]"
    r"|(?<![A-Za-z])(?:cm|mm|dm|km|m|units?|degrees?|square)(?![A-Za-z])"
)
_KEY_SPELLING = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "－": "-",
        "＋": "+",
        "×": "*",
        "·": "*",
        "⋅": "*",
        "÷": "/",
        **{chr(0xFF10 + d): str(d) for d in range(10)},
    }
)
_KEY_COMMANDS = (("\\times", "*"), ("\\cdot", "*"), ("\\div", "/"), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"))
_NUMBER_KEY = re.compile(r"[\d.]+")
# A side of plain arithmetic: decimal numbers, maybe in degrees, joined by + - × ÷ / · (read by _plain_value), a
# parenthesised group of them as an operand ("2 × (12 + 5)", one level, after an operator or first); a unit after
# the last number and a full stop after the side (which the judge's reading drops too) may follow ...
_PLAIN_TERMS = r"[0-9]+(?:\.[0-9]+)?[ \t]*°?(?:[ \t]*[-+−×÷*/·][ \t]*[0-9]+(?:\.[0-9]+)?[ \t]*°?)*"
_PLAIN_OPERAND = rf"(?:[0-9]+(?:\.[0-9]+)?[ \t]*°?|\([ \t]*{_PLAIN_TERMS}[ \t]*\))"
_PLAIN_SIDE_TEXT = rf"[ \t]*{_PLAIN_OPERAND}(?:[ \t]*[-+−×÷*/·][ \t]*{_PLAIN_OPERAND})*"
_PLAIN_SIDE = re.compile(rf"({_PLAIN_SIDE_TEXT})(?:[ \t]*(?:cm|mm|dm|km|m)(?:²|³|\^[23])?)?[ \t.]*")
_PLAIN_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|[-+−×÷*/·()]")
# ... and a run of plain arithmetic only: plain sides (or none) between signs, a full stop only at its very end, so
# that no list marker or enumeration label starts it and no full stop splits it (read by _read_plain_run); group 2:
# the run ends in a full stop with spaces after it ("= 93. "), which ends the run's one sentence (see _read_run).
_PLAIN_RUN_TEXT = re.compile(
    rf"((?:{_PLAIN_SIDE_TEXT})?(?:[ \t]*[=≈＝](?:{_PLAIN_SIDE_TEXT})?)+[ \t]*)(?:(\.[ \t]+)|\.?)"
)
# A side of LaTeX or Unicode arithmetic (degrees dropped): numbers, + - × ÷ / · ^, parentheses and braces, √, π, ² ³,
# ½ ⅓ ¼ ¾ ⅔, \frac{}{}, \sqrt, \times, \cdot, \div, \pi, \left( \right), ending in a value. Left out, for the judge's
# full reading: two multiplication signs in a row (read as a power, **), a superscript before a digit ("2²3" is
# 2^23), and "\times" not followed by a space, "(" or a command ("\times2" ends in what reads as the unit s²).
_LATEX_SIDE = re.compile(
    r"(?:[0-9]+(?:\.[0-9]+)?(?![.0-9])|[-+−/÷^(){}√π½⅓¼¾⅔ \t]|[²³](?![0-9])|(?:[×·*]|\\cdot)(?![×·*]|\\cdot|\\times)"
    r"|\\times(?=[ \t(\\])(?!\\times|\\cdot)|\\(?:d?frac|tfrac)(?=\{)|\\(?:sqrt|div|pi)(?![A-Za-z])|\\left(?=\()"
    r"|\\right(?=\)))+(?<=[0-9)}²³π½⅓¼¾⅔i])"
)
_LATEX_COMMANDS = (
    ("\\left", ""),
    ("\\right", ""),
    ("\\dfrac", "frac"),
    ("\\tfrac", "frac"),
    ("\\frac", "frac"),
    ("\\cdot", "*"),
    ("\\times", "*"),
    ("\\div", "/"),
    ("\\pi", "pi"),
    ("\\sqrt", "sqrt"),
)
_LATEX_CHARACTERS = str.maketrans(
    {
        "×": "*",
        "·": "*",
        "÷": "/",
        "−": "-",
        "π": "pi",
        "√": "sqrt",
        "{": "(",
        "}": ")",
        "²": "^2",
        "³": "^3",
        "½": "(1/2)",
        "⅓": "(1/3)",
        "¼": "(1/4)",
        "¾": "(3/4)",
        "⅔": "(2/3)",
    }
)
_SQRT_NUMBER = re.compile(r"sqrt(\d+(?:\.\d+)?)")  # the judge's: "√3" is sqrt(3)
_EXPRESSION_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|sqrt|frac|pi|\*\*|[-+*/^()]")  # the judge's tokens
_NUMBER_START = frozenset("0123456789.")
_SIDE_VALUES: dict[str, float | None] = {}  # side text -> _side_value
# A unit inside a side: after a value, before a space, an operator, a closing bracket or the side's end.
_INNER_UNIT = re.compile(r"(?<=[0-9°)}])[ \t]*(?:cm|mm|dm|km|m)(?:²|³|\^[23])?(?=[ \t)}\]+\-−×÷*/·]|$)")
_UNKNOWN = object()
_CALCULATIONS: dict[str, tuple | object] = {}  # run text -> _calculation(run text), or _RIGHT
_RIGHT = object()  # what _CALCULATIONS holds for a run text with no wrong calculation and no list marker
_CACHE_SIZE = 50_000
_CACHED_CHARS = 300


def _plain_value(side: str) -> float | None:
    """The value of a side of plain arithmetic (:data:`_PLAIN_SIDE`), computed as :func:`to_number` computes it:
    the same floats, combined in the same order (a parenthesised group first, then products and quotients, then
    left to right)."""
    tokens = _PLAIN_TOKEN.findall(side)
    if "(" in tokens:  # each group's value as one operand
        flat, i = [], 0
        while i < len(tokens):
            if tokens[i] == "(":
                close = tokens.index(")", i)
                group = _plain_tokens_value(tokens[i + 1 : close])
                if group is None:
                    return None
                flat.append(group)
                i = close + 1
            else:
                flat.append(tokens[i])
                i += 1
        tokens = flat
    return _plain_tokens_value(tokens)


def _plain_tokens_value(tokens: list) -> float | None:
    """:func:`_plain_value` of its tokens: operands (number text or float) between operators."""
    total, adding, term = None, True, float(tokens[0])
    for i in range(1, len(tokens), 2):
        operator_, number = tokens[i], float(tokens[i + 1])
        if operator_ in "×*·":
            term = term * number
        elif operator_ in "÷/":
            if number == 0:
                return None
            term = term / number
        else:
            total = term if total is None else total + term if adding else total - term
            adding, term = operator_ == "+", number
    total = term if total is None else total + term if adding else total - term
    return total if math.isfinite(total) else None


class _NotArithmetic(Exception):
    pass


def _evaluate(tokens: list[str]) -> float | None:
    """The judge's :func:`evaluate_expression` on its own tokens (numbers, ``sqrt``, ``frac``, ``pi``, operators):
    the same grammar (implicit products, ``^`` binding a unary exponent, ``sqrt`` and ``frac`` taking atoms, at most 50
    nested parentheses), the same float operations in the same order, None on the same errors. A tighter copy of its
    recursive descent, about twice as fast: its ``power`` is folded into ``unary`` (an implicit product's operand never
    starts with a sign, so the two read it alike) and a number with no power after it is read at once.
    tests/test_verify.py checks the two agree."""
    count = len(tokens)
    position = depth = 0

    def expr() -> float:
        nonlocal position, depth
        depth += 1
        if depth > 50:
            raise _NotArithmetic
        value = term()
        while position < count and tokens[position] in ("+", "-"):
            position += 1
            value = value + term() if tokens[position - 1] == "+" else value - term()
        depth -= 1
        return value

    def term() -> float:
        nonlocal position
        value = unary()
        while position < count:
            token = tokens[position]
            if token == "*" or token == "/":
                position += 1
                right = unary()
                value = value * right if token == "*" else value / right
            elif token[0] in _NUMBER_START or token in ("sqrt", "frac", "pi", "("):
                value = value * unary()  # an implicit product: 4sqrt(2), 2pi, 3(x)
            else:
                break
        return value

    def unary() -> float:
        nonlocal position
        if position >= count:
            raise _NotArithmetic
        token = tokens[position]
        if token == "+" or token == "-":
            position += 1
            return -unary() if token == "-" else unary()
        if token[0] in _NUMBER_START and (position + 1 == count or tokens[position + 1] not in ("^", "**")):
            position += 1
            return float(token)
        base = atom()
        if position < count and tokens[position] in ("^", "**"):
            position += 1
            exponent = unary()
            if abs(exponent) > 64 or (base < 0 and exponent != int(exponent)):
                raise _NotArithmetic
            return base**exponent
        return base

    def atom() -> float:
        nonlocal position
        if position >= count:
            raise _NotArithmetic
        token = tokens[position]
        position += 1
        if token[0] in _NUMBER_START:
            return float(token)
        if token == "pi":
            return math.pi
        if token == "sqrt":
            argument = atom()
            if argument < 0:
                raise _NotArithmetic
            return math.sqrt(argument)
        if token == "frac":
            numerator = atom()
            return numerator / atom()
        if token == "(":
            value = expr()
            if position >= count or tokens[position] != ")":
                raise _NotArithmetic
            position += 1
            return value
        raise _NotArithmetic

    try:
        value = expr()
    except (_NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
        return None
    return value if position == count and math.isfinite(value) else None


def _latex_value(side: str) -> float | None | bool:
    """The value :func:`to_number` gives a side of LaTeX or Unicode arithmetic (:data:`_LATEX_SIDE`), found by the
    judge's evaluator (:func:`_evaluate`) on the plain text the judge's reading turns it into; ``False`` for a side
    outside that form. What the judge's full reading does besides (labels, units, ratios, percentages, thousands)
    changes nothing in such a side; tests/test_verify.py checks the two readings against each other."""
    side = _latex_plain(side, _LATEX_SIDE, _SQRT_NUMBER)
    return False if side is None else _evaluate(_EXPRESSION_TOKEN.findall(side))


def _latex_plain(side: str, side_form: re.Pattern, sqrt_number: re.Pattern) -> str | None:
    """A side of LaTeX or Unicode arithmetic in the plain spelling the judge's evaluator reads (degrees dropped,
    commands and characters spelled out), or None outside ``side_form``; the same steps for a side and for its
    shape (numbers written ``#``), which differ only in the two patterns."""
    if "°" in side or "circ" in side or "º" in side or "degree" in side:
        side = _DEGREE.sub("", side)
    side = side.rstrip(" \t.。").strip()
    if not side_form.fullmatch(side):
        return None
    if "\\" in side:
        for command, plain in _LATEX_COMMANDS:
            side = side.replace(command, plain)
    side = side.translate(_LATEX_CHARACTERS)
    if "sqrt" in side:
        side = sqrt_number.sub(r"sqrt(\1)", side)
    return side


def _side_value(side: str) -> float | None:
    """The value of one side of a calculation, as :func:`to_number` reads it (None: not a number), by the fastest
    reading that gives the same: plain arithmetic, LaTeX arithmetic, or the judge's full reading. A side the judge
    reads no value in for units inside it ("3 cm + 4 cm") is read without them. Remembered."""
    value = _SIDE_VALUES.get(side, _UNKNOWN)
    if value is not _UNKNOWN:
        return value
    plain = _PLAIN_SIDE.fullmatch(side) if len(side) <= 200 else None
    if plain:
        value = _plain_value(plain.group(1))
    else:
        text = side.replace("\\boxed", "").replace("–", "-").replace("⋅", "·").strip()
        if not text or len(text) > 200:
            value = None
        else:
            value = _latex_value(text)
            if value is False:
                value = to_number(text)
            if value is None and _INNER_UNIT.search(text):
                # "7.5 cm × 2", "3 cm + 4 cm": units inside a side, which the judge reads only at the end of a value
                value = _side_value(_INNER_UNIT.sub(" ", text))
    if len(side) <= _CACHED_CHARS:
        if len(_SIDE_VALUES) >= _CACHE_SIZE:
            _SIDE_VALUES.clear()
        _SIDE_VALUES[side] = value
    return value


def _close_enough(left: float, right: float, right_text: str, approximate: bool) -> bool:
    """Equal, or equal to the precision the right side is written with (``√2 ≈ 1.41``; π taken as 3.14)."""
    if math.isclose(left, right, rel_tol=1e-6, abs_tol=1e-9):
        return True
    decimals = _DECIMALS.search(right_text)
    if approximate or decimals:
        places = len(decimals.group(1)) if decimals else 0
        return abs(left - right) <= max(0.5 * 10**-places + 1e-9, 1e-2 * abs(right))
    return False


def _at_boundary(char: str) -> bool:
    return char.isspace() or char in _BOUNDARY or "\u4e00" <= char <= "\u9fff"


def _key(side: str) -> str:
    key = _KEY_NOISE.sub("", side).translate(_KEY_SPELLING)
    for command, spelling in _KEY_COMMANDS:
        key = key.replace(command, spelling)
    return key


def _units(side: str) -> frozenset[str] | set[str]:
    """The units a side is in (``cm``, ``°``, ...); most sides have none, which the first test tells."""
    if "m" not in side and "circ" not in side:
        return _DEGREES if "°" in side else _NO_UNITS
    return set(_UNIT.findall(side))


def _computing_side(left_text: str, right_text: str, left: float, right: float) -> tuple[float, str]:
    """``(value, key)`` of the side of ``left = right`` that computes: the left one, unless only the right one does
    ("125 = 180 - 65"). The key is the side's calculation written alike (:func:`_key`)."""
    left_key, right_key = _key(left_text), _key(right_text)
    if _NUMBER_KEY.fullmatch(left_key) and not _NUMBER_KEY.fullmatch(right_key):
        return right, right_key
    return left, left_key


def _read_calculations(chunk: str) -> tuple[tuple, tuple]:
    """``(wrong, right)`` calculations in one run's text, each as ``(index, last index, ...)`` over the run's signs:
    wrong ones with their statement and the computing side's value and key (:func:`_computing_side`), right ones
    with their two sides' text. The first and last sides are still to be checked against the run's context
    (:func:`_open_sides`)."""
    pieces = _SIGN_SPLIT.split(chunk.lstrip(" \t."))
    parts, signs = pieces[0::2], pieces[1::2]
    # "+ 40 = 100": a first side that does not start a value continues an operand before the run
    opens = _SIDE_START.match(parts[0]) is not None
    if len(parts) == 2 and not (opens and parts[1].strip()):
        return (), ()  # the common "∠A = 40°": one sign, with no value on one side
    values = [_side_value(part) for part in parts[1:-1]]
    values.insert(0, _side_value(parts[0]) if opens else None)
    values.append(_side_value(parts[-1]) if parts[-1].strip() else None)
    wrong, right, last = [], [], len(signs) - 1
    for i, sign in enumerate(signs):
        left, result = values[i], values[i + 1]
        if left is None or result is None:
            continue
        left_text, right_text = parts[i], parts[i + 1]
        left_units, right_units = _units(left_text), _units(right_text)
        if left_units and right_units and left_units != right_units:
            continue  # "1 m = 100 cm": a conversion, not arithmetic
        if (left_units or right_units) and ("π" in left_text or "pi" in left_text) != (
            "π" in right_text or "pi" in right_text
        ):
            continue  # "180° = π": degrees and radians
        if left == result or _close_enough(left, result, right_text, sign not in ("=", "＝")):
            right.append((i, last, left_text, right_text))
        else:
            statement = f"{left_text.strip()} {sign} {right_text.strip().rstrip('.')}"
            wrong.append((i, last, statement, *_computing_side(left_text, right_text, left, result)))
    return tuple(wrong), tuple(right)


def _read_run(run: str) -> tuple[tuple, tuple]:
    """:func:`_read_calculations` of a run's text, sentence by sentence: a full stop in it (a period before a space,
    never a decimal point) ends one sentence's calculations, so "= 69°. √16 = 4" holds ``√16 = 4`` and no side
    ``69°. √16``. The sides at a full stop are checked there as at a run's ends; the run's own first and last sides
    keep their indexes (0 and the last), the others are shifted off them."""
    if ". " not in run and ".\t" not in run:
        return _read_calculations(run)
    wrong, right = [], []
    start, shift = 0, 0
    for stop in [*(m.start() for m in _FULL_STOP.finditer(run)), len(run)]:
        final = stop == len(run)
        closes = final or not _OPERAND_AFTER.match(run, stop + 1)
        sentence_wrong, sentence_right = _read_calculations(run[start:stop])
        for found, out in ((sentence_wrong, wrong), (sentence_right, right)):
            for i, last, *rest in found:
                if i == last and not closes:
                    continue  # the last side runs on into an operand after the full stop
                out.append((i + shift, last + shift if final else _NOT_LAST, *rest))
        start, shift = stop + 1, 1
    return tuple(wrong), tuple(right)


def _read_plain_run(chunk: str) -> tuple[tuple, tuple]:
    """:func:`_read_calculations` of a run of plain arithmetic only (:data:`_PLAIN_RUN_TEXT`), the commonest new run:
    the same calculations, its sides read at once by :func:`_plain_value` (no side is in a unit but degrees, none
    holds π; a side with nothing in it is no value)."""
    pieces = _SIGN_SPLIT.split(chunk.lstrip(" \t."))
    parts, signs = pieces[0::2], pieces[1::2]
    if len(parts) == 2 and not (parts[0].strip() and parts[1].strip()):
        return (), ()
    values = [
        _plain_value(side) if (side := part.rstrip(" \t.")) and len(part.strip()) <= 200 else None for part in parts
    ]  # a side of more than 200 characters is read as none, as _side_value reads it
    wrong, right, last = [], [], len(signs) - 1
    for i, sign in enumerate(signs):
        left, result = values[i], values[i + 1]
        if left is None or result is None:
            continue
        left_text, right_text = parts[i], parts[i + 1]
        if left == result or _close_enough(left, result, right_text, sign not in ("=", "＝")):
            right.append((i, last, left_text, right_text))
        else:
            statement = f"{left_text.strip()} {sign} {right_text.strip().rstrip('.')}"
            wrong.append((i, last, statement, *_computing_side(left_text, right_text, left, result)))
    return tuple(wrong), tuple(right)


# The commonest new run is plain arithmetic whose calculations are all right ("180° − 75° = 105°" with fresh
# numbers): its reading is compiled once per shape (the run with every number written "#") into a function of its
# numbers that says whether every calculation is right, with the same floats in the same order as _read_plain_run.
# A run it does not say so for (a wrong calculation, another shape) is read as any run.
_NUMBER_SPLIT = re.compile(r"([0-9]+(?:\.[0-9]+)?)")
_PLAIN_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PLAIN_RUN_SHAPE = re.compile(_PLAIN_RUN_TEXT.pattern.replace(_PLAIN_NUMBER, "#"))
_SHAPE_TOKEN = re.compile(r"#|[-+−×÷*/·()]")
_PLAIN_PROGRAMS: dict[str, Callable[..., bool] | None] = {}
_PLAIN_SHAPE_CHARS = 200  # every side of a shorter run is short enough to be read (see _read_plain_run)


def _shape_expression(tokens: list[str], numbers: itertools.count) -> str:
    """Python source computing a plain side's tokens as :func:`_plain_value` does (groups, then products and
    quotients, then left to right), fully parenthesised so the floats are combined in the same order."""
    operands: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "(":
            close = tokens.index(")", i)
            operands.append(_shape_expression(tokens[i + 1 : close], numbers))
            i = close + 1
        elif tokens[i] == "#":
            operands.append(f"n{next(numbers)}")
            i += 1
        else:
            operands.append(tokens[i])
            i += 1
    total, adding, term = None, True, operands[0]
    for k in range(1, len(operands), 2):
        operator_, operand = operands[k], operands[k + 1]
        if operator_ in "×*·":
            term = f"({term} * {operand})"
        elif operator_ in "÷/":
            term = f"({term} / {operand})"
        else:
            total = term if total is None else f"({total} {'+' if adding else '-'} {term})"
            adding, term = operator_ == "+", operand
    return term if total is None else f"({total} {'+' if adding else '-'} {term})"


def _plain_program(shape: str) -> Callable[..., bool] | None:
    """The compiled all-right test for plain runs of ``shape`` (None: not a plain run's shape)."""
    plain = _PLAIN_RUN_SHAPE.fullmatch(shape)
    if not plain:
        return None
    stopped = plain.group(2) is not None
    pieces = _SIGN_SPLIT.split((plain.group(1) if stopped else shape).lstrip(" \t."))
    parts, signs = pieces[0::2], pieces[1::2]
    count = shape.count("#")
    arguments = ", ".join(f"n{k}" for k in range(count))
    if len(parts) == 2 and not (parts[0].strip() and parts[1].strip()):
        return eval(f"lambda chunk, {arguments}: True")  # noqa: S307 - source built here from a shape
    numbers, lines, values = itertools.count(), [], []
    for k, part in enumerate(parts):
        side = part.rstrip(" \t.")
        if not side:
            values.append(None)
            continue
        expression = _shape_expression(_SHAPE_TOKEN.findall(side), numbers)
        if "/" in expression:
            lines += [f"  try: v{k} = {expression}", f"  except ZeroDivisionError: v{k} = None"]
        else:
            lines.append(f"  v{k} = {expression}")
        values.append(f"v{k}")
    for i, sign in enumerate(signs):
        left, result = values[i], values[i + 1]
        if left is None or result is None:
            continue
        approximate = sign not in ("=", "＝")
        lines.append(
            f"  if {left} is not None and {result} is not None and {left} != {result} and not "
            f"_close_enough({left}, {result}, _plain_side_text(chunk, {stopped}, {i + 1}), {approximate}): "
            "return False"
        )
    source = f"def program(chunk, {arguments}):\n" + "\n".join([*lines, "  return True"])
    namespace = {"_close_enough": _close_enough, "_plain_side_text": _plain_side_text}
    exec(source, namespace)  # noqa: S102 - source built here from a shape
    return namespace["program"]


def _plain_side_text(chunk: str, stopped: bool, index: int) -> str:
    """The text of side ``index`` of a plain run, as :func:`_read_plain_run` splits it."""
    sentence = chunk.rstrip(" \t")[:-1] if stopped else chunk
    return _SIGN_SPLIT.split(sentence.lstrip(" \t."))[2 * index]


# The next commonest new run holds LaTeX or Unicode arithmetic ("\\frac{1}{2} \\times 6 \\times 8 = 24",
# "2π × 5 × 40/360 ≈ 3.49"): compiled the same way, each side as _side_value reads it (plain, or the judge's
# evaluator on the judge's tokens, _evaluate, with the same floats in the same order). Only what reads alike whatever
# the numbers is compiled: the shape-level patterns below are the reading's patterns with a number written "#"
# (numbers are atomic in them: no digit may follow one); a run with a list marker or a label, a full stop inside, or
# a side the judge's full reading would read (to_number) is left to the general reading.
_SHAPE_NUMBER = "#"
_PLAIN_SIDE_SHAPE = re.compile(_PLAIN_SIDE.pattern.replace(_PLAIN_NUMBER, _SHAPE_NUMBER))
_SIDE_START_SHAPE = re.compile(_SIDE_START.pattern.replace("[0-9(", "[0-9#("))
_LATEX_SIDE_SHAPE = re.compile(
    _LATEX_SIDE.pattern.replace("[0-9]+(?:\\.[0-9]+)?(?![.0-9])", "#(?![.0-9#])")
    .replace("[²³](?![0-9])", "[²³](?![0-9#])")
    .replace("(?<=[0-9)}", "(?<=[0-9#)}")
)
_INNER_UNIT_SHAPE = re.compile(_INNER_UNIT.pattern.replace("(?<=[0-9", "(?<=[0-9#"))
_SQRT_NUMBER_SHAPE = re.compile(r"sqrt(#|\d+(?:\.\d+)?)")
_EXPRESSION_TOKEN_SHAPE = re.compile(r"#|" + _EXPRESSION_TOKEN.pattern)
_MARKER_SHAPE = re.compile(r"[ \t]*(?:#[.)]|[-*•]|\(#\))[ \t]")  # what may start a list marker or a label
_EVALUATION_ERRORS = (_NotArithmetic, ZeroDivisionError, OverflowError, ValueError)
assert _SIDE_START_SHAPE.pattern != _SIDE_START.pattern and _INNER_UNIT_SHAPE.pattern != _INNER_UNIT.pattern
assert _LATEX_SIDE_SHAPE.pattern.count("#") == 4  # every number of the pattern written "#"


def _root(argument: float) -> float:
    """``sqrt`` as :func:`_evaluate` takes it."""
    if argument < 0:
        raise _NotArithmetic
    return math.sqrt(argument)


def _power(base: float, exponent: float) -> float:
    """``^`` as :func:`_evaluate` takes it."""
    if abs(exponent) > 64 or (base < 0 and exponent != int(exponent)):
        raise _NotArithmetic
    return base**exponent


def _evaluation_source(tokens: list[str], numbers: Iterator[int]) -> str:
    """Python source computing :func:`_evaluate` of ``tokens`` (a number written "#" is the next of ``numbers``):
    the same grammar walked at compile time, the same float operations in the same order at run time (``_root``,
    ``_power`` and division raise where :func:`_evaluate` gives None). Raises :class:`_NotArithmetic` where
    :func:`_evaluate` gives None whatever the numbers."""
    count = len(tokens)
    position = depth = 0

    def number(token: str) -> str:
        return f"n{next(numbers)}" if token == "#" else repr(float(token))

    def expr() -> str:
        nonlocal position, depth
        depth += 1
        if depth > 50:
            raise _NotArithmetic
        value = term()
        while position < count and tokens[position] in ("+", "-"):
            position += 1
            operator_ = tokens[position - 1]
            value = f"({value} {operator_} {term()})"
        depth -= 1
        return value

    def term() -> str:
        nonlocal position
        value = unary()
        while position < count:
            token = tokens[position]
            if token == "*" or token == "/":
                position += 1
                value = f"({value} {token} {unary()})"
            elif token == "#" or token[0] in _NUMBER_START or token in ("sqrt", "frac", "pi", "("):
                value = f"({value} * {unary()})"
            else:
                break
        return value

    def unary() -> str:
        nonlocal position
        if position >= count:
            raise _NotArithmetic
        token = tokens[position]
        if token == "+" or token == "-":
            position += 1
            return f"(-{unary()})" if token == "-" else unary()
        if (token == "#" or token[0] in _NUMBER_START) and (
            position + 1 == count or tokens[position + 1] not in ("^", "**")
        ):
            position += 1
            return number(token)
        base = atom()
        if position < count and tokens[position] in ("^", "**"):
            position += 1
            return f"_power({base}, {unary()})"
        return base

    def atom() -> str:
        nonlocal position
        if position >= count:
            raise _NotArithmetic
        token = tokens[position]
        position += 1
        if token == "#" or token[0] in _NUMBER_START:
            return number(token)
        if token == "pi":
            return "_PI"
        if token == "sqrt":
            return f"_root({atom()})"
        if token == "frac":
            numerator = atom()
            return f"({numerator} / {atom()})"
        if token == "(":
            value = expr()
            if position >= count or tokens[position] != ")":
                raise _NotArithmetic
            position += 1
            return value
        raise _NotArithmetic

    value = expr()
    if position != count:
        raise _NotArithmetic
    return value


def _side_source(side: str, numbers: Iterator[int]) -> tuple[str, bool] | None:
    """``(source, evaluated)`` of :func:`_side_value` of the shape of a side: Python source of its value (numbers as
    in :func:`_evaluation_source`), ``evaluated`` when that is :func:`_evaluate`'s (None at run time where it raises
    or is not finite) rather than :func:`_plain_value`'s; None for a side only the judge's full reading reads."""
    plain = _PLAIN_SIDE_SHAPE.fullmatch(side)
    if plain:
        return _shape_expression(_SHAPE_TOKEN.findall(plain.group(1)), numbers), False
    text = side.replace("\\boxed", "").replace("–", "-").replace("⋅", "·").strip()
    if not text:
        return "None", False
    if _INNER_UNIT_SHAPE.search(text):
        return None
    text = _latex_plain(text, _LATEX_SIDE_SHAPE, _SQRT_NUMBER_SHAPE)  # _latex_value of the shape
    if text is None:
        return None
    tokens = _EXPRESSION_TOKEN_SHAPE.findall(text)
    try:
        return _evaluation_source(tokens, numbers), True
    except _NotArithmetic:
        return "None", False  # no value, whatever the numbers


def _latex_program(shape: str) -> Callable[..., bool] | None:
    """The compiled all-right test for runs of ``shape`` read as :func:`_read_run` reads them (None: a shape left
    to the general reading): one sentence, maybe ended by a full stop, no list marker or label before it."""
    if _MARKER_SHAPE.match(shape):
        return None
    stops = [m.start() for m in _FULL_STOP.finditer(shape)]
    stopped = bool(stops) and not shape[stops[-1] + 1 :].strip(" \t")
    if len(stops) > stopped:
        return None  # a full stop inside the run
    sentence = shape.rstrip(" \t")[:-1] if stopped else shape
    pieces = _SIGN_SPLIT.split(sentence.lstrip(" \t."))
    parts, signs = pieces[0::2], pieces[1::2]
    count = shape.count("#")
    arguments = ", ".join(f"n{k}" for k in range(count))
    opens = _SIDE_START_SHAPE.match(parts[0]) is not None
    if len(parts) == 2 and not (opens and parts[1].strip()):
        return eval(f"lambda chunk, {arguments}: True")  # noqa: S307 - source built here from a shape
    lines, values, first_number = [], [], 0
    for k, part in enumerate(parts):
        numbers = itertools.count(first_number)
        first_number += part.count("#")
        if (k == 0 and not opens) or (k == len(parts) - 1 and not part.strip()):
            values.append(None)
            continue
        source = _side_source(part, numbers)
        if source is None:
            return None
        expression, evaluated = source
        if expression == "None":
            values.append(None)
            continue
        if evaluated or "/" in expression:
            lines += [f"  try: v{k} = {expression}", f"  except _EVALUATION_ERRORS: v{k} = None"]
            if evaluated:
                lines.append(f"  else:\n    if not _isfinite(v{k}): v{k} = None")
        else:
            lines.append(f"  v{k} = {expression}")
        values.append(f"v{k}")
    for i, sign in enumerate(signs):
        left, result = values[i], values[i + 1]
        if left is None or result is None:
            continue
        left_text, right_text = parts[i], parts[i + 1]
        left_units, right_units = _units(left_text), _units(right_text)
        if left_units and right_units and left_units != right_units:
            continue
        if (left_units or right_units) and ("π" in left_text or "pi" in left_text) != (
            "π" in right_text or "pi" in right_text
        ):
            continue
        approximate = sign not in ("=", "＝")
        lines.append(
            f"  if {left} is not None and {result} is not None and {left} != {result} and not "
            f"_close_enough({left}, {result}, _plain_side_text(chunk, {stopped}, {i + 1}), {approximate}): "
            "return False"
        )
    source = f"def program(chunk, {arguments}):\n" + "\n".join([*lines, "  return True"])
    namespace = {
        "_close_enough": _close_enough,
        "_plain_side_text": _plain_side_text,
        "_root": _root,
        "_power": _power,
        "_PI": math.pi,
        "_isfinite": math.isfinite,
        "_EVALUATION_ERRORS": _EVALUATION_ERRORS,
    }
    exec(source, namespace)  # noqa: S102 - source built here from a shape
    return namespace["program"]


def _plain_all_right(chunk: str) -> bool:
    """Whether ``chunk`` is a run of plain, LaTeX or Unicode arithmetic (of a compiled shape) whose calculations are
    all right (False: read it as any run)."""
    if len(chunk) > _PLAIN_SHAPE_CHARS or "#" in chunk:
        return False
    pieces = _NUMBER_SPLIT.split(chunk)
    shape = "#".join(pieces[0::2])
    program = _PLAIN_PROGRAMS.get(shape, _UNKNOWN)
    if program is _UNKNOWN:
        if len(_PLAIN_PROGRAMS) >= _CACHE_SIZE:
            _PLAIN_PROGRAMS.clear()
        program = _PLAIN_PROGRAMS[shape] = _plain_program(shape) or _latex_program(shape)
    return program is not None and program(chunk, *map(float, pieces[1::2]))


def _stopped(calculations: tuple[tuple, tuple]) -> tuple[tuple, tuple]:
    """``(wrong, right)`` of a sentence that a full stop ends inside its run: no last side of the run among them."""
    return tuple(tuple((i, _NOT_LAST, *rest) for i, _, *rest in found) for found in calculations)


def _calculation(chunk: str, cache: bool = True) -> tuple:
    """``(offset, wrong, right, listed)`` for one run's text: the calculations after ``offset`` characters (an
    enumeration label skipped), and ``listed``, the same tuple for the text after a list marker, which counts only
    at the start of a line (None without one). Cached by text, traces repeat their calculations: as :data:`_RIGHT`
    for a text with no wrong calculation and no list marker, which needs no further look (the commonest)."""
    plain = _PLAIN_RUN_TEXT.fullmatch(chunk)
    if plain and plain.group(2) is None:
        listed, calculation = None, (0, *_read_plain_run(chunk), None)
    elif plain:
        # "= 93. ": the full stop ends the run's only sentence, whose last side is then no run's last (_read_run)
        listed, calculation = None, (0, *_stopped(_read_plain_run(plain.group(1))), None)
    else:
        label = _LABEL.match(chunk)
        offset = label.end() if label else 0
        marker = _LIST_MARKER.match(chunk)
        listed = (marker.end(), *_read_run(chunk[marker.end() :]), None) if marker else None
        calculation = (offset, *_read_run(chunk[offset:]), listed)
    if cache and len(chunk) <= _CACHED_CHARS:
        if len(_CALCULATIONS) >= _CACHE_SIZE:
            _CALCULATIONS.clear()
        _CALCULATIONS[chunk] = calculation if calculation[1] or listed else _RIGHT
    return calculation


def _open_sides(text: str, start: int, end: int) -> tuple[bool, bool]:
    """Whether the first side of the run ``text[start:end]`` starts a value and its last side ends one: the first
    side may continue an operand before the run ("∠1 + 40°", "AB^2", "sin 30°", "1,500"), the last one continue into
    one after it ("= 2x", "= 2 ∠A", "= 4:3", "= 1,500")."""
    first, final = text[start], text[end - 1]
    before = " " if first.isspace() or first == "." or not start else text[start - 1]
    opens = not (
        not _at_boundary(before)
        or (before.isspace() and _FUNCTION_BEFORE.search(text[max(0, start - 8) : start]))
        or (before == "," and start >= 2 and text[start - 2].isdigit())
    )
    after = " " if final.isspace() or end == len(text) else text[end]
    thousands = after == "," and text[end + 1 : end + 2].isdigit()
    closes = not (not _at_boundary(after) or after == ":" or thousands or _OPERAND_AFTER.match(text, end))
    return opens, closes


def _runs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every run of arithmetic in ``text`` that holds a sign with more than spaces after it."""
    # The runs are found in a copy with every sign spelled "=" (``\\approx`` as "=" and six spaces, the same length,
    # so offsets hold): a pattern that starts with one literal character is searched for by a fast C loop, one that
    # starts with a choice of signs by the regex engine at every character, several times slower.
    scan = text
    if "≈" in scan:
        scan = scan.replace("≈", "=")
    if "＝" in scan:
        scan = scan.replace("＝", "=")
    if "\\approx" in scan:
        scan = _APPROX_SIGN.sub("=      ", scan)
    n, rev, reversed_left = len(text), text[::-1], _REVERSED_LEFT.match
    return [(n - reversed_left(rev, n - m.start()).end(), m.end()) for m in _EQUALS_RUN.finditer(scan)]


def _calculations(text: str, start: int, end: int) -> tuple:
    """:func:`_calculation` of the run ``text[start:end]``, the list-marker reading where the run starts a line."""
    chunk = text[start:end]
    calculation = _CALCULATIONS.get(chunk)
    if calculation is None or calculation is _RIGHT:
        calculation = _calculation(chunk, cache=calculation is None)
    if calculation[3] is not None and (start == 0 or text[start - 1] == "\n"):
        return calculation[3]
    return calculation


def _slips(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, str, float, str]]:
    """The wrong calculations in the ``runs`` of ``text``, as ``(end of run, statement, right value, key)``."""
    cached = _CALCULATIONS.get
    found = [cached(text[start:end]) for start, end in runs]
    if found.count(_RIGHT) == len(found):
        return []  # the common case: every run read before, all its calculations right
    wrong = []
    for (start, end), calculation in zip(runs, found, strict=True):
        if calculation is _RIGHT:
            continue
        if calculation is None:
            calculation = cached(chunk := text[start:end])  # read earlier in this text
            if calculation is _RIGHT:
                continue
            if calculation is None and _plain_all_right(chunk):
                if len(_CALCULATIONS) >= _CACHE_SIZE:
                    _CALCULATIONS.clear()
                _CALCULATIONS[chunk] = _RIGHT  # what _calculation would remember (a plain run is under 300 chars)
                continue
        calculation = _calculations(text, start, end)
        if calculation[1]:
            opens, closes = _open_sides(text, start + calculation[0], end)
            for i, last, statement, value, key in calculation[1]:
                if (opens or i) and (closes or i < last):
                    wrong.append((end, statement, value, key))
    return wrong


def _after_sentences(text: str, start: int, count: int) -> int:
    """Where the ``count``-th sentence end from ``start`` on is (the end of the sentence ``start`` is in counts as the
    first), at most :data:`_WINDOW_CHARS` on and never past a ``</think>``."""
    stop = min(len(text), start + _WINDOW_CHARS)
    think = text.find("</think>", start, stop)
    stop = think if think >= 0 else stop
    for sentence_end in _SENTENCE_END.finditer(text, start, stop):
        count -= 1
        if not count:
            return sentence_end.end()
    return stop


def _corrected(text: str, runs: list[tuple[int, int]], end: int, value: float, key: str) -> bool:
    """Whether the trace corrects a slip that ends at ``end``: it does the same calculation right within the next
    three sentences, or it doubts the slip or says a correction word by the end of the next sentence and states the
    right result by the end of the sentence after that word's."""
    recomputed_by = _after_sentences(text, end, _RECOMPUTED_SENTENCES)
    for start, run_end in runs[bisect.bisect_left(runs, (end, -1)) :]:
        if start >= recomputed_by:
            break
        calculation = _calculations(text, start, run_end)
        if calculation[2]:
            opens, closes = _open_sides(text, start + calculation[0], run_end)
            for i, last, left_text, right_text in calculation[2]:
                if (opens or i) and (closes or i < last) and _computing_side(left_text, right_text, 0, 0)[1] == key:
                    return True
    marker = _DOUBT.match(text, end) or _CORRECTION.search(text, end, _after_sentences(text, end, 2))
    if marker is None:
        return False
    for stated in _STATED_VALUE.finditer(text, marker.start(), _after_sentences(text, marker.end(), 2)):
        number = to_number(stated.group())
        if number is not None and _close_enough(value, number, stated.group(), False):
            return True
    return False


def arithmetic_errors(text: str) -> list[str]:
    """Every explicit calculation in ``text`` whose sides evaluate to different numbers and that the text does not
    correct, as ``"left = right"``.

    A calculation is a run of arithmetic with ``=``, ``≈`` (``\\approx``) or ``＝`` in it; a full stop (a period and a
    space) ends one, a list marker ("1. ", "- ") or an enumeration label ("(2) ") before one is no part of it. It is
    checked only where both sides are plain arithmetic (numbers, ``+ - × ÷ / ^``, ``√``, ``π``, ``²``, ``\\frac``,
    ``\\sqrt``; degrees and units dropped; numbers with thousands separators are not read); sides with variables or
    point names are skipped, as are unit conversions ("1 m = 100 cm") and degrees against radians. A slip counts
    as corrected only when the text does the same calculation right within the next three sentences, or doubts it
    ("= 110?") or says a correction word ("wait", "actually", "wrong", "不对", "错", ...) by the end of the next
    sentence and states the right result by the end of the sentence after that ("= 125? Wait, 180 - 65 is 115").
    A "wait" with no right result after it ("Wait, let me check the other angle") corrects nothing, nor does a right
    final answer after ``</think>``.

    >>> arithmetic_errors("∠C = 180° − 60° − 80° = 40°, and √(6² + 8²) = 10, so 2 × 5 = 10 cm.")
    []
    >>> arithmetic_errors("So 180° - 40° - 40° = 110°.")
    ['180° - 40° - 40° = 110°']
    >>> arithmetic_errors("x + 40 = 100, so x = 60; sin 30° = 1/2; √2 ≈ 1.41")
    []
    >>> arithmetic_errors("So 180° - 65° = 125°. Wait, let me check the other angle: ∠C = 65°.")
    ['180° - 65° = 125°']
    >>> arithmetic_errors("So 180° - 65° = 125°... no wait, that's wrong: 180° - 65° = 115°.")
    []
    """
    if "=" not in text and "≈" not in text and "＝" not in text and "\\approx" not in text:
        return []
    runs = _runs(text)
    return [
        statement for end, statement, value, key in _slips(text, runs) if not _corrected(text, runs, end, value, key)
    ]


def check_step_arithmetic(trace: str, problem: Problem, config: VerifyConfig) -> str | None:
    """``arithmetic_error`` when an explicit calculation in the trace is wrong and the trace does not correct it,
    whatever the final answer (see :func:`arithmetic_errors`)."""
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
