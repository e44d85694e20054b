"""The answer judge: extract the final answer from a (long) response and judge it against a problem's gold answer.

One module of pure functions, used by trace verification, evaluation and rewards alike::

    from redstar_geo.judge import extract_answer, judge

    extract_answer("... so angle C = 40°. Answer: A")      # Extraction(answer="A", method="answer_label")
    v = judge(response, problem)                           # problem: redstar_geo.schema.Problem
    v.correct, v.status, v.extracted, v.letter, v.reason   # status: "correct" | "wrong" | "no_answer"

Extraction takes the *last* stated final answer (``\\boxed{}``, ``<answer>…</answer>``, ``Answer: X``, "the answer
is (option) C", ``故选C`` / ``答案是…``), so a letter or number mentioned mid-reasoning never wins over a later final
answer. Without any such statement it accepts only a bare answer (the whole response, or its last line, is just an
answer such as ``C`` or ``145°``) or a concluding sentence of the last line ("Therefore, the answer is C.",
"所以∠BOC=145°"); otherwise it reports "no answer" rather than guessing.

Equivalence understands letters A-H, a letter and its choice text in both directions, numbers with units and degree
signs, fractions, LaTeX (``\\frac``, ``\\sqrt``, ``\\pi``, ``√{3}``), and precision. Numbers are evaluated by a small
recursive-descent parser (no ``eval``, no sympy) so judging stays fast and safe on arbitrary text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from redstar_geo.schema import LETTERS, Problem

# Final answers sit at the end of a response. Scanning only the tail bounds the cost on enormous (1 MB) responses;
# 32k characters is longer than the part after the last answer statement in any realistic Long-CoT trace.
TAIL_CHARS = 32_000
MAX_ANSWER_CHARS = 300
PROTOCOLS = ("choice", "value")


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a response (``answer`` is None when there is none) and how it was found."""

    answer: str | None
    method: str


@dataclass(frozen=True)
class Verdict:
    """The judge's decision: ``status`` is "correct", "wrong" or "no_answer"; ``reason`` says why in words."""

    correct: bool
    status: str
    extracted: str | None
    letter: str | None
    method: str
    reason: str

    def to_dict(self) -> dict:
        return {
            "extracted": self.extracted,
            "letter": self.letter,
            "correct": self.correct,
            "status": self.status,
            "method": self.method,
            "reason": self.reason,
        }


# ---------------------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------------------
# Every quantifier below is bounded or over a character class that cannot overlap its neighbour, so no pattern can
# backtrack pathologically (the hypothesis tests in tests/test_judge_fuzz.py check this on random text).
_GAP = r"[ \t*_]{0,8}"  # spaces and markdown emphasis between words: "**Answer:** C"
_LINE = r"[ \t]{0,8}\n?[ \t]{0,8}(?P<ans>[^\n]{1,%d})" % MAX_ANSWER_CHARS
_MARKERS: list[tuple[str, re.Pattern]] = [
    (
        "answer_label",
        re.compile(
            r"(?i)(?<![a-z])(?:final[ \t]{1,4}answer|correct[ \t]{1,4}(?:answer|option|choice)|answer)"
            + _GAP
            + r"(?:(?:is|would[ \t]{1,4}be|should[ \t]{1,4}be|will[ \t]{1,4}be)(?![a-z])[ \t]{0,4}[:：]?|[:：=])"
            + _GAP
            + _LINE
        ),
    ),
    (
        "answer_label",
        re.compile(r"(?i)(?<![a-z])(?:the|my)[ \t]{1,4}(?:choice|option)[ \t]{1,4}is" + _GAP + _LINE),
    ),
    (
        "option_selected",
        re.compile(
            r"(?i)(?<![a-z])(?:option|choice)[ \t]{1,4}\(?(?P<ans>[A-H])\)?[ \t]{1,4}is[ \t]{1,4}"
            r"(?:selected|correct|the[ \t]{1,4}(?:correct[ \t]{1,4})?answer)"
        ),
    ),
    (
        "answer_label",
        # "I choose D." / "so we select option B because ...", but not "select point D on AB" in a later check.
        re.compile(
            r"(?<![A-Za-z])(?:[Cc]hoose|[Ss]elect|[Pp]ick)[ \t]{1,4}(?:"
            r"(?:[Oo]ption|[Cc]hoice|[Aa]nswer)[ \t]{1,4}\(?(?P<ans>[A-H])\)?(?![A-Za-z0-9])"
            r"|\(?(?P<ans2>[A-H])\)?[ \t]{0,4}(?:[.。!]|$))",
            re.M,
        ),
    ),
    (
        "zh_answer",
        re.compile(
            r"(?:故选|因此选|所以选|应选|故答案[为是选]?|最终答案[为是]?|正确答案[为是]?|正确选项[为是]?|答案[为是选应]{0,2}|选择)"
            r"[ \t]{0,4}[:：]?" + _LINE
        ),
    ),
    ("zh_answer", re.compile(r"选项[ \t]{0,4}(?P<ans>[A-H])[ \t]{0,4}(?:正确|符合|是正确的)")),
]
_BOXED = re.compile(r"\\(?:boxed|fbox)[ \t]{0,4}\{")
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
# Where a captured sentence stops: "the answer is C because ..." -> "C".
_SENTENCE_END = re.compile(
    r"(?:[.。!！?？](?:[ \t]|$)|[,，;；](?:[ \t]|$)|[。；，]|[ \t]+(?:because|since|as|which|so|and[ \t]+the|"
    r"with|from|for|where|when|if)(?![a-z]))",
    re.I,
)
_CONCLUSION = re.compile(
    r"(?i)^[ \t*#>-]{0,8}(?:therefore|thus|so|hence|in[ \t]conclusion|consequently|all[ \t]in[ \t]all"
    r"|所以|因此|故|综上|即)(?![a-z])[^\n]{0,%d}$" % MAX_ANSWER_CHARS
)
_CONCLUSION_VALUE = re.compile(
    r"(?i)(?:=|≈|(?<![a-z])(?:is|equals|be|are)(?![a-z])|为|是|等于)[ \t]{0,4}(?P<ans>[^=≈]{1,80})$"
)


def _balanced(text: str, start: int) -> str | None:
    """Contents of the brace group whose ``{`` is at ``start - 1``; None if it never closes."""
    depth, i, end = 1, start, min(len(text), start + MAX_ANSWER_CHARS * 4)
    while i < end:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def _last_boxed(text: str) -> tuple[int, str] | None:
    found = None
    for m in _BOXED.finditer(text):
        content = _balanced(text, m.end())
        if content is not None:
            found = (m.start(), content)
    return found


def _last_answer_tag(text: str) -> tuple[int, str] | None:
    start = text.rfind(_ANSWER_OPEN)
    if start < 0:
        return None
    body_start = start + len(_ANSWER_OPEN)
    end = text.find(_ANSWER_CLOSE, body_start)
    body = text[body_start : end if end >= 0 else body_start + MAX_ANSWER_CHARS]
    return (start, body) if body.strip() else None


def _strip_wrappers(ans: str) -> str:
    """Remove markup around an answer: ``$…$``, ``\\text{}``, ``**``, quotes, a trailing full stop."""
    s = ans.strip()
    boxed = _last_boxed(s)
    if boxed is not None:
        s = boxed[1]
    elif _BOXED.search(s):  # "\boxed{B = ∠B = ..." cut off by the token limit: no answer was stated
        return ""
    s = re.sub(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\{([^{}]{0,200})\}", r"\1", s)
    s = s.replace("**", "").replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = s.strip().strip("$").strip()
    s = s.strip("\"'`“”‘’「」")
    s = re.sub(r"[ \t]*[.。!！;；,，:：]+$", "", s)
    # "option D", "(option) D", "choice (D)" -> "D"
    s = re.sub(r"(?i)^[(（]?(?:option|choice|选项)[)）]?[ \t]{0,4}(?=[(（]?[A-H](?![A-Za-z0-9]))", "", s)
    return s.strip()


_LETTER_LIST_HEAD = re.compile(
    r"^[ \t]{0,4}[(（]?[A-H][)）]?(?:[ \t]{0,4}(?:,|，|、|and|和|&)[ \t]{0,4}[(（]?[A-H][)）]?){1,7}(?![A-Za-z0-9])"
)


def _cut_sentence(ans: str) -> str:
    """Keep the answer part of "C because ..." / "145°, which is ..." / "B. Explanation ..." / "C, D."."""
    letters = _LETTER_LIST_HEAD.match(ans)
    if letters:
        return letters.group(0)
    m = _SENTENCE_END.search(ans)
    return ans[: m.start()] if m else ans


def _marker_candidates(text: str) -> list[tuple[int, str, str]]:
    candidates = []
    boxed = _last_boxed(text)
    if boxed is not None:
        candidates.append((boxed[0], boxed[1], "boxed"))
    tag = _last_answer_tag(text)
    if tag is not None:
        candidates.append((tag[0], tag[1], "answer_tag"))
    for method, pattern in _MARKERS:
        last = None
        for last in pattern.finditer(text):  # noqa: B007 - only the last match is wanted
            pass
        if last is not None:
            ans = last.group("ans") or last.groupdict().get("ans2")
            if method in ("answer_label", "zh_answer") and not _BOXED.search(ans):
                ans = _cut_sentence(ans)
            candidates.append((last.start(), ans, method))
    return candidates


def _looks_like_answer(line: str) -> bool:
    """A short line that is only an answer: a letter, ``(C) 145°``, a number with unit, a short LaTeX value."""
    if len(line) > 40 or not line:
        return False
    if re.fullmatch(r"[(（]?[A-H][)）]?(?:[.:：)][^\n]{0,36})?", line):
        return True
    return to_number(line) is not None


def extract_answer(response: str) -> Extraction:
    """The last stated final answer in ``response`` (see the module docstring for the rules)."""
    if not isinstance(response, str) or not response.strip():
        return Extraction(None, "none")
    text = response[-TAIL_CHARS:]
    # A reasoning model's answer follows its thinking: look after the last </think> first.
    think_end = text.rfind("</think>")
    regions = [text[think_end + len("</think>") :], text] if think_end >= 0 else [text]
    for region in regions:
        candidates = _marker_candidates(region)
        while candidates:
            _, ans, method = max(candidates, key=lambda c: c[0])
            cleaned = _strip_wrappers(ans)
            if cleaned:
                return Extraction(cleaned[:MAX_ANSWER_CHARS], method)
            candidates = [c for c in candidates if c[2] != method]  # an empty \boxed{}: try the next marker

    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    last = _strip_wrappers(lines[-1]) if lines else ""
    if _looks_like_answer(last):
        return Extraction(last, "bare")
    # The concluding sentence of the last line: "... = 145°。所以∠BOC=145°" / "... Thus x = 5."
    sentences = re.split(r"[。！!；;]|\.(?:[ \t]|$)", lines[-1].rstrip(" \t.。!！")) if lines else []
    last_sentence = next((s.strip() for s in reversed(sentences) if s.strip()), "")
    if _CONCLUSION.match(last_sentence):
        m = _CONCLUSION_VALUE.search(last_sentence)
        if m:
            value = _strip_wrappers(_cut_sentence(m.group("ans")))
            value = re.sub(r"(?i)^(?:option|choice)[ \t]{1,4}", "", value)
            if _looks_like_answer(value):
                return Extraction(value, "conclusion")
    return Extraction(None, "none")


# ---------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------
_UNIT_WORDS = (
    r"square[ \t]units|sq\.?[ \t]?units|units?|inches|inch|in|feet|foot|ft|yards?|yd|miles?|mi|meters?|metres?|"
    r"centimeters?|kilometers?|millimeters?|km|cm|mm|dm|m|degrees?|deg|radians?|rad|seconds?|minutes?|hours?|"
    r"s|h|kg|g|海里|平方厘米|平方米|平方千米|立方厘米|立方米|千米|厘米|分米|毫米|米|度|秒|分钟|小时|个|元|°"
)
_UNIT_TAIL = re.compile(
    r"(?:\\,|[ \t~])*(?:\\(?:text|mathrm)\{[ \t]*)?(?:%s)(?:\^?\{?[23]\}?\^?|[²³])?\}?[ \t.]*$" % _UNIT_WORDS, re.I
)
_DEGREE = re.compile(r"\^\{?\\circ\}?|\\circ|\\degree|°|º|\^°\^?")
_LHS = re.compile(r"^[^=≈]{0,24}[=≈]")
_LHS_OK = re.compile(
    r"^[ \t]*(?:m|\\mathrm\{m\})?[ \t]*(?:\\angle|∠|\\overline|\\widehat|arc)?[ \t]*"
    r"[A-Za-z][A-Za-z0-9_{}' \t]{0,12}[ \t]*$"
)
_TOKEN = re.compile(r"[ \t]*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>sqrt|frac|pi)|(?P<op>\*\*|[-+*/^()]))")


def _latex_to_plain(text: str) -> str:
    s = text.strip().strip("$").strip()
    s = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]{0,200})\}", r"\1", s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "").replace("\\;", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cdot", "*").replace("\\times", "*")
    s = s.replace("×", "*").replace("·", "*").replace("÷", "/").replace("\\div", "/").replace("−", "-")
    s = s.replace("\\pi", "pi").replace("π", "pi").replace("\\sqrt", "sqrt").replace("√", "sqrt")
    s = s.replace("\\frac", "frac").replace("{", "(").replace("}", ")")
    return s


def to_number(text: str) -> float | None:
    """The numeric value of an answer such as ``"140°"``, ``"4\\sqrt{2} cm"``, ``"\\frac{3}{2}"``, ``"x = 2π"``.

    Returns None for anything that is not a single arithmetic value (words, equations, intervals, several values).
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ANSWER_CHARS:
        return None
    s = text.strip()
    m = _LHS.match(s)
    if m and _LHS_OK.match(s[: m.end() - 1]):  # "x = 5", "m∠ABC = 40°", "AB ≈ 5.66": the value is the right side
        s = s[m.end() :]
    s = _DEGREE.sub("", s)
    s = s.rstrip(" \t.。")
    for _ in range(3):  # "5 cm^2", "12 square units", "3米"
        stripped = _UNIT_TAIL.sub("", s)
        if stripped == s or not stripped.strip():
            break
        s = stripped
    s = s.strip()
    if s.endswith("%") or s.endswith("\\%"):
        s = s.rstrip("%").rstrip("\\")
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):  # 1,000
        s = s.replace(",", "")
    s = _latex_to_plain(s)
    s = re.sub(r"frac(\d)(\d)", r"frac(\1)(\2)", s)  # \frac12
    s = re.sub(r"sqrt(\d+(?:\.\d+)?)", r"sqrt(\1)", s)  # √3
    return evaluate_expression(s)


def evaluate_expression(s: str) -> float | None:
    """The value of plain arithmetic: numbers, ``+ - * /``, ``^`` or ``**``, parentheses, ``sqrt``, ``frac``, ``pi``
    and implicit products (``4sqrt(2)``, ``2pi``); None for anything else. No ``eval``.

    GeoSynth checks its solution steps with this, so steps and answers are read by one parser.
    """
    tokens = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            if s[pos:].strip():
                return None
            break
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    if not tokens:
        return None
    try:
        parser = _Parser(tokens)
        value = parser.expr()
        if parser.i != len(tokens):
            return None
    except (_ParseError, ZeroDivisionError, OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


class _ParseError(Exception):
    pass


class _Parser:
    """Recursive descent over number/name/operator tokens.

    expr := term (± term)*; term := unary ((*|/|implicit) unary)*; unary := ±unary | power; power := atom (^ unary)?
    """

    def __init__(self, tokens):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def _take(self, value):
        if self._peek()[1] != value:
            raise _ParseError(value)
        self.i += 1

    def expr(self):
        self.depth += 1
        if self.depth > 50:
            raise _ParseError("nesting")
        value = self.term()
        while self._peek()[1] in ("+", "-"):
            op = self._peek()[1]
            self.i += 1
            value = value + self.term() if op == "+" else value - self.term()
        self.depth -= 1
        return value

    def term(self):
        value = self.unary()
        while True:
            kind, tok = self._peek()
            if tok in ("*", "/"):
                self.i += 1
                rhs = self.unary()
                value = value * rhs if tok == "*" else value / rhs
            elif kind in ("num", "name") or tok == "(":  # implicit product: 4sqrt(2), 2pi, 3(x)
                value = value * self.power()
            else:
                return value

    def unary(self):
        tok = self._peek()[1]
        if tok in ("+", "-"):
            self.i += 1
            return -self.unary() if tok == "-" else self.unary()
        return self.power()

    def power(self):
        base = self.atom()
        if self._peek()[1] in ("^", "**"):
            self.i += 1
            exponent = self.unary()
            if abs(exponent) > 64 or (base < 0 and exponent != int(exponent)):
                raise _ParseError("exponent")
            return base**exponent
        return base

    def atom(self):
        kind, tok = self._peek()
        if kind == "num":
            self.i += 1
            return float(tok)
        if tok == "pi":
            self.i += 1
            return math.pi
        if tok == "sqrt":
            self.i += 1
            arg = self.atom()
            if arg < 0:
                raise _ParseError("sqrt")
            return math.sqrt(arg)
        if tok == "frac":
            self.i += 1
            num = self.atom()
            den = self.atom()
            return num / den
        if tok == "(":
            self.i += 1
            value = self.expr()
            self._take(")")
            return value
        raise _ParseError(f"unexpected {tok!r}")


def _decimals(text: str) -> int | None:
    """Decimal places written in a plain decimal number ("18.80" -> 2); None for non-plain numbers."""
    m = re.search(r"(?<![\d.])\d+\.(\d+)(?![\d.])", text)
    return len(m.group(1)) if m and to_number(text) is not None and "sqrt" not in _latex_to_plain(text) else None


def normalize_text(text: str) -> str:
    """Canonical text for comparing non-numeric answers (equations, words): no spaces, no $, unified LaTeX."""
    s = _latex_to_plain(_DEGREE.sub("", text)).lower()
    s = re.sub(r"\^\(([^()]{1,20})\)", r"^\1", s)  # x^(2) -> x^2
    s = re.sub(r"[\s$]", "", s)
    return s.rstrip(".。")


def values_equal(pred: str, gold: str, answer_type: str = "text", precision: int | None = None) -> tuple[bool, str]:
    """Whether two answer values are the same, with a reason. Numbers compare by value (units and ° ignored)."""
    p, g = to_number(pred), to_number(gold)
    if p is not None and g is not None:
        if answer_type == "integer" and precision is None:
            ok = abs(p - round(p)) < 1e-6 and round(p) == round(g)
            return ok, f"{_fmt(p)} {'=' if ok else '≠'} {_fmt(g)} (integer)"
        if precision is not None:
            ok = round(p, precision) == round(g, precision)
            return ok, f"{_fmt(p)} {'=' if ok else '≠'} {_fmt(g)} at precision {precision}"
        if math.isclose(p, g, rel_tol=1e-6, abs_tol=1e-9):
            return True, f"{_fmt(p)} = {_fmt(g)}"
        # A rounded answer to an exact gold (5.66 for 4√2), or a more precise answer to a rounded gold (18.79 for
        # 18.8): equal when one is the other rounded to the places it shows.
        for shown, exact in ((pred, g), (gold, p)):
            places = _decimals(shown)
            if places is not None and abs(to_number(shown) - exact) <= 0.5 * 10**-places + 1e-9:
                return True, f"{_fmt(p)} = {_fmt(g)} to {places} decimal places"
        return False, f"{_fmt(p)} ≠ {_fmt(g)}"
    if (p is None) != (g is None) and answer_type in ("integer", "float"):
        return False, f"{pred!r} is not a number" if p is None else f"gold {gold!r} is not a number"
    ok = normalize_text(pred) == normalize_text(gold)
    return ok, f"text {pred!r} {'matches' if ok else 'differs from'} {gold!r}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# ---------------------------------------------------------------------------------------------------------------
# Letters and judging
# ---------------------------------------------------------------------------------------------------------------
_LETTER_HEAD = re.compile(
    r"^(?:(?:option|choice|选项)[ \t]{0,4})?[(（\[]?(?P<l>[A-H])[)）\]]?(?![A-Za-z0-9])"
    r"(?P<rest>[ \t]{0,4}(?:[.:：、)）][^\n]*|))$",
    re.I,
)
_LETTER_LIST = re.compile(
    r"^[(（]?[A-H][)）]?(?:[ \t]{0,4}(?:,|，|、|and|和|&|/|[ \t])[ \t]{0,4}[(（]?[A-H][)）]?){1,7}$"
)


def parse_letters(answer: str, letters: str) -> str | None:
    """The choice letter(s) an answer names ("C", "(C) 145°", "option c", "C and D"), or None."""
    if not letters:
        return None
    s = answer.strip()
    m = _LETTER_HEAD.match(s)
    if m:
        letter = m.group("l").upper()
        # A lower-case letter counts only after "option"/"choice": "a" alone is an article, not a choice.
        if m.group("l").islower() and not re.match(r"(?i)(?:option|choice|选项)", s):
            return None
        return letter if letter in letters else None
    if _LETTER_LIST.match(s) or re.fullmatch(r"[A-H]{2,8}", s):
        found = "".join(sorted(set(re.findall(r"[A-H]", s))))
        return found if all(c in letters for c in found) else None
    return None


def match_choices(value: str, choices: list[str]) -> str:
    """The letters of the choices whose value equals ``value`` (usually one; "" when none)."""
    return "".join(LETTERS[i] for i, choice in enumerate(choices) if values_equal(value, choice)[0])


def judge(response: str, problem: Problem, protocol: str = "choice") -> Verdict:
    """Judge a raw model response against ``problem``'s gold answer.

    ``protocol="choice"`` (G-LLaVA's GeoQA scoring): a choice problem is right when the answer names the gold letter,
    directly or through the text of the gold choice. ``protocol="value"`` (R1-V's scoring): the answer's value,
    a named letter being replaced by its choice text, must equal the gold value.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if not isinstance(response, str) or not response.strip():
        return Verdict(False, "no_answer", None, None, "none", "empty response")
    ext = extract_answer(response)
    if ext.answer is None:
        return Verdict(False, "no_answer", None, None, ext.method, "no final answer found in the response")
    answer, letters = ext.answer, problem.letters
    letter = parse_letters(answer, letters)
    via = "named"
    if letter is None and letters:
        letter = match_choices(answer, problem.choices) or None
        via = "by its text"
    gold_letter = problem.answer_letter

    if protocol == "choice" and gold_letter is not None:
        if letter is None:
            return Verdict(False, "wrong", answer, None, ext.method, f"{answer!r} matches none of the choices")
        if letter == gold_letter or (len(letter) > 1 and via == "by its text" and gold_letter in letter):
            # Several choices with the same value as the answer: the gold one is among them, so the answer is right.
            return Verdict(
                True,
                "correct",
                answer,
                gold_letter,
                ext.method,
                f"choice {gold_letter} {via} matches gold {gold_letter}",
            )
        return Verdict(False, "wrong", answer, letter, ext.method, f"choice {letter} {via}, gold is {gold_letter}")

    gold = problem.gold_value
    if gold is None:  # multi-answer letter gold without a value
        ok = letter == gold_letter
        return Verdict(
            ok, "correct" if ok else "wrong", answer, letter, ext.method, f"letters {letter} vs gold {gold_letter}"
        )
    value = problem.choice_text(letter) if letter is not None and len(letter) == 1 and via == "named" else answer
    ok, why = values_equal(value, gold, problem.answer_type if not letters else "text", problem.precision)
    if letter is not None and via == "named":
        why = f"choice {letter} = {value!r}: {why}"
    return Verdict(ok, "correct" if ok else "wrong", answer, letter, ext.method, why)
