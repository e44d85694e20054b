"""The one problem record used by every stage: loaders, synthesis, training, evaluation, demo.

A :class:`Problem` is a geometry question with an optional diagram. Traces and predictions refer to problems by
``Problem.id`` only, so a problem set can be re-scored or re-trained on without copying the problems around.

Usage::

    from redstar_geo.schema import Problem

    p = Problem(id="0", source="geoqa", question="...", choices=["40°", "60°", "120°", "140°"],
                answer_letter="D", answer="140°", answer_type="choice", image="/data/geoqa/test/0.png")
    p.gold_value          # "140°"
    img = p.load_image()  # PIL.Image, or raises ImageLoadError naming the id and the file

    # a question nobody has answered yet (demo, batch QA): no gold, so require_gold=False
    q = Problem(id="q1", source="user", question="Find x.", choices=["3", "4"], image="diagram.png",
                require_gold=False)
"""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

ANSWER_TYPES = ("choice", "integer", "float", "text")
LANGUAGES = ("en", "zh")
# GeoQA, MathVista and Geometry3K use 2-5 choices (A-E); MathVerse has questions with six (A-F), so the schema takes
# up to eight rather than silently dropping real benchmark records.
LETTERS = "ABCDEFGH"
_CJK = re.compile(r"[\u4e00-\u9fff]")


class ProblemError(ValueError):
    """A record that does not fit the schema. The message names the problem id."""


def detect_language(text: str) -> str:
    """``"zh"`` when CJK ideographs are a real part of the text (not one stray ``丄`` in English), else ``"en"``."""
    cjk = len(_CJK.findall(text or ""))
    return "zh" if cjk >= 2 and cjk >= 0.15 * len("".join((text or "").split())) else "en"


@dataclass
class Problem:
    """One geometry problem.

    ``answer`` is the gold value as text (``"140°"``, ``"4 \\sqrt{2}"``); for a choice problem it is the text of the
    correct choice. ``answer_letter`` is the gold letter (or letters, ``"CD"``, for MathVerse's multi-answer
    questions). ``image`` is a path (absolute, or relative to where the loader found the data) or the encoded image
    bytes; it is opened only by :meth:`load_image`.
    """

    id: str
    source: str
    question: str
    split: str = "test"
    choices: list[str] = field(default_factory=list)
    answer: str | None = None
    answer_letter: str | None = None
    answer_type: str = "text"
    precision: int | None = None
    unit: str | None = None
    language: str = "en"
    image: str | bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Benchmarks and training data need a gold answer; a question asked for inference has none (not stored).
    require_gold: InitVar[bool] = True

    def __post_init__(self, require_gold: bool = True) -> None:
        if isinstance(self.id, int) and not isinstance(self.id, bool):
            self.id = str(self.id)
        if not isinstance(self.id, str) or not self.id:
            raise ProblemError(f"problem id must be a non-empty string, got {self.id!r}")
        where = f"problem {self.id!r}"
        if not isinstance(self.question, str):
            raise ProblemError(f"{where}: question must be a string, got {type(self.question).__name__}")
        if not isinstance(self.choices, list) or not all(isinstance(c, str) for c in self.choices):
            raise ProblemError(f"{where}: choices must be a list of strings, got {self.choices!r:.200}")
        if len(self.choices) == 1 or len(self.choices) > len(LETTERS):
            raise ProblemError(f"{where}: {len(self.choices)} choices; expected 0 or 2-{len(LETTERS)}")
        if self.answer_type not in ANSWER_TYPES:
            raise ProblemError(f"{where}: answer_type {self.answer_type!r} is not one of {ANSWER_TYPES}")
        if self.language not in LANGUAGES:
            raise ProblemError(f"{where}: language {self.language!r} is not one of {LANGUAGES}")
        if self.answer_letter is not None:
            letters = self.letters
            if not self.answer_letter or any(c not in letters for c in self.answer_letter):
                raise ProblemError(f"{where}: gold letter {self.answer_letter!r} is not among the choices {letters}")
            if self.answer is None and len(self.answer_letter) == 1:
                self.answer = self.choices[letters.index(self.answer_letter)]
        if require_gold and self.answer_type == "choice" and self.answer_letter is None:
            raise ProblemError(f"{where}: a choice problem needs a gold letter")
        if require_gold and self.answer is None and self.answer_letter is None:
            raise ProblemError(f"{where}: no gold answer")
        if self.precision is not None and (not isinstance(self.precision, int) or self.precision < 0):
            raise ProblemError(f"{where}: precision must be a non-negative int, got {self.precision!r}")
        if self.image is not None and not isinstance(self.image, (str, bytes)):
            raise ProblemError(f"{where}: image must be a path or bytes, got {type(self.image).__name__}")

    @property
    def letters(self) -> str:
        """The choice letters in order, ``"ABCD"`` for four choices, ``""`` for a free-form problem."""
        return LETTERS[: len(self.choices)]

    @property
    def gold_value(self) -> str | None:
        """The gold answer as a value: the correct choice's text for a choice problem, else ``answer``."""
        return self.answer

    @property
    def has_gold(self) -> bool:
        return self.answer is not None or self.answer_letter is not None

    def gold_answer(self, protocol: str = "choice") -> str | None:
        """The gold answer as ``protocol`` states it: the letter(s) under ``choice`` (when the problem has them),
        else the value."""
        return self.answer_letter if protocol == "choice" and self.answer_letter else self.gold_value

    def group_value(self, key: str) -> str:
        """The value a result breakdown groups this problem by: a field (``language``) or a metadata key."""
        value = getattr(self, key) if key in _FIELD_NAMES else self.metadata.get(key)
        return "|".join(map(str, value)) if isinstance(value, list) else str(value)

    def choice_text(self, letter: str) -> str:
        return self.choices[self.letters.index(letter)]

    def load_image(self, max_pixels: int | None = None):
        """Open the diagram as an RGB ``PIL.Image``; raises :class:`redstar_geo.images.ImageLoadError`."""
        from redstar_geo.images import load_image

        return load_image(self.image, owner=f"problem {self.id!r}", max_pixels=max_pixels)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; image bytes become ``{"bytes_b64": ...}``. Inverse of :meth:`from_dict`."""
        record = dataclasses.asdict(self)
        if isinstance(self.image, bytes):
            record["image"] = {"bytes_b64": base64.b64encode(self.image).decode("ascii")}
        return record

    @classmethod
    def from_dict(
        cls, record: dict[str, Any], image_root: str | Path | None = None, require_gold: bool = True
    ) -> Problem:
        """Build a problem from :meth:`to_dict` output; relative image paths are resolved against ``image_root``."""
        if not isinstance(record, dict):
            raise ProblemError(f"a problem record must be a JSON object, got {type(record).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ProblemError(f"problem {record.get('id')!r}: unknown fields {unknown}")
        record = dict(record)
        image = record.get("image")
        if isinstance(image, dict) and "bytes_b64" in image:
            record["image"] = base64.b64decode(image["bytes_b64"])
        elif isinstance(image, str) and image_root is not None:
            record["image"] = resolve_image_path(image, image_root)
        try:
            return cls(**record, require_gold=require_gold)
        except TypeError as exc:  # a missing required field
            raise ProblemError(f"problem {record.get('id')!r}: {exc}") from None


def is_choice_letter(value, n_choices: int) -> bool:
    """Whether ``value`` is one letter naming one of ``n_choices`` choices (``"" in "ABCD"`` is no letter)."""
    return isinstance(value, str) and len(value) == 1 and value in LETTERS[:n_choices]


_FIELD_NAMES = {f.name for f in dataclasses.fields(Problem)}


def resolve_image_path(image: str, image_root: str | Path | None) -> str:
    """``image`` made absolute against ``image_root`` (kept as is when already absolute or no root is given)."""
    path = Path(image)
    if image_root is None or path.is_absolute():
        return str(path)
    return str(Path(image_root) / path)


def infer_answer_type(value: str) -> str:
    """``integer`` / ``float`` for plain numbers (``"30"``, ``"18.8"``), else ``text`` (LaTeX, units, words)."""
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return "integer"
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)", text):
        return "float"
    return "text"
