"""Decontamination: drop training problems that duplicate an evaluation problem, by text, diagram or generator.

Usage::

    from redstar_geo.decontam import EvalIndex, decontaminate, decontamination_summary
    from redstar_geo.geosynth import generate
    from redstar_geo.jsonl import IssueLog

    index = EvalIndex.from_benchmarks(["geoqa", "mathvista_geo", "geometry3k", "mathverse", "geosynth"], IssueLog())
    index.counts                  # per benchmark: problems, texts, informative texts, images, image errors
    index.match(problem)          # Match(benchmark="geosynth", id="eval-0017", by="image", distance=2) or None
    kept, dropped = decontaminate(generate(3000, base_seed=0), index)
    decontamination_summary(dropped, n_total=3000, index=index)   # counts by benchmark and kind, for a report

    normalize_text("As shown in the figure, ∠A＝80°, then ∠B is (  )", ["60°", "40°"])
    # -> "anglea=#80#thenanglebis|#40#|#60#"
    hamming(image_hash(pil_image), image_hash(other))  # 64-bit DCT pHash, 0-64
    HashIndex(hashes, max_distance=3).query(h)         # [(position, distance)], nearest first

The matching rule: a training problem T is dropped when it matches an indexed evaluation problem E by

``signature``
    Both are GeoSynth problems (``metadata`` has ``family``, ``target``, ``givens``) and those are equal: the same
    problem in another language, the other variant (values stated or marked in the diagram), with shuffled choices
    or drawn in another shape. GeoSynth's problem space is small, so different seeds often give the same problem:
    of 3,000 training problems (``generate(3000, base_seed=0, language="mixed")``) **1,309 (44 %)** share a
    signature with one of the 500 held-out problems. The text and image rules alone catch 59 % of those (the rest are
    translations or redrawn figures), hence this exact rule.
``text``
    The :func:`normalize_text` keys (question + sorted choices) are equal, the gold answers agree (when both are
    known), and either E's question is *informative* (it states a number and has :data:`MIN_INFORMATIVE_CHARS`
    characters once normalized: the text alone determines the problem) or both diagrams are within
    :data:`IMAGE_MAX_DISTANCE`. "Find x." or GeoSynth's "from the values marked in the figure, ∠BAC is ( )" say
    nothing without their diagram: the same words over another diagram are another problem.
``image``
    The diagrams' pHashes are within :data:`IMAGE_MAX_DISTANCE` (6 of 64 bits) and the texts agree: the numbers
    stated in question + choices are the same multiset and the gold answers agree. A diagram with no text support
    counts only when E's text states no number at all (MathVerse's Vision Only problems, whose text is inside the
    image) and the distance is at most :data:`IMAGE_ONLY_DISTANCE` (4).

Why a diagram alone is not enough: line drawings collide. GeoSynth draws a text-dominant problem's diagram without
its values, so different problems share pixel-identical diagrams: 866 of those 3,000 training problems have a
held-out diagram at distance 0, and for 316 of them every such diagram belongs to *another* problem (other given
values). The numbers in the text tell them apart; a pHash cannot.

Measured, GeoSynth training vs held-out (a drop is *false* unless the two share a signature or have the same
question, choices and answer, so that training on one teaches the other's answer):

- 3,000 training problems: 1,318 dropped (1,309 signature, 9 text), **0 false**. Without the signature rule: 775
  dropped (549 text, 226 image), 1 false: right triangles with the legs swapped (BC=7, AC=6 vs BC=6, AC=7; same
  answer √85), diagrams 4 bits apart. At a threshold of 8 bits instead of 6 there would be 7 false drops (legs
  swapped, or values marked in near-identical diagrams), at 10 bits 9.
- The 300 problems of the test suite: 144 dropped (141 signature, 3 text), 0 false.

Recall, with the signature rule off (metadata stripped), on a copy of every held-out GeoSynth problem and every
MathVerse problem with a diagram, its image perturbed by one of the perturbations below and re-encoded as JPEG
(q=85):

- the question reworded ("如图所示：", "In the figure,", full-width "＝", "（　）"): caught 498/500 GeoSynth and
  600/604 MathVerse copies (the misses: text that says nothing alone over a diagram pushed beyond 6 bits);
- the question rewritten beyond normalization, keeping its numbers (only the image rule can catch it): 475/500
  (95 %) and 588/604 (97 %).

pHash distance between a diagram and its perturbed copy (150 GeoSynth diagrams / 604 MathVerse diagrams, 9
perturbations each): at most 4 for 94 % / 97 % of copies, at most 6 for 98 % / 98.5 %, at most 8 for 99 % / 99.4 %.
Worst cases per perturbation (GeoSynth / MathVerse): JPEG q=50 12 / 16, half size 10 / 8, double size 10 / 8,
1.2 px blur 10 / 12, brightness + contrast 4 / 10, white border 0 / 4, frame + margin 0 / 16, 15 % wider 10 / 4,
70 % size + border + JPEG q=50 18 / 24.

Speed (one CPU core): ``EvalIndex.from_benchmarks()`` over the five bundled benchmarks takes about 9 s (generating
GeoSynth's 500 held-out problems about 3 s, reading and hashing MathVerse's 604 diagrams most of the rest);
checking 3,000 GeoSynth problems with their diagrams about 3 s (1 ms each: decoding and hashing the PNG). The
banded :class:`HashIndex` answers a query against 10,000 hashes in about 35 us at 6 bits (about 20 us at 3), so
100,000 x 10,000 is seconds, not the 10**9 comparisons of a scan.

The pHash is implemented here with Pillow + numpy rather than taken from ``imagehash``: that package pulls in
scipy and PyWavelets for one 30-line function.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redstar_geo.images import ImageLoadError
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem

logger = logging.getLogger(__name__)

DEFAULT_BENCHMARKS = ("geoqa", "mathvista_geo", "geometry3k", "mathverse", "geosynth")
HASH_BITS = 64
# A diagram and its JPEG / rescaled / blurred copy: at most 6 bits apart for 98 % of copies; 8 would catch 99 % but
# drops different GeoSynth problems whose near-identical diagrams carry other values (module docstring).
IMAGE_MAX_DISTANCE = 6
# A diagram with no text support needs to be closer still.
IMAGE_ONLY_DISTANCE = 4
# A question that states a number and has this many other characters once normalized ("anglea=#80#angleb=#60#...")
# determines its problem without the diagram; "Find m∠1." ("findmangle#1#") or "Find the area of the figure." (no
# number) do not.
MIN_INFORMATIVE_CHARS = 16
KINDS = ("signature", "text", "image")

# --------------------------------------------------------------------------------------------------------- text

# Degree signs in their many spellings, removed: "80°", "80º", "80^\circ" and GeoQA's bare "80.0" are one value.
_DEGREE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|[°º˚∘]")
# GeoQA / GeoSynth boilerplate (matched after NFKC + lower case), removed wherever it is.
_BOILERPLATE = re.compile(
    r"as shown in (?:the )?(?:figure|diagram|picture|graph|image)s?(?: below| above| shown)?"
    r"|in the (?:figure|diagram|picture)(?: below| above| shown)?"
    r"|如图所示|如下图|如图"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Unicode categories dropped from a key: punctuation (incl. blanks "( )", "（　）", "___"), separators (all spaces,
# full-width too), control/format characters, currency ("$" of LaTeX) and modifier symbols ("^", "`").
_DROPPED = ("P", "Z", "C", "Sc", "Sk")


def _canonical_number(text: str) -> str:
    """``"80.0"`` -> ``"80"``, ``"2.50"`` -> ``"2.5"``, ``"007"`` -> ``"7"``."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("0") or "0"


# GeoQA's English (G-LLaVA) spells out the symbols other copies print: "angle A", "triangle ABC", "DE parallel BC".
_SYMBOL_WORDS = str.maketrans({"∠": "angle", "△": "triangle", "⊙": "circle", "∥": "parallel", "⊥": "perpendicular"})


def _prepare(text: str) -> str:
    text = _DEGREE.sub("", text or "")
    return unicodedata.normalize("NFKC", text).lower().translate(_SYMBOL_WORDS)


def _key(text: str) -> str:
    text = _BOILERPLATE.sub("", _prepare(text)).replace("#", "")
    # Numbers are fenced with "#" before punctuation goes, so "6, 8" ("#6##8#") stays apart from "68" ("#68#"), and
    # their decimal point is spelt "d", so "80.5" ("#80d5#") stays apart from "805".
    text = _NUMBER.sub(lambda m: "#" + _canonical_number(m.group(0)).replace(".", "d") + "#", text)
    return "".join(ch for ch in text if ch == "#" or not unicodedata.category(ch).startswith(_DROPPED))


def normalize_text(question: str, choices: Sequence[str] = ()) -> str:
    """A matching key for a problem's text: robust to spacing, full-width forms, punctuation, degree signs,
    "As shown in the figure," / "如图，", the "( )" blank, ``∠`` / ``△`` / ``⊙`` / ``∥`` / ``⊥`` against GeoQA's
    "angle" / "triangle" / "circle" / "parallel" / "perpendicular", and the order of the choices; numbers kept
    apart.

    The choices are part of the key (sorted, so a shuffled copy still matches): GeoSynth's vision-dominant problems
    share their question word for word and differ only in the diagram and the choices.
    ``normalize_text("As shown in the figure, ∠A＝80°, then ∠B is (  )", ["40°", "60°"])`` is
    ``"anglea=#80#thenanglebis|#40#|#60#"``.
    """
    return _key(question) + "|" + "|".join(sorted(_key(c) for c in choices))


def number_signature(question: str, choices: Sequence[str] = ()) -> tuple[str, ...]:
    """The numbers stated in question and choices, as a sorted multiset of canonical forms (``"80.0"`` is ``"80"``).

    Two wordings (or languages) of one problem state the same numbers; two problems that share a drawing do not.
    A multiset, not a set: choices ``3√3, 3, 3√5, 3√2`` and ``2√3, 2, 2√2, 2√5`` have the same *set* of numbers.
    """
    text = _prepare(" ".join([question or "", *choices]))
    return tuple(sorted(_canonical_number(m.group(0)) for m in _NUMBER.finditer(text)))


def _informative(question: str) -> bool:
    """Whether the question alone determines its problem: it states a number and is not a stock phrase."""
    key = _key(question)
    return "#" in key and len(key.replace("#", "")) >= MIN_INFORMATIVE_CHARS


def _answer_form(problem: Problem) -> tuple[str, Any] | None:
    """The gold answer in a comparable form: its numbers when it has some (``"4 \\sqrt { 2 }"`` and ``"4√2"`` agree),
    else its text key; None when there is no gold."""
    value = problem.gold_value
    if value is None or not str(value).strip():
        return None
    numbers = number_signature(str(value))
    return ("numbers", numbers) if numbers else ("text", _key(str(value)))


def _answers_agree(a: tuple[str, Any] | None, b: tuple[str, Any] | None) -> bool:
    # Unknown on either side, or one numeric and one not (a letter against a value): no evidence either way.
    if a is None or b is None or a[0] != b[0]:
        return True
    return a[1] == b[1]


def generator_signature(problem: Problem) -> str | None:
    """A GeoSynth problem's identity, ``family + target + givens``, or None for a problem without that metadata.

    Language, variant (values stated or drawn), choice order and the drawn shape do not enter it: they change how
    the problem is shown, not what is asked and given.
    """
    meta = problem.metadata or {}
    family, target, givens = meta.get("family"), meta.get("target"), meta.get("givens")
    if not family or target is None or not isinstance(givens, list):
        return None
    try:
        parts = sorted((json.dumps(g["measure"]), _key(str(g["value"]))) for g in givens)
        return json.dumps([family, target, parts], ensure_ascii=False)
    except (KeyError, TypeError):
        return None


# -------------------------------------------------------------------------------------------------------- image

_HASH_SIZE = 32  # the DCT runs on a 32x32 thumbnail; its 64 lowest frequencies become the 64 bits


def _dct_matrix(n: int) -> np.ndarray:
    k, x = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix(_HASH_SIZE)
# The 64 lowest frequencies in zigzag order, without the DC term (the mean grey level): it dwarfs the others, so
# its bit would always be 1.
_FREQUENCIES = [(u, v) for u in range(_HASH_SIZE) for v in range(_HASH_SIZE) if (u, v) != (0, 0)]
_LOW = sorted(_FREQUENCIES, key=lambda t: (t[0] + t[1], t[0]))[:HASH_BITS]
_LOW_U = np.array([u for u, _ in _LOW])
_LOW_V = np.array([v for _, v in _LOW])
# An edge row/column whose grey levels span less than this is blank (a margin or a border, JPEG noise included);
# a 1-px line blurred by 1 px still spans more than twice this.
_BLANK_SPAN = 40
_TRIM_MAX_PX = 512  # trimming and thumbnailing work on at most this size; bigger diagrams are box-reduced first


def _trim(a: np.ndarray) -> np.ndarray:
    """``a`` without blank edge rows and columns, repeated so a frame around a margin goes too."""
    top, bottom, left, right = 0, a.shape[0], 0, a.shape[1]
    for _ in range(4):  # frame, then the margin inside it, rarely more: a few rounds settle it
        sub = a[top:bottom, left:right]
        rows = np.flatnonzero(np.ptp(sub, axis=1) >= _BLANK_SPAN)
        if rows.size == 0:
            return a  # a blank image: nothing to trim to
        cols = np.flatnonzero(np.ptp(sub, axis=0) >= _BLANK_SPAN)
        box = (top + rows[0], top + rows[-1] + 1, left + cols[0], left + cols[-1] + 1)
        if box == (top, bottom, left, right):
            break
        top, bottom, left, right = box
    return a[top:bottom, left:right]


def image_hash(image) -> int:
    """A 64-bit perceptual hash (DCT pHash) of a ``PIL.Image``.

    Greyscale, uniform borders trimmed (a white margin or a frame added around a copy changes nothing), box-scaled
    to 32x32 (aspect ratio dropped, so rescaling changes little), 2-D DCT, then one bit per low frequency: above or
    below the median of the 64. The median makes half the bits ones, which a brightness or contrast change keeps.
    """
    from PIL import Image

    grey = image.convert("L")
    factor = max(grey.size) // _TRIM_MAX_PX
    if factor > 1:
        grey = grey.reduce(factor)
    trimmed = _trim(np.asarray(grey, dtype=np.int16))
    thumb = Image.fromarray(trimmed.astype(np.uint8)).resize((_HASH_SIZE, _HASH_SIZE), Image.Resampling.BOX)
    coeffs = (_DCT @ np.asarray(thumb, dtype=np.float64) @ _DCT.T)[_LOW_U, _LOW_V]
    bits = coeffs > np.median(coeffs)
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """The number of bits in which two hashes differ."""
    return bin(a ^ b).count("1")


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


class HashIndex:
    """Near-duplicate lookup of 64-bit hashes without comparing every pair.

    The 64 bits are cut into ``max_distance + 1`` bands. Two hashes within ``max_distance`` bits differ in at most
    that many bands, so at least one band is equal (pigeonhole): a query looks up its band values in one dict per
    band and measures the exact distance to those candidates only. ``max_distance=3`` gives 4 bands of 16 bits,
    ``8`` gives 9 bands of 7-8 bits. Exact: it finds every hash within ``max_distance`` (tests check it against a
    brute-force scan).

    ``HashIndex([h1, h2, ...], max_distance=8).query(h)`` -> ``[(position, distance), ...]``, nearest first.
    """

    def __init__(self, hashes: Sequence[int], max_distance: int = 3):
        if not 0 <= max_distance < HASH_BITS:
            raise ValueError(f"max_distance must be 0-{HASH_BITS - 1}, got {max_distance}")
        self.max_distance = max_distance
        self.hashes = np.array([int(h) for h in hashes], dtype=np.uint64)
        n_bands = max_distance + 1
        edges = [round(i * HASH_BITS / n_bands) for i in range(n_bands + 1)]
        self._bands = [(lo, hi - lo) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        self._tables: list[dict[int, np.ndarray]] = []
        for shift, width in self._bands:
            values = (self.hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            order = np.argsort(values, kind="stable")
            keys, starts = np.unique(values[order], return_index=True)
            groups = np.split(order, starts[1:]) if len(order) else []
            self._tables.append({int(k): g for k, g in zip(keys, groups, strict=True)})

    def __len__(self) -> int:
        return len(self.hashes)

    def query(self, h: int, max_distance: int | None = None) -> list[tuple[int, int]]:
        """Positions of the hashes within ``max_distance`` (at most the index's own) of ``h``, nearest first."""
        limit = self.max_distance if max_distance is None else min(max_distance, self.max_distance)
        found = [
            table[key]
            for (shift, width), table in zip(self._bands, self._tables, strict=True)
            if (key := (h >> shift) & ((1 << width) - 1)) in table
        ]
        if not found:
            return []
        candidates = np.unique(np.concatenate(found))
        distances = _popcount(self.hashes[candidates] ^ np.uint64(h))
        keep = distances <= limit
        order = np.lexsort((candidates[keep], distances[keep]))
        return [(int(i), int(d)) for i, d in zip(candidates[keep][order], distances[keep][order], strict=True)]


# -------------------------------------------------------------------------------------------------------- index


@dataclass(frozen=True)
class Match:
    """Which evaluation problem a training problem duplicates, and why: ``by`` is ``"signature"``, ``"text"`` or
    ``"image"``; ``distance`` the pHash distance of the two diagrams when both could be hashed (else None)."""

    benchmark: str
    id: str
    by: str
    distance: int | None = None


@dataclass
class _Entry:
    benchmark: str
    id: str
    informative: bool
    numbers: tuple[str, ...]
    answer: tuple[str, Any] | None
    hash: int | None


@dataclass
class _Probe:
    """What matching needs of one training problem, computed once."""

    key: str | None
    numbers: tuple[str, ...]
    answer: tuple[str, Any] | None
    hash: int | None
    signature: str | None


def _hash_problem(problem: Problem) -> tuple[int | None, str | None]:
    """(hash, None), (None, error message) for an image that cannot be read, (None, None) without an image."""
    if problem.image is None:
        return None, None
    try:
        return image_hash(problem.load_image()), None
    except ImageLoadError as exc:
        return None, str(exc)


def _probe(problem: Problem, h: int | None) -> _Probe:
    key = normalize_text(problem.question, problem.choices)
    return _Probe(
        key=key if key.strip("|") else None,  # no question and no choices (MathVerse's Vision Only): no text
        numbers=number_signature(problem.question, problem.choices),
        answer=_answer_form(problem),
        hash=h,
        signature=generator_signature(problem),
    )


@dataclass
class EvalIndex:
    """The evaluation problems that training data must not contain, indexed by text key, diagram hash and
    generator signature.

    ``counts[benchmark]``: ``problems``, ``texts`` (with a text key), ``informative_texts`` (text that matches on its
    own), ``images`` (hashed), ``image_errors`` (unreadable), ``signatures`` (GeoSynth). ``skipped``: benchmarks whose
    data was missing, with the reason. ``checked``: what :meth:`match` has seen so far (``problems``, ``images``
    hashed, ``image_errors``), with the first 20 of those errors in ``training_image_errors``.
    """

    entries: list[_Entry] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    checked: Counter = field(default_factory=Counter)
    training_image_errors: list[str] = field(default_factory=list)
    _text: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _signature: dict[str, int] = field(default_factory=dict, repr=False)
    _images: HashIndex | None = field(default=None, repr=False)
    _image_entries: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def from_benchmarks(
        cls,
        names: Iterable[str] = DEFAULT_BENCHMARKS,
        issues: IssueLog | None = None,
        data: dict[str, str] | None = None,
        splits: dict[str, str] | None = None,
    ) -> EvalIndex:
        """Index the named benchmarks: their bundled data, or ``data[name]`` (a path or dataset id) with
        ``splits[name]`` (default: each loader's evaluation split). A benchmark whose data is missing is skipped
        with a warning and listed in ``skipped``; bad records go to ``issues``."""
        from redstar_geo.benchmarks import load_benchmark

        index = cls()
        issues = IssueLog() if issues is None else issues
        data, splits = data or {}, splits or {}
        for name in names:
            try:
                problems = load_benchmark(name, data=data.get(name), split=splits.get(name), issues=issues)
            except (DataError, OSError, ImportError) as exc:  # missing files, no hub access, no `datasets`
                logger.warning("decontamination: benchmark %s skipped: %s", name, exc)
                index.skipped[name] = str(exc)
                continue
            index.add(name, problems)
        return index

    @classmethod
    def from_problems(cls, problems_by_benchmark: dict[str, Sequence[Problem]]) -> EvalIndex:
        """Index problems already loaded: ``{"geosynth": [...], "mathverse": [...]}``."""
        index = cls()
        for name, problems in problems_by_benchmark.items():
            index.add(name, problems)
        return index

    def add(self, benchmark: str, problems: Iterable[Problem]) -> None:
        """Add one benchmark's problems (may be called again for more)."""
        counts = self.counts.setdefault(
            benchmark,
            {"problems": 0, "texts": 0, "informative_texts": 0, "images": 0, "image_errors": 0, "signatures": 0},
        )
        errors_before, first_error = counts["image_errors"], None
        for problem in problems:
            h, error = _hash_problem(problem)
            probe = _probe(problem, h)
            position = len(self.entries)
            informative = _informative(problem.question)
            self.entries.append(_Entry(benchmark, problem.id, informative, probe.numbers, probe.answer, probe.hash))
            counts["problems"] += 1
            if probe.key is not None:
                self._text.setdefault(probe.key, []).append(position)
                counts["texts"] += 1
                counts["informative_texts"] += informative
            if h is not None:
                self._image_entries.append(position)
                counts["images"] += 1
            elif error is not None:
                counts["image_errors"] += 1
                first_error = first_error or error
            if probe.signature is not None:
                self._signature.setdefault(probe.signature, position)
                counts["signatures"] += 1
        if first_error is not None:  # one line per benchmark: text-only data has hundreds of missing images
            logger.warning(
                "decontamination: %s: %d eval images could not be read, their problems are indexed by text only; "
                "first: %s",
                benchmark,
                counts["image_errors"] - errors_before,
                first_error,
            )
        self._images = None  # rebuilt on the next match

    def __len__(self) -> int:
        return len(self.entries)

    def _image_index(self) -> HashIndex:
        if self._images is None:
            hashes = [self.entries[i].hash for i in self._image_entries]
            self._images = HashIndex(hashes, max_distance=IMAGE_MAX_DISTANCE)
        return self._images

    def match(self, problem: Problem) -> Match | None:
        """The evaluation problem ``problem`` duplicates (see the module docstring for the rule), or None.

        An image that cannot be read is no error: the text is still checked, and ``checked["image_errors"]``
        counts it."""
        h, error = _hash_problem(problem)
        self.checked["problems"] += 1
        if h is not None:
            self.checked["images"] += 1
        elif error is not None:
            self.checked["image_errors"] += 1
            if len(self.training_image_errors) < 20:
                self.training_image_errors.append(error)
        return self._match(_probe(problem, h))

    def _match(self, probe: _Probe) -> Match | None:
        def distance(entry: _Entry) -> int | None:
            return None if probe.hash is None or entry.hash is None else hamming(probe.hash, entry.hash)

        if probe.signature is not None and probe.signature in self._signature:
            entry = self.entries[self._signature[probe.signature]]
            return Match(entry.benchmark, entry.id, "signature", distance(entry))
        for position in self._text.get(probe.key, ()) if probe.key is not None else ():
            entry = self.entries[position]
            if not _answers_agree(probe.answer, entry.answer):
                continue  # same words and choices, another answer: the diagrams differ, so do the problems
            d = distance(entry)
            if entry.informative or (d is not None and d <= IMAGE_MAX_DISTANCE):
                return Match(entry.benchmark, entry.id, "text", d)
        if probe.hash is None or not self._image_entries:
            return None
        for position, d in self._image_index().query(probe.hash):
            entry = self.entries[self._image_entries[position]]
            if not entry.numbers:
                if d <= IMAGE_ONLY_DISTANCE:  # nothing in E's text to compare: the diagram must be all but equal
                    return Match(entry.benchmark, entry.id, "image", d)
            elif entry.numbers == probe.numbers and _answers_agree(probe.answer, entry.answer):
                return Match(entry.benchmark, entry.id, "image", d)
        return None


# ---------------------------------------------------------------------------------------------------- filtering


def decontaminate(problems: Iterable[Problem], index: EvalIndex) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Split ``problems`` into those to keep and JSON-ready records of those dropped::

        {"id", "source", "matched_benchmark", "matched_id", "by": "signature"|"text"|"image", "distance": int|None}

    Unreadable images are counted in ``index.checked`` (and logged once at the end), never raised.
    """
    kept, dropped = [], []
    errors_before = index.checked["image_errors"]
    for problem in problems:
        match = index.match(problem)
        if match is None:
            kept.append(problem)
            continue
        dropped.append(
            {
                "id": problem.id,
                "source": problem.source,
                "matched_benchmark": match.benchmark,
                "matched_id": match.id,
                "by": match.by,
                "distance": match.distance,
            }
        )
    unreadable = index.checked["image_errors"] - errors_before
    if unreadable:
        logger.warning(
            "decontamination: %d training images could not be read (checked by text only); first: %s",
            unreadable,
            index.training_image_errors[0] if index.training_image_errors else "?",
        )
    return kept, dropped


def decontamination_summary(
    dropped: Sequence[dict[str, Any]], n_total: int, index: EvalIndex | None = None
) -> dict[str, Any]:
    """Counts for a report: totals, dropped by benchmark and by kind (and both); with ``index``, what the eval side
    held (per benchmark), which benchmarks were skipped, and how many training images could not be read."""
    by_benchmark = Counter(r["matched_benchmark"] for r in dropped)
    by_kind = Counter(r["by"] for r in dropped)
    summary: dict[str, Any] = {
        "total": n_total,
        "dropped": len(dropped),
        "kept": n_total - len(dropped),
        "dropped_fraction": round(len(dropped) / n_total, 4) if n_total else 0.0,
        "by_benchmark": dict(sorted(by_benchmark.items())),
        "by_kind": {kind: by_kind[kind] for kind in KINDS if by_kind[kind]},
        "by_benchmark_and_kind": {
            name: dict(sorted(Counter(r["by"] for r in dropped if r["matched_benchmark"] == name).items()))
            for name in sorted(by_benchmark)
        },
    }
    if index is not None:
        summary["eval_index"] = index.counts
        summary["skipped_benchmarks"] = index.skipped
        summary["training_images"] = {
            "hashed": index.checked["images"],
            "unreadable": index.checked["image_errors"],
            "first_errors": index.training_image_errors[:5],
        }
    return summary
