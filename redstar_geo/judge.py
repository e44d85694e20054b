"""The answer judge: extract the final answer from a (long) response and judge it against a problem's gold answer.

One module of pure functions, used by trace verification, evaluation and rewards alike::

    from redstar_geo.judge import extract_answer, judge

    extract_answer("... so angle C = 40°. Answer: A")      # Extraction(answer="A", method="answer_label")
    v = judge(response, problem)                           # problem: redstar_geo.schema.Problem
    v.correct, v.status, v.extracted, v.letter, v.reason   # status: "correct" | "wrong" | "no_answer"

Extraction takes the *last* answer statement, looked for after the last ``</think>`` first: ``\\boxed{}``,
``<answer>…</answer>`` (closed or not), ``Answer: X``, "the answer is (option) C", "the correct option letter is
(D)", "the closest option is B", "(C) is correct", "this matches option C", "I choose D", ``故选C`` / ``答案是…`` /
``答案选项为(D)``. A statement that only looks like one is passed over for an earlier one: a question ("is the answer
C?"), a verdict ("the answer is consistent"), prose with no value, the list of choices echoed back, a computation
cut off mid-way. One that hedges ("either B or C") ends the search: the response committed to nothing. Without any
answer statement, only the response's ending counts: a last line that is just an answer (``C``, ``145°``, ``angle
CDB = 55°``), a conclusion ("Therefore, ∠CED = 140°.", "…, so x = 5", ``∴∠BOC=145°``) or a last statement of one value
("The perimeter of ABCD is 24."); otherwise the answer is "no answer" rather than a guess. When a model invents a
new "Question: …" after answering and answers that too, only the text before the invented question counts.

Equivalence understands letters A-H, a letter and its choice text in both directions (a letter whose stated value is
another choice's is wrong, with a reason saying they disagree), numbers with units and degree signs, labels
(``r = 5``, ``Area = 9π cm²``), equation chains (``90 - 40 = 50°``: the last right-hand side), ratios (``1:4``),
fractions, LaTeX (``\\frac``, ``\\sqrt``, ``\\pi``, ``√{3}``), Unicode (``²``, ``½``), full-width characters and
precision. Numbers are evaluated by a small recursive-descent parser (no ``eval``, no sympy).

Cost: answer phrases are found by walking back from the end of the response trigger word by trigger word ("answer",
"option", "选", ...; ``bytes.rfind``, not a regex scan), trying each phrase pattern only where its trigger stands,
and at most a fixed number of statements are examined; a response is read from its last ``TAIL_CHARS``. So a 1 MB
response or a 100k-character repetition loop costs about what a short response does. A response ending in a
``\\boxed{}`` is answered without that walk (no trigger word after the box); the patterns searched back from a
trigger are searched only after the last character their match cannot hold; captured answers and value comparisons
are remembered (answers repeat). ``tests/test_judge_speedups.py`` checks each shortcut against the search it replaces.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from redstar_geo.schema import LETTERS, Problem

# Final answers sit at the end of a response. Scanning only the tail bounds the cost on enormous (1 MB) responses;
# 32k characters is longer than the part after the last answer statement in any realistic Long-CoT trace.
TAIL_CHARS = 32_000
# At most this many answer statements, and trigger words ("answer", "option", "选", ...), are examined, latest first:
# a repetition loop of "Answer: Answer: ..." must not cost a check per repetition.
MAX_CANDIDATES = 40
MAX_TRIGGERS = 300
# The ending of a response (its last statement) is read from the last ENDING_CHARS of its last line.
ENDING_CHARS = 600
MAX_ANSWER_CHARS = 300
PROTOCOLS = ("choice", "value")

# Full-width ASCII (ＡＢＣ，０１２，（）：) as models writing Chinese produce it, and the ideographic space.
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


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
_LINE = r"(?:[ \t]{0,8}\n){0,2}[ \t*_#>]{0,8}(?P<ans>[^\n]{1,%d})" % MAX_ANSWER_CHARS
_COPULA = r"(?:is|are|would[ \t]{1,4}be|should[ \t]{1,4}be|will[ \t]{1,4}be|must[ \t]{1,4}be)(?![a-z])"
# Adjectives of "the ___ option is B": a fixed list, so "the second option is 60°" (a description) is no answer.
_OPTION_ADJECTIVE = (
    r"(?:correct|right|best|closest|nearest|final|only|appropriate|suitable|matching|valid|"
    r"most[ \t]{1,4}(?:appropriate|likely|suitable|reasonable|accurate))"
)
# Each answer phrase starts at a trigger word (ASCII ones case-insensitive). The response is walked back from its end
# trigger by trigger (found with bytes.rfind, far faster than scanning with the patterns) and each phrase pattern is
# tried only where its trigger stands, so a response costs the same whatever its length before the last answer.
_ZH_SELECT_LEAD = re.compile(
    r"(?:故|因此|所以|应|应该|则|即|可|我|因而|从而|只能|∴|本题|此题)(?:本题|此题|应|应该)?[ \t*]{0,4}$"
)
_SENTENCE_START = re.compile(r"(?:^|[\n。，,.;；:：!！])[ \t*]{0,4}$")
_NAMES_LEAD = re.compile(
    r"(?i)(?<![a-z])(?:match(?:es)?|corresponds?[ \t]{1,4}to|which[ \t]{1,4}is|that[ \t]{1,4}is|this[ \t]{1,4}is|"
    r"it[ \t]{1,4}is|go[ \t]{1,4}with|going[ \t]{1,4}with|i\.?e\.?,?|namely|which[ \t]{1,4}are|are)[ \t]{1,4}$"
)
_OPTION_LEAD = re.compile(r"(?i)(?<![a-z])(?:the|my|" + _OPTION_ADJECTIVE + r")[ \t]{1,4}$")
_LABEL_TAIL = _GAP + r"(?:" + _COPULA + r"[ \t]{0,4}[:：]?|[:：=–—])" + _GAP + _LINE
# "(C) 145° is the correct answer", "Therefore, C is the right option", "Hence, (C) is correct": the answer first.
_IS_THE_LEAD = re.compile(
    r"(?:^|(?<=[\n.;:!?,，。]))[ \t*]{0,4}(?:(?i:therefore|thus|so|hence|clearly|then)[ \t,]{1,4})?"
    r"(?P<ans>[^\n.;:!?,，。=]{1,40}?)[ \t*]{0,4}(?i:is|are|would[ \t]be|must[ \t]be|should[ \t]be)[ \t]{1,4}"
    r"(?i:the[ \t]{1,4})?(?i:(?:correct|right|final|best|only)[ \t]{1,4})?$"
)
# "if ..., the answer would be X" / "in that case the answer would be X" within the same sentence
_HYPOTHETICAL_VERB = re.compile(r"(?i)(?<![a-z])(?:would|could|might|were)(?![a-z])")
_CONDITION = re.compile(
    r"(?i)(?<![a-z])(?:if|suppose|supposing|assuming|in[ \t]that[ \t]case|alternatively|otherwise|were)(?![a-z])"
    r"[^.!?。\n]*$"
)
_IS_THE_ANSWER = ("is_the_answer", re.compile(r"(?:answer|option|choice)(?![a-z])", re.I), _IS_THE_LEAD)
# (method, pattern matched at the trigger, pattern the text just before the trigger must match, or None)
_PHRASES: dict[str, list[tuple[str, re.Pattern, re.Pattern | None]]] = {
    "answer": [
        # "Answer: C", "the (final / correct) answer is C", "answer choice: (B)", "The answers are C and D"
        (
            "answer_label",
            re.compile(
                r"answers?(?:[ \t]{1,4}(?:choice|option)|[ \t]{1,4}(?:to|for)[ \t]{1,4}(?:this|the)[ \t]{1,4}"
                r"(?:question|problem))?" + _LABEL_TAIL,
                re.I,
            ),
            None,
        ),
        _IS_THE_ANSWER,
    ],
    "correct": [
        (
            "is_the_answer",
            re.compile(r"correct(?:[ \t]{1,4}(?:answer|option|choice))?[ \t*]{0,4}(?:[.!。,]|$)", re.I | re.M),
            _IS_THE_LEAD,
        )
    ],
    "option": [
        # "The correct option letter is (D)", "the closest option is B", "Correct option: C", "option letter: D"
        ("answer_label", re.compile(r"(?:options?|choices?)(?:[ \t]{1,4}letter)?" + _LABEL_TAIL, re.I), _OPTION_LEAD),
        # "This matches option C.", "which corresponds to choice (B)", "I'd go with option D", "i.e., options A and C"
        (
            "answer_label",
            re.compile(
                r"(?:options?|choices?)[ \t]{0,4}"
                r"(?P<ans>\(?[A-H]\)?(?:[ \t]{0,4}(?:,|and|&)[ \t]{0,4}\(?[A-H]\)?){0,7})(?![A-Za-z0-9])",
                re.I,
            ),
            _NAMES_LEAD,
        ),
        ("answer_label", re.compile(r"(?:option|choice)[ \t]{1,4}letter" + _LABEL_TAIL, re.I), None),
        (
            "option_selected",
            re.compile(
                r"(?:option|choice)[ \t]{1,4}\(?(?P<ans>[A-H])\)?(?![A-Za-z0-9])[^\n.;:!?]{0,20}?[ \t]{1,4}is"
                r"[ \t]{1,4}(?:selected|correct|right|the[ \t]{1,4}(?:(?:correct|right|best)[ \t]{1,4})?"
                r"(?:answer|one))",
                re.I,
            ),
            None,
        ),
        _IS_THE_ANSWER,
    ],
    # "I choose D." / "so we select option B because ...", but not "select point D on AB" in a later check.
    "choos": [
        (
            "answer_label",
            re.compile(
                r"(?:[Cc]hoose|[Ss]elect|[Pp]ick|[Gg]o[ \t]with)[ \t]{1,4}(?:(?:[Oo]ption|[Cc]hoice|[Aa]nswer)"
                r"[ \t]{1,4}\(?(?P<ans>[A-H])\)?(?![A-Za-z0-9])|\(?(?P<ans2>[A-H])\)?[ \t]{0,4}(?:[.。!]|$))",
                re.M,
            ),
            None,
        )
    ],
    "选": [
        (
            "zh_answer",
            re.compile(r"选(?:项[为是]?|择)?[ \t]{0,4}[:：]?" + _LINE),
            _ZH_SELECT_LEAD,
        ),  # 故选D, 因此选项为(D)
        ("zh_answer", re.compile(r"选[ \t]{0,2}(?=[(（]?[A-HＡ-Ｈ](?![A-Za-z]))" + _LINE), _SENTENCE_START),  # 选D
        ("zh_answer", re.compile(r"选(?:项[为是]|择[为是]?(?=[ \t:：(]{0,4}[A-H]))[ \t]{0,4}[:：]?" + _LINE), None),
        ("zh_answer", re.compile(r"选项[ \t]{0,4}\(?(?P<ans>[A-H])\)?[ \t]{0,4}(?:正确|符合|是正确的)"), None),
    ],
    "答": [
        # 答案是C, 故答案为：140°, 答案选项为(D), 答：∠BOC=145°
        ("zh_answer", re.compile(r"答案(?:选项[为是]?|(?:应该|应当|应)?[为是选]{0,2})[ \t]{0,4}[:：]?" + _LINE), None),
        ("zh_answer", re.compile(r"答[:：]" + _LINE), None),
    ],
}
_PHRASES["choice"] = _PHRASES["option"]
_PHRASES["select"] = _PHRASES["pick"] = _PHRASES["go with"] = _PHRASES["choos"]
_ASCII_TRIGGERS = [word.encode() for word in _PHRASES if word.isascii()]
_CJK_TRIGGERS = [word for word in _PHRASES if not word.isascii()]
_BOXED = re.compile(r"\\(?:boxed|fbox)[ \t]{0,4}\{")
_BRACE = re.compile(r"[{}]")
_ANSWER_OPEN = "<answer>"
# An answer tag's body ends at its closing tag, even one missing its ">", or at the next tag.
_ANSWER_BODY_END = re.compile(r"</answer|<answer>|</think>|<think>|<\|")
# Where a captured sentence stops: "the answer is C because ..." -> "C".
_SENTENCE_END = re.compile(
    r"(?:[.。!！?？](?:[ \t]|$)|[,，;；](?:[ \t]|$)|[。；，？！]|[ \t]+(?:because|since|as|which|so|and[ \t]+the|"
    r"with|from|for|where|when|if|but)(?![a-z]))",
    re.I,
)
# What follows "the answer is" when it is not an answer: a verdict on one, or the start of an explanation.
_NOT_AN_ANSWER = re.compile(
    r"(?i)^(?:that|not|to|in|on|at|of|about|how|what|why|whether|which|where|when|as[ \t]follows|below|above|"
    r"the[ \t]following|following|correct|incorrect|consistent|inconsistent|wrong|right|valid|invalid|clear|"
    r"obvious|unclear|uncertain|unknown|none|missing|given|determined|calculated|found|obtained|derived|shown|"
    r"based|yet|now|here|there|this|these|those|it|we|still|also|indeed|already|confirmed|verified|reasonable|"
    r"plausible|same|different|close|near|actually|being|definitely[ \t]not|choice|option|letter|either|neither|"
    r"unable|impossible|cannot|can't|somewhere|between)(?![A-Za-z])"
    r"|^(?:正确|错误|不对|对的|如下|不是|无误|一致)"
)
# The last answer statement hedges ("either (A) or (C)", "4 or 8", "可能是B或者C"): the response commits to nothing.
_UNDECIDED = re.compile(
    r"(?i)^(?:either|neither|[^\n]{0,12}?(?:(?<![A-Za-z])[(]?[A-H][)]?|-?\d[\d.]*[°%]?)[ \t]{0,4}(?:or|或者|或|还是)"
    r"[ \t]{0,4}(?:[(]?[A-H](?![A-Za-z])|-?\d))"
)
_NOT_THIS_BUT = re.compile(
    r"(?i)[ \t*]{0,4}not[ \t]+[^,;.\n]{1,40}[,;][ \t]{0,4}(?:but[ \t]+|rather[ \t]+)?(?:it'?s[ \t]+|it[ \t]+is[ \t]+)?"
    r"(?P<ans>\S[^\n]{0,%d})" % MAX_ANSWER_CHARS
)
# Words before an answer: "the answer is likely (B)", "... should be approximately 5.66", "... is option C".
_LEADING_WORDS = re.compile(
    r"(?i)^(?:(?:likely|probably|clearly|definitely|indeed|therefore|thus|then|simply|just|actually|exactly|"
    r"approximately|about|around|roughly|both|options?|choices?|letters?)(?![A-Za-z])[ \t:：,]{0,4}){1,3}"
)
# Three or more values in a row ("35°, 45°, 55°, 65°"): the choices restated.
_VALUE_LIST = re.compile(
    r"[ \t*(]{0,4}-?[\d.√π]+[^,，、;\n]{0,8}(?:[,，、][ \t]{0,4}(?:and[ \t]+|or[ \t]+)?-?[\d.√π]+[^,，、;\n]{0,8}){2,}"
)
# A list of the choices ("A. 40° B. 60°" / "(A) 40 (B) 60"), which restates the question instead of answering it.
_CHOICE_LABEL = re.compile(r"(?:^|(?<=[\s,;]))[(\[]?([A-H])(?:[)\]][ \t]{0,4}|[.:][ \t]{0,4})(?=\S)")
# A model that answers and then invents the next exercise ("Question: ...", "Hint: ...") and answers that too.
# (Patterns that each start with a fixed string, which the regex engine finds fast: a line break, or the word of an
# inline "... . Question: ...", the sentence end before it checked behind the word. A pattern starting with a
# character class would be tried character by character, several times slower on a long response.)
_INVENTED = re.compile(
    # (The lookahead is the alternatives' first characters: a line break before none of them fails at once.)
    r"\n[ \t>#*]{0,8}(?=[QPHUIEFTuh<问题练例])"
    r"(?:(?:Question|QUESTION|Q|Problem|Hint|Human|User|USER|Instruction|Exercise|Example|"
    r"Practice(?: problem)?|Follow-up(?: question)?|问题|题目|练习|例题)[ \t]{0,4}\d{0,3}[ \t*]{0,4}[:：]"
    r"|(?:Here's|Here is|Try)[^\n]{0,40}(?:similar|another|practice|follow-up)[^\n]{0,30}"
    r"(?:problem|question|exercise)|(?:<\|im_start\|>)?(?:user|human|USER|Human)[ \t]*\n)"  # a chat turn leaked
)
_INVENTED_INLINE = {
    word: re.compile(rf"{word}(?<=[.。!?] {word})[ \t]{{0,4}}\d{{0,3}}[ \t]{{0,4}}[:：]")
    for word in ("Question", "Hint", "问题")
}
_TAGS = re.compile(r"</?(?:think|answer)>?|<\|[a-z_]{1,20}\|>|</?s>|<eos>|<end_of_turn>")
# A conclusion inside the last sentence: "..., so ∠CED = 140°", "∵AB=BC，∴∠ABC=60°".
_CONCLUSION_INSIDE = re.compile(
    r"(?:[,，;；:：][ \t]{0,4}(?:(?i:so|thus|therefore|hence)(?![a-z])|所以|因此|故|从而)|∴|(?:由|根据)[^,，。]{1,20}"
    r"(?:可得|得|可知))[ \t,，]{0,4}"
)
_CONCLUSION_WORD = re.compile(
    r"(?i)^[ \t*#>-]{0,8}(?:therefore|thus|so|hence|in[ \t]conclusion|consequently|all[ \t]in[ \t]all|finally|"
    r"in[ \t]summary|overall|as[ \t]a[ \t]result|this[ \t]means|we[ \t](?:get|have|find|obtain)|which[ \t]gives)"
    r"(?![a-z])|^[ \t*#>-]{0,8}(?:所以|因此|故|综上|即|则|得|可得|从而|∴)"
)
# The verbs of "<quantity> is <value>"; the value is what follows the last one.
_STATEMENT_VERB = re.compile(
    r"(?i)(?:=|≈|(?<![a-z])(?:is[ \t]{1,4}equal[ \t]{1,4}to|is|equals|are|measures|would[ \t]be|will[ \t]be|"
    r"must[ \t]be|should[ \t]be|comes[ \t]out[ \t]to|works[ \t]out[ \t]to|comes[ \t]to|turns[ \t]out[ \t]to[ \t]be|"
    r"has[ \t]{1,4}(?:an?[ \t]{1,4})?(?:length|measure|value|area|perimeter|radius|height)(?:[ \t]{1,4}of)?)(?![a-z])"
    r"|约等于|等于|约为|为|是)"
)
# A number in a statement's subject: the statement would state two values ("BC is 12, so AC is 13").
_SUBJECT_NUMBER = re.compile(r"\d{2,}|\d\.\d|(?<![A-Za-z_∠\\{])\d(?![A-Za-z_}])")
# Where a clause ends inside a sentence: "AB is 5, so BC = 10" states BC after the break.
_CLAUSE_BREAK = re.compile(
    r"[,;，；]|(?i:(?<![a-z])(?:so|and|then|thus|hence|therefore|since|because|which)(?![a-z]))"
)
_EXPLANATION = re.compile(r"(?i)[ \t]+(?:because|since)[ \t]|,[ \t]*(?:which|because|since|as)[ \t]")
_WORD = re.compile(r"[a-z]{3}|[A-Z][a-z]{2}|[\u4e00-\u9fff]")
_MATH_NAMES = re.compile(r"\\[A-Za-z]+|(?<![A-Za-z])(?:sin|cos|tan|cot|sec|csc|log|ln|sqrt|frac)(?![a-z])")
_MATH_TEXT = re.compile(r"[0-9A-Za-z \t\\{}()\[\]^_+\-*/=.,<>≤≥|√π∠°'−×÷²³½]{1,80}")
# An unevaluated computation: numbers joined by + - × ÷ (no √, π or fraction, which exact answers have).
_COMPUTATION = re.compile(r"\d[°%]?[ \t]{0,4}(?:[-+*×÷−]|\\times|\\cdot|\\div)[ \t]{0,4}[\d(]")
_EXACT_FORM = re.compile(r"sqrt|√|pi|π|frac|\^")


# Patterns of the helpers below, compiled once (re.sub(pattern, ...) looks each up in re's cache on every call).
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)[ \t]*\{([^{}]{0,200})\}")
_LATEX_SPACE = re.compile(r"\\(?:[ ,;:!]|q?quad(?![A-Za-z]))")
_TRAILING_PUNCTUATION = re.compile(r"[ \t]*[.。!！;；,，:：]+$")
_OPTION_WORD = re.compile(r"(?i)^[(（]?(?:option|choice|选项)[)）]?[ \t]{0,4}(?=[(（]?[A-H](?![A-Za-z0-9]))")
_EQUALS = re.compile(r"[=≈]")
_AT_WORD = re.compile(r"(?i)^(?:located[ \t]+)?at[ \t]+")
_SIZE_WORD = re.compile(r"(?i)[ \t]+(?:high|tall|long|wide|deep|away|in[ \t]length)$")
_TRAILING_PARENTHESES = re.compile(r"[ \t]*\([^()]{1,60}\)$")
_MATH_SIGN = re.compile(r"[=^\\()\[\]²³]")
_OPEN_END = re.compile(r"(?:[-+*/=−×÷^(]|\\[A-Za-z]+)[ \t]*$")
_LONG_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_MARK = re.compile(r"\d|\\|[=<>^_√π∠]")
_CLAUSE_SEPARATOR = re.compile(r"[,;，；][ \t]*")
_BARE_LOWER_LETTER = re.compile(r"[(\[]?[a-h][)\]]?\.?")
_ENDING_SENTENCE_END = re.compile(r"[。！!；;]|[.?？](?:[ \t]|$)")
_LINE_MARKUP = re.compile(r"^[ \t*#>-]{0,8}")
_LONE_NUMBER = re.compile(r"(?<![A-Za-z∠_.\d])\d+(?:\.\d+)?")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_BRACKETED_VALUE = re.compile(r"[(\[][^A-Za-z]{1,30}[)\]]")
_DIGIT = re.compile(r"\d")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FRAC_DIGITS = re.compile(r"frac(\d)(\d)")
_SQRT_NUMBER = re.compile(r"sqrt(\d+(?:\.\d+)?)")
_DECIMAL_PLACES = re.compile(r"(?<![\d.])\d+\.(\d+)(?![\d.])")
_ANSWER_LINE = re.compile(r"[(（]?[A-H][)）]?(?:[.:：)][^\n]{0,36})?|[(（]?[a-h][)）]?(?:[)）][^\n]{0,36})?")


def _normalize_text(text: str) -> str:
    """Full-width characters as their ASCII twins ("故选Ｄ" -> "故选D")."""
    return _FULL_WIDTH.sub(_ascii_twin, text) if _FULL_WIDTH.search(text) else text


def _ascii_twin(m: re.Match) -> str:
    c = m.group()
    return " " if c == "\u3000" else chr(ord(c) - 0xFEE0)


def _brace_ends(text: str, start: int) -> dict[int, int]:
    """``{open index: close index}`` of the balanced brace pairs from ``start`` on: one pass over the braces only, so
    a repetition loop of 100k unclosed ``\\boxed{`` costs the same as one."""
    ends, stack = {}, []
    for m in _BRACE.finditer(text, start):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            ends[stack.pop()] = m.start()
    return ends


def _boxed_contents(text: str) -> list[tuple[int, str]]:
    """(start, content) of every closed ``\\boxed{…}``; an unclosed one (cut off) is skipped."""
    found = []
    starts = list(_BOXED.finditer(text))[-MAX_CANDIDATES:]  # only the latest are ever examined
    if starts:
        ends = _brace_ends(text, starts[0].start())
        for m in starts:
            end = ends.get(m.end() - 1)
            if end is not None and end - m.end() <= MAX_ANSWER_CHARS * 4:
                found.append((m.start(), text[m.end() : end]))
    return found


def _last_boxed(text: str) -> tuple[int, str] | None:
    found = _boxed_contents(text)
    return found[-1] if found else None


def _answer_tags(text: str) -> list[tuple[int, str]]:
    """(start, body) of the latest ``<answer>`` tags (at most ``MAX_CANDIDATES``), closed or not, in text order."""
    found, start = [], text.rfind(_ANSWER_OPEN)
    while start >= 0 and len(found) < MAX_CANDIDATES:
        body_start = start + len(_ANSWER_OPEN)
        end = _ANSWER_BODY_END.search(text, body_start, body_start + MAX_ANSWER_CHARS * 4)
        body = text[body_start : end.start() if end else body_start + MAX_ANSWER_CHARS]
        if body.strip():
            found.append((start, body))
        start = text.rfind(_ANSWER_OPEN, 0, start)
    return found[::-1]


def _strip_wrappers(ans: str) -> str:
    """Remove markup around an answer: ``$…$``, ``\\text{}``, ``**``, ``<60>``, quotes, a trailing full stop."""
    s = ans.strip()
    boxed = _last_boxed(s)
    if boxed is not None:
        s = boxed[1]
    elif _BOXED.search(s):  # "\boxed{B = ∠B = ..." cut off by the token limit: no answer was stated
        return ""
    s = _TAGS.sub("", s)
    s = _TEXT_COMMAND.sub(r"\1", s)
    s = _LATEX_SPACE.sub(" ", s)  # LaTeX spacing: "C\ (65^\circ)"
    s = s.replace("**", "").replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = s.strip().strip("$").strip()
    if s.startswith("<") and s.endswith(">"):  # "The final answer is: <60>"
        s = s[1:-1].strip()
    s = s.strip("\"'`“”‘’「」")
    s = _TRAILING_PUNCTUATION.sub("", s)
    # "option D", "(option) D", "choice (D)" -> "D"
    s = _OPTION_WORD.sub("", s)
    return s.strip()


_LETTER_LIST_HEAD = re.compile(
    r"^[ \t]{0,4}[(（]?[A-H][)）]?(?:[ \t]{0,4}(?:,|，|、|and|和|&)[ \t]{0,4}[(（]?[A-H][)）]?){1,7}(?![A-Za-z0-9])"
)


def _cut_sentence(ans: str) -> tuple[str, bool]:
    """The answer part of "C because ..." / "145°, which is ..." / "B. Explanation ..." / "C, D.", and whether that
    part ends in a question mark ("is the answer C?" states nothing)."""
    letters = _LETTER_LIST_HEAD.match(ans)
    if letters:
        return letters.group(0), False
    for m in _SENTENCE_END.finditer(ans):
        head = ans[: m.start()]
        if head.count("(") + head.count("[") > head.count(")") + head.count("]"):
            continue  # a comma inside "(5, 3)" or "[-4, 0)" ends nothing
        return head, m.group().strip()[:1] in ("?", "？")
    return ans, False


def is_computation(value: str) -> bool:
    """Whether ``value`` is arithmetic still to be done (``180° − 30° − 90``), not a stated result (``4√2``, ``3/2``,
    ``x = 90 - 40 = 50``): a response cut off mid-calculation states no answer."""
    rhs = _EQUALS.split(value)[-1]
    return bool(_COMPUTATION.search(rhs)) and not _EXACT_FORM.search(rhs)


def _lists_choices(ans: str) -> bool:
    """ "A. 40° B. 60° C. 120°": the choices restated, not an answer (a letter list "C, D" has no values)."""
    return len({m.group(1) for m in _CHOICE_LABEL.finditer(ans)}) >= 2


def _statement_value(sentence: str, whole: bool) -> str | None:
    """The value a statement "<quantity> is <value>" gives ("The perimeter of ABCD is 24" -> "24"), read after its
    last verb, or after an "is" whose value holds the last "=" ("the equation is x^2 + y^2 = 25"). ``whole``: the
    value must be all that follows (no "..., which ..." after it) and, outside one equation chain
    (``∠C = 180° - 80° - 60° = 40°``), the sentence must hold no other number, so it states exactly one value."""
    if whole:  # an explanation may follow the one value: "... is 90 degrees because it is a right angle"
        head = _EXPLANATION.split(sentence, maxsplit=1)[0]
        sentence = head if _STATEMENT_VERB.search(head) else sentence
    verbs = list(_STATEMENT_VERB.finditer(sentence))[-8:]
    if not verbs:
        return None
    verb = chain_start = verbs[-1]
    if verb.group() in ("=", "≈"):
        word = next((v for v in reversed(verbs[:-1]) if v.group() not in ("=", "≈")), None)
        if word is not None and not _CLAUSE_BREAK.search(sentence, word.end(), verb.start()):
            verb = chain_start = word
        for v in reversed(verbs[: verbs.index(verb)]):  # back along the chain while its sides are formulas
            between = sentence[v.end() : chain_start.start()]
            if v.group() not in ("=", "≈") or _CLAUSE_BREAK.search(between) or _has_words(between):
                break
            chain_start = v
    subject, rest = sentence[: chain_start.start()], sentence[verb.end() :]
    if not subject.strip() or len(subject) > 160:
        return None
    if whole and _SUBJECT_NUMBER.search(_TAGS.sub("", subject)):
        return None
    value = _strip_wrappers(rest if whole else _cut_sentence(rest)[0])
    value = _LEADING_WORDS.sub("", value).strip()  # "approximately 8.25 units", "option C"
    value = _AT_WORD.sub("", value)  # "the vertex is at (2, -2)"
    value = _SIZE_WORD.sub("", value)  # "7.5 meters high"
    if not _looks_like_answer(value):  # "9π square centimeters (about 28.27 cm²)"
        value = _TRAILING_PARENTHESES.sub("", value) or value
    if is_computation(value) or not (_looks_like_answer(value) or _is_math_text(value)):
        return None
    return value


def _is_math_text(value: str) -> bool:
    """A short non-numeric math answer: ``(2, -2)``, ``y = 2x + 1``, ``\\frac{x^2}{81}+\\frac{y^2}{9}=1``."""
    if not _MATH_TEXT.fullmatch(value) or not _MATH_SIGN.search(value):
        return False
    if _OPEN_END.search(value) or value.count("(") != value.count(")"):
        return False  # cut off: "OC = √(5² −", "= \\frac"
    return not _LONG_WORD.search(_MATH_NAMES.sub("", value))


def _has_words(text: str) -> bool:
    """Prose ("the angle is", "sinB的值是"), not a formula: LaTeX commands, function names and point names (``ACB``)
    are no words."""
    return bool(_WORD.search(_MATH_NAMES.sub("", text)))


_HEDGED = object()  # what _clean_candidate returns for a statement that hedges: final, but no answer


@functools.lru_cache(maxsize=8192)
def _clean_candidate(ans: str, method: str) -> str | object | None:
    """The answer a statement gives, None when it gives none (see the module docstring), or ``_HEDGED`` when it
    hedges between answers. Remembered: answers repeat ("B", "140°")."""
    ans = _normalize_text(ans)  # here, not on the whole response: a captured answer is short
    corrected = _NOT_THIS_BUT.match(ans)
    if corrected:  # "the answer is not A, it is C"
        ans = corrected.group("ans")
    if _UNDECIDED.match(_LEADING_WORDS.sub("", ans.strip(" \t*"))):
        return _HEDGED
    if _lists_choices(ans) or (_VALUE_LIST.match(ans) and not _LETTER_LIST_HEAD.match(ans)):
        return None  # "A. 40° B. 60° ...", "the options are 35°, 45°, 55°, 65°": the choices, not an answer
    if method in ("answer_label", "zh_answer") and not _BOXED.search(ans):
        ans, question = _cut_sentence(ans)
        if question:
            return None
    return _clean_answer(ans, method)


@functools.lru_cache(maxsize=8192)
def _clean_answer(ans: str, method: str) -> str | None:
    """The rest of :func:`_clean_candidate`, on the statement's answer part alone (remembered: the part is often the
    same when the statements around it differ)."""
    cleaned = _strip_wrappers(ans)
    cleaned = _LEADING_WORDS.sub("", cleaned).strip() if _LEADING_WORDS.match(cleaned) else cleaned
    if not cleaned or _NOT_AN_ANSWER.match(cleaned):
        return None
    if method in ("answer_label", "zh_answer") and is_computation(cleaned):
        return None  # "the answer is 180° − 30° − 90": cut off mid-calculation
    if method == "is_the_answer" and choice_reference(cleaned) is None and to_number(cleaned) is None:
        return None  # "this value is the answer": what comes first must be a choice or a number
    if to_number(cleaned) is None and choice_reference(cleaned) is None:
        # Prose around the answer: "<answer>所以sinB的值是0.8</answer>", "the final answer is that AB is 10".
        value = _statement_value(cleaned, whole=False)
        if value is not None and _has_words(cleaned.rpartition(value)[0]):
            return value
        if len(cleaned.split()) > 6 and not _MATH_MARK.search(cleaned):
            return None  # an explanation, not an answer
        last_clause = _CLAUSE_SEPARATOR.split(cleaned)[-1]
        if "=" in last_clause and last_clause != cleaned and to_number(last_clause) is not None:
            return last_clause  # "<answer>2x + 10 = 50, x = 20</answer>"
    return cleaned[:MAX_ANSWER_CHARS]


def _triggers(text: str) -> Iterator[tuple[int, str]]:
    """(position, trigger word) of every trigger word in ``text``, latest first."""
    # One byte per character (non-ASCII becomes "?"), so byte offsets are text offsets; bytes.lower() is ASCII-only.
    lowered = text.encode("ascii", "replace").lower()
    heap = []
    for word in _ASCII_TRIGGERS:
        heap.append((-lowered.rfind(word), word.decode(), lowered, word))
    for word in _CJK_TRIGGERS:
        heap.append((-text.rfind(word), word, text, word))
    heap = [entry for entry in heap if entry[0] <= 0]
    heapq.heapify(heap)
    while heap:
        neg, word, haystack, needle = heapq.heappop(heap)
        yield -neg, word
        previous = haystack.rfind(needle, 0, -neg)
        if previous >= 0:
            heapq.heappush(heap, (-previous, word, haystack, needle))


# What the matches of the patterns that end at the end of their window ($) cannot hold: a match starts after the
# window's last such character, so only the rest of the window is searched (several times faster: these patterns
# start with a case-insensitive choice or a lookbehind, tried at every position they are given).
_NOT_IN_MATCH = {_IS_THE_LEAD: "\n.;:!?，。=", _CONDITION: ".!?。\n"}


def _search_to_end(pattern: re.Pattern, text: str, start: int, end: int) -> re.Match | None:
    """``pattern.search(text, start, end)``, the same match, looked for only after the last character in the window
    that no match of ``pattern`` can hold (:data:`_NOT_IN_MATCH`); ``$`` also matches before a line break that ends
    the window, which the match then does not hold."""
    stops = _NOT_IN_MATCH.get(pattern)
    if stops is not None and start < end:
        limit = end - 1 if text[end - 1] == "\n" else end
        start = max(start, max(map(text.rfind, stops, itertools.repeat(start), itertools.repeat(limit))) + 1)
    return pattern.search(text, start, end)


def _phrase_candidates(text: str) -> Iterator[tuple[int, str, str]]:
    """(position, raw answer, method) of the answer phrases in ``text``, latest first."""
    for pos, word in itertools.islice(_triggers(text), MAX_TRIGGERS):
        if word.isascii() and pos > 0 and text[pos - 1].isascii() and text[pos - 1].isalpha():
            continue  # inside a longer word: "nonanswer", "preselect"
        for method, pattern, lead in _PHRASES[word]:
            m = pattern.match(text, pos)
            if m is None:
                continue
            before = _search_to_end(lead, text, max(0, pos - 80), pos) if lead is not None else None
            if lead is not None and before is None:
                continue
            condition = _search_to_end(_CONDITION, text, max(0, pos - 160), pos)
            if condition and _HYPOTHETICAL_VERB.search(text, condition.start(), m.end()):
                continue  # "Alternatively, if 2 is the leg, the answer would be √5": a case weighed, not chosen
            found = {**(before.groupdict() if before else {}), **{k: v for k, v in m.groupdict().items() if v}}
            ans = found.get("ans") or found.get("ans2")  # at the trigger, or before it ("(C) is correct")
            if ans:
                yield pos, ans, method


_PENDING = object()  # a phrase candidate not looked for yet


# Any trigger word as _triggers finds them (ASCII ones in any case, ASCII case folding only: the same as its
# bytes.lower()).
_ANY_TRIGGER = re.compile("|".join(map(re.escape, _PHRASES)), re.IGNORECASE | re.ASCII)


def _trigger_after(text: str, start: int) -> bool:
    """Whether a trigger word (as :func:`_triggers` finds them) starts after ``start``: then an answer phrase may."""
    return _ANY_TRIGGER.search(text, start + 1) is not None


def _from_markers(text: str) -> Extraction | None:
    """The latest answer statement in ``text`` that states an answer: a ``\\boxed{}``, an ``<answer>`` tag or an
    answer phrase, latest first; at most ``MAX_CANDIDATES`` are examined."""
    tagged = [(start, content, "boxed") for start, content in _boxed_contents(text)]
    tagged += [(start, body, "answer_tag") for start, body in _answer_tags(text)]
    tagged.sort(key=lambda c: c[0])
    phrases = _phrase_candidates(text)
    # The latest phrase is looked for only once no box or tag is known to come after every trigger word: a response
    # ending in \boxed{} is answered without a walk through its trigger words.
    phrase = _PENDING
    for _ in range(MAX_CANDIDATES):
        if phrase is _PENDING and (not tagged or _trigger_after(text, tagged[-1][0])):
            phrase = next(phrases, None)
        if tagged and (phrase is None or phrase is _PENDING or tagged[-1][0] >= phrase[0]):
            _, ans, method = tagged.pop()
        elif phrase is not None:
            _, ans, method = phrase
            phrase = next(phrases, None)
        else:
            return None
        cleaned = _clean_candidate(ans, method)
        if cleaned is _HEDGED:
            return Extraction(None, "undecided")  # the last answer statement hedges: no earlier one counts
        if cleaned:
            return Extraction(cleaned, method)
    return None


def _contains(text: str, word: str, tries: int = 8) -> bool:
    """``word in text``, found from the occurrences of its first character when there are few (a search for one
    character is several times faster than for a word)."""
    at = text.find(word[0])
    for _ in range(tries):
        if at < 0:
            return False
        if text.startswith(word, at):
            return True
        at = text.find(word[0], at + 1)
    return word in text


def _drop_invented_question(text: str) -> str:
    """``text`` up to a "Question: ..." the model invented after it had answered (the answer to the invented one is
    not the answer to this one)."""
    starts = [m.start() for m in _INVENTED.finditer(text)]
    for word, pattern in _INVENTED_INLINE.items():
        if _contains(text, word):  # most responses hold none of the words
            starts += [m.start() - 1 for m in pattern.finditer(text)]  # from the space before the word
    for start in sorted(starts)[:3]:
        if _from_markers(text[:start]) is not None:
            return text[:start]
        # An answer the ending states ("所以圆的半径为8.5英寸。\n问题：…\n答案：8") counts when the invented
        # question is answered with a marker of its own, which a restated question at the start would not be.
        if _from_ending(text[:start]).answer is not None and _from_markers(text[start:]) is not None:
            return text[:start]
    return text


def _from_ending(text: str) -> Extraction:
    """The answer an ending states without an answer marker: a last line that is only an answer, or a last
    statement of one value."""
    lines = [ln.strip() for ln in _TAGS.sub("\n", text[-2 * ENDING_CHARS :]).splitlines() if ln.strip()]
    if not lines:
        return Extraction(None, "none")
    if len(lines[-1]) >= 20 and text.count(lines[-1]) >= 3:
        return Extraction(None, "none")  # a repetition loop ends nothing
    one_line = len(lines) == 1
    lines = [_normalize_text(line) for line in lines[-2:]]
    if one_line and len(text) < ENDING_CHARS and _BARE_LOWER_LETTER.fullmatch(lines[0]):
        return Extraction(lines[0].strip("()[].").upper(), "bare")  # the whole response is "b" or "(a)": a choice
    # A last line longer than ENDING_CHARS is read from its end only, and its first sentence seen may be cut.
    cut = len(lines[-1]) > ENDING_CHARS or (one_line and len(text) > 2 * ENDING_CHARS)
    last_line = lines[-1][-ENDING_CHARS:]
    last = _strip_wrappers(last_line)
    if not last:
        return Extraction(None, "none")  # "... so the answer is \boxed{C = 180" cut off by the token limit
    keyword = _CONCLUSION_WORD.match(last)
    if keyword and "=" not in last:  # "Therefore, C." / "So 145°": the rest of the line may be a bare answer
        last = _strip_wrappers(last[keyword.end() :].lstrip(" \t,，:："))
    if len(lines) >= 2 and _CHOICE_LABEL.match(last) and _CHOICE_LABEL.match(lines[-2]):
        return Extraction(None, "none")  # the choice list echoed back, one per line
    if not cut and not (keyword and "=" in last) and _looks_like_answer(last) and not _lists_choices(last):
        return Extraction(None, "none") if is_computation(last) else Extraction(last, "bare")
    # The last statement: "... = 145°。所以∠BOC=145°" / "... Thus x = 5." / "The perimeter of ABCD is 24."
    sentences = [s.strip() for s in _ENDING_SENTENCE_END.split(last_line.rstrip(" \t.。!！*"))]
    sentences = [s for s in sentences if s]
    if not sentences or (cut and len(sentences) == 1):
        return Extraction(None, "none")
    sentence = _LINE_MARKUP.sub("", sentences[-1])
    keyword = _CONCLUSION_WORD.match(sentence)
    inside = list(_CONCLUSION_INSIDE.finditer(sentence))
    conclusion = sentence[keyword.end() :] if keyword else sentence[inside[-1].end() :] if inside else None
    if conclusion is not None:
        conclusion = conclusion.lstrip(" \t,，:：")
        value = _statement_value(conclusion, whole=False) or _only_value(conclusion)
        if value is not None:
            return Extraction(value, "conclusion")
    value = _statement_value(sentence, whole=True)
    if value is not None:
        return Extraction(value, "statement")
    if not cut and "=" in last and _is_math_text(last) and not is_computation(last):
        return Extraction(last, "bare")  # an equation as the answer: "x^2 + y^2 = 25"
    return Extraction(None, "none")


def _only_value(clause: str) -> str | None:
    """The one number a Chinese conclusion without a verb ends with, "所以旗杆高10.8米" -> "10.8米"."""
    numbers = list(_LONE_NUMBER.finditer(clause))
    if len(numbers) != 1 or not _HAN.search(clause):
        return None
    value = clause[numbers[0].start() :].strip()
    return value if to_number(value) is not None else None


def _looks_like_answer(line: str) -> bool:
    """A short line that is only an answer: a letter, ``(C) 145°``, a number with unit, a short LaTeX value."""
    if len(line) > 40 or not line:
        return False
    if _ANSWER_LINE.fullmatch(line) or _LETTER_LIST.match(line):
        return True
    if _BRACKETED_VALUE.fullmatch(line) and _is_math_text(line):  # "(1, -3)", "[-4, 0)"
        return True
    return to_number(line) is not None


def extract_answer(response: str) -> Extraction:
    """The last stated final answer in ``response`` (see the module docstring for the rules)."""
    if not isinstance(response, str) or not response.strip():
        return Extraction(None, "none")
    text = _drop_invented_question(response[-TAIL_CHARS:])
    # A reasoning model's answer follows its thinking: what it states after the last </think>, marked or not, wins
    # over anything inside the thinking.
    think_end = text.rfind("</think>")
    if think_end >= 0:
        after = text[think_end + len("</think>") :]
        found = _from_markers(after) or _from_ending(after)
        if found.answer is not None:
            return found
    return _from_markers(text) or _from_ending(text)


# ---------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------
_UNIT_WORDS = (
    r"square[ \t]units|sq\.?[ \t]?units|units?|inches|inch|in|feet|foot|ft|yards?|yd|miles?|mi|meters?|metres?|"
    r"centimeters?|kilometers?|millimeters?|km|cm|mm|dm|m|degrees?|deg|radians?|rad|seconds?|minutes?|hours?|"
    r"s|h|kg|g|海里|平方厘米|平方米|平方千米|立方厘米|立方米|千米|公里|厘米|公分|分米|毫米|米|英寸|英尺|度|秒|分钟|小时|"
    r"千克|克|个|元|°"
)
_UNIT_TAIL = re.compile(
    r"(?:\\,|[ \t~])*[(]?(?:\\(?:text|mathrm)[ \t]*\{[ \t~]*)?(?:(?:square|sq\.?|cubic)[ \t]{1,4})?(?:%s)"
    r"(?:\^?\{?[23]\}?\^?|[²³])?[ \t]*\}?[)]?[ \t.]*$" % _UNIT_WORDS,
    re.I,
)
_DEGREE = re.compile(r"(?:\*|\\cdot)?[ \t]*(?:\^\{?\\circ\}?|\\circ|\\degree|°|º|\^°\^?)")
# A label before the value: "r = 5", "m∠ABC = 40°", "Area = 9π", "Answer: 5", "A: 5" (A as in Answer).
_LABEL_OK = re.compile(
    r"^[ \t]*(?:m|\\mathrm\{m\})?[ \t]*(?:\\angle|∠|\\overline|\\widehat|arc|\\triangle|△|"
    r"\\?(?:sin|cos|tan|cot|sec|csc)(?![a-z]))?[ \t]*\\?(?!d?frac|sqrt)[A-Za-z][A-Za-z0-9_{}' \t]{0,23}[ \t]*$"
    r"|^[ \t]*(?:m[ \t]*)?(?:\\angle|∠)[ \t]*[0-9]{1,2}[ \t]*$"  # ∠2
)
_RATIO = re.compile(r"^[ \t]*(\d+(?:\.\d+)?)[ \t]*:[ \t]*(\d+(?:\.\d+)?)[ \t]*$")
# x² -> x^2, ½ -> (1/2): Unicode forms models write in plain text.
_SUPERSCRIPTS = str.maketrans(
    {"²": "^2", "³": "^3", "½": "(1/2)", "⅓": "(1/3)", "¼": "(1/4)", "¾": "(3/4)", "⅔": "(2/3)"}
)
_UNICODE_MATH = re.compile("[²³½⅓¼¾⅔]")
_TOKEN = re.compile(r"[ \t]*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>sqrt|frac|pi)|(?P<op>\*\*|[-+*/^()]))")


def _latex_to_plain(text: str) -> str:
    s = text.strip().strip("$").strip()
    s = re.sub(r"\\(?:text|mathrm|textbf|mathbf)[ \t]*\{([^{}]{0,200})\}", r"\1", s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "").replace("\\;", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cdot", "*").replace("\\times", "*")
    s = s.replace("×", "*").replace("·", "*").replace("÷", "/").replace("\\div", "/").replace("−", "-")
    s = s.replace("\\pi", "pi").replace("π", "pi").replace("\\sqrt", "sqrt").replace("√", "sqrt")
    s = s.replace("\\frac", "frac").replace("{", "(").replace("}", ")")
    return s.translate(_SUPERSCRIPTS) if _UNICODE_MATH.search(s) else s


def _value_part(s: str) -> str | None:
    """The value side of ``s``: all of it, or the last side of ``label = value`` / ``a = b = value`` /
    ``label: value``; None when ``s`` is an equation between expressions (``x^2 + y^2 = 25``)."""
    if ":" in s and not _RATIO.match(s):
        label, _, rest = s.partition(":")
        if rest.strip() and _LABEL_OK.match(label) and len(label) <= 24:  # "Answer: 5", "A: 5", "Area: 9π"
            s = rest
    sides = _EQUALS.split(s)
    if len(sides) == 1:
        return s
    # A chain "r = C/(2π) = 10π/(2π) = 5" starts at a name or a number; the sides between are any formulas. A first
    # side holding a digit next to a variable ("2x + 10 = 50", "x^2 + y^2 = 25") makes an equation, not a value.
    first = sides[0]
    symbols = not _DIGIT.search(first) and not _has_words(first)  # "∠EGF = ½∠BEF = ..."
    if first.strip() and not (symbols or _LABEL_OK.match(first) or _plain_number(first) is not None):
        return None
    if any(_has_words(side) or _CLAUSE_BREAK.search(side) for side in sides[1:-1]):
        return None  # prose or a comma between the signs: several statements ("∠A=90°，∠B=25°"), not one chain
    return sides[-1]


def _plain_number(s: str) -> float | None:
    s = _DEGREE.sub("", s).strip()
    return evaluate_expression(_latex_to_plain(s)) if s else None


# Answer values repeat (choice texts, gold values, common answers), so the pure value functions keep a small cache.
@functools.lru_cache(maxsize=8192)
def value_text(text: str) -> str | None:
    """The text of an answer's value: full-width characters folded, ``$`` dropped, a label or equation chain before
    it removed (``"x = 90 - 40 = 50°"`` -> ``" 50°"``); None when the answer is an equation."""
    return _value_part(_normalize_text(text).replace("$", "").strip())


@functools.lru_cache(maxsize=8192)
def to_number(text: str) -> float | None:
    """The numeric value of an answer such as ``"140°"``, ``"4\\sqrt{2} cm"``, ``"\\frac{3}{2}"``, ``"x = 2π"``,
    ``"Area $=9\\pi$ cm²"``, ``"90 - 40 = 50°"`` or ``"1:4"``.

    Returns None for anything that is not a single arithmetic value (words, equations, intervals, several values).
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ANSWER_CHARS:
        return None
    s = value_text(text)
    if s is None:
        return None
    s = _DEGREE.sub("", s)
    s = s.rstrip(" \t.。")
    for _ in range(3):  # "5 cm^2", "12 square units", "3米"
        stripped = _UNIT_TAIL.sub("", s)
        if stripped == s or not stripped.strip():
            break
        s = stripped
    s = s.strip()
    ratio = _RATIO.match(s)
    if ratio:  # "1:4" is 1/4
        s = f"{ratio.group(1)}/{ratio.group(2)}"
    if s.endswith("%") or s.endswith("\\%"):
        s = s.rstrip("%").rstrip("\\")
    if _THOUSANDS.fullmatch(s):  # 1,000
        s = s.replace(",", "")
    s = _latex_to_plain(s)
    s = _FRAC_DIGITS.sub(r"frac(\1)(\2)", s)  # \frac12
    s = _SQRT_NUMBER.sub(r"sqrt(\1)", s)  # √3
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
    """Decimal places written in a plain decimal number ("18.80" -> 2, "x = 4√2 ≈ 5.66" -> 2); None otherwise."""
    value = value_text(text) or ""
    m = _DECIMAL_PLACES.search(value)
    return len(m.group(1)) if m and to_number(value) is not None and "sqrt" not in _latex_to_plain(value) else None


@functools.lru_cache(maxsize=8192)
def normalize_text(text: str) -> str:
    """Canonical text for comparing non-numeric answers (equations, words): no spaces, no $, unified LaTeX."""
    s = _latex_to_plain(_DEGREE.sub("", _normalize_text(text))).lower()
    s = re.sub(r"\^\(([^()]{1,20})\)", r"^\1", s)  # x^(2) -> x^2
    s = re.sub(r"[\s$]", "", s)
    return _fractions_as_division(s).rstrip(".。")


def _fractions_as_division(s: str) -> str:
    """``frac(a)(b)`` as ``a/b``, so ``\\frac{x^2}{81}`` and ``x²/81`` read alike; parentheses around one token go."""
    for _ in range(20):
        start = s.find("frac(")
        numerator_end = _closing_paren(s, start + 4) if start >= 0 else None
        if numerator_end is None or not s.startswith("(", numerator_end + 1):
            break
        denominator_end = _closing_paren(s, numerator_end + 1)
        if denominator_end is None:
            break
        numerator, denominator = s[start + 5 : numerator_end], s[numerator_end + 2 : denominator_end]
        s = f"{s[:start]}({numerator})/({denominator}){s[denominator_end + 1 :]}"
    for _ in range(3):  # "(sqrt(3))" -> "sqrt3", "((x+2)^2)" -> "(x+2)^2"
        s = re.sub(r"\(([a-z0-9.]+(?:\^[a-z0-9]+)?|\([^()]*\)\^[a-z0-9]+)\)", r"\1", s)
    return s


def _closing_paren(s: str, open_index: int) -> int | None:
    depth = 0
    for i in range(open_index, min(len(s), open_index + MAX_ANSWER_CHARS)):
        depth += {"(": 1, ")": -1}.get(s[i], 0)
        if depth == 0:
            return i
    return None


# A label before a non-numeric answer (normalized text): "center=", "answer:", "y=", "f(x)=", "y_1=".
_TEXT_LABEL = re.compile(r"^(?:[a-z]{2,}[a-z]{0,20}|[a-z](?:_?[0-9a-z])?(?:\([a-z]\))?)[=:](?=.)")


@functools.lru_cache(maxsize=8192)
def values_equal(pred: str, gold: str, answer_type: str = "text", precision: int | None = None) -> tuple[bool, str]:
    """Whether two answer values are the same, with a reason. Numbers compare by value (units and ° ignored).
    Remembered: answers and choices repeat."""
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
            if places is not None and abs(to_number(value_text(shown)) - exact) <= 0.5 * 10**-places + 1e-9:
                return True, f"{_fmt(p)} = {_fmt(g)} to {places} decimal places"
        return False, f"{_fmt(p)} ≠ {_fmt(g)}"
    if (p is None) != (g is None) and answer_type in ("integer", "float"):
        return False, f"{pred!r} is not a number" if p is None else f"gold {gold!r} is not a number"
    p_text, g_text = normalize_text(pred), normalize_text(gold)
    # A label on one side only: "(20,10)" for "Center = (20,10)", "2x+1" for "y = 2x + 1".
    ok = p_text == g_text or _TEXT_LABEL.sub("", p_text, 1) == g_text or p_text == _TEXT_LABEL.sub("", g_text, 1)
    return ok, f"text {pred!r} {'matches' if ok else 'differs from'} {gold!r}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# ---------------------------------------------------------------------------------------------------------------
# Letters and judging
# ---------------------------------------------------------------------------------------------------------------
_LETTER_LIST = re.compile(
    r"^[(（]?[A-H][)）]?(?:[ \t]{0,4}(?:,|，|、|and|和|&|/|[ \t])[ \t]{0,4}[(（]?[A-H][)）]?){1,7}$"
)
_CHOICE_HEAD = re.compile(
    r"^(?P<word>(?i:option|choice|选项)[ \t]{0,4})?(?P<open>[(\[])?(?P<l>[A-Ha-h])(?P<close>(?(open)[)\]]|\)?))"
    r"(?![A-Za-z0-9])(?P<rest>.*)$",
    re.S,
)
_VALUE_THEN_LETTER = re.compile(
    r"^(?P<value>[^()\[\]]{1,60}?)[ \t]*[(\[](?:(?i:option|choice)[ \t]{0,4})?(?P<l>[A-H])[)\]]$"
)


@dataclass(frozen=True)
class ChoiceReference:
    """What an answer says about the choices: the letter(s) it names, the value it states beside them
    (``"C (145°)"`` -> ``"145°"``), and whether the letter came as ``A:`` (which some models write for "Answer:")."""

    letters: str
    value: str | None = None
    colon: bool = False


@functools.lru_cache(maxsize=8192)
def choice_reference(answer: str) -> ChoiceReference | None:
    """The choice(s) an answer names: ``"C"``, ``"(C) 145°"``, ``"C（145°）"``, ``"B: 5"``, ``"option c"``,
    ``"145° (C)"``, ``"C and D"``; None for an answer that names none ("A right triangle", "145°")."""
    s = _normalize_text(answer).strip()
    if _LETTER_LIST.match(s) or re.fullmatch(r"[A-H]{2,8}", s):
        return ChoiceReference("".join(sorted(set(re.findall(r"[A-H]", s)))))
    m = _CHOICE_HEAD.match(s)
    if m:
        letter, rest = m.group("l"), m.group("rest").strip()
        bare_rest = rest.strip(" \t.。:：)")
        # A lower-case letter names a choice after "option"/"choice", or alone ("d"), but "a" alone is too likely
        # the article.
        labelled = m.group("word") or m.group("close")  # "option c", "(c)", "b) 100"
        if letter.islower() and not (labelled or (not bare_rest and letter != "a")):
            return None
        if not bare_rest:
            return ChoiceReference(letter.upper())
        sep = rest[0]
        if sep in "=≈":
            return None  # "A = 30°" is the angle at point A
        if sep in ".:、)":
            value = rest[1:].strip()
        elif sep in "([":
            value = rest
        elif to_number(rest) is not None:
            value = rest  # "C 145°", "(C) 145°"
        else:
            return None  # "A right triangle", "B is the midpoint of AC"
        value = _strip_wrappers(value)
        if value.startswith(("(", "[")) and value.endswith((")", "]")):
            value = value[1:-1].strip()
        return ChoiceReference(letter.upper(), value or None, colon=sep == ":")
    m = _VALUE_THEN_LETTER.match(s)
    if m:
        return ChoiceReference(m.group("l"), m.group("value").strip())
    return None


def parse_letters(answer: str, letters: str) -> str | None:
    """The choice letter(s) an answer names ("C", "(C) 145°", "option c", "C and D") when all are among
    ``letters``, else None."""
    ref = choice_reference(answer) if letters else None
    if ref is None or any(c not in letters for c in ref.letters):
        return None
    return ref.letters


def match_choices(value: str, choices: list[str]) -> str:
    """The letters of the choices whose value equals ``value`` (usually one; "" when none)."""
    return "".join(LETTERS[i] for i, choice in enumerate(choices) if values_equal(value, choice)[0])


def _prose_value(value: str) -> str:
    """A value stated in prose, "The angle is 145°" -> "145°"; the text itself otherwise."""
    if to_number(value) is not None:
        return value
    return _statement_value(value, whole=False) or value


def judge(response: str, problem: Problem, protocol: str = "choice") -> Verdict:
    """Judge a raw model response against ``problem``'s gold answer.

    ``protocol="choice"`` (G-LLaVA's GeoQA scoring): a choice problem is right when the answer names the gold letter,
    directly or through the text of the gold choice. ``protocol="value"`` (R1-V's scoring): the answer's value,
    a named letter being replaced by its choice text, must equal the gold value.

    A letter stated with a value (``"C (145°)"``) must agree with it: when the value is another choice's, the answer
    is wrong and the reason says they disagree (with duplicate choice values the letter decides). A letter outside
    the choices (``"(E) 137"`` with four) is no answer.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if not isinstance(response, str) or not response.strip():
        return Verdict(False, "no_answer", None, None, "none", "empty response")
    ext = extract_answer(response)
    if ext.answer is None:
        reason = (
            "the response hedges between answers"
            if ext.method == "undecided"
            else "no final answer found in the response"
        )
        return Verdict(False, "no_answer", None, None, ext.method, reason)
    if problem.letters:
        return _judge_choice(ext, problem, protocol)
    return _judge_free_form(ext, problem)


def _verdict(ok: bool, ext: Extraction, letter: str | None, reason: str) -> Verdict:
    return Verdict(ok, "correct" if ok else "wrong", ext.answer, letter, ext.method, reason)


def _judge_choice(ext: Extraction, problem: Problem, protocol: str) -> Verdict:
    answer, letters, choices = ext.answer, problem.letters, problem.choices
    ref = choice_reference(answer)
    letter, via = None, "named"
    if ref is not None:
        outside = "".join(c for c in ref.letters if c not in letters)
        if outside:
            reason = f"{answer!r} names choice {outside}, which is not among the choices {letters}"
            return Verdict(False, "no_answer", answer, None, ext.method, reason)
        letter = ref.letters
        if len(letter) == len(letters) > 2 and len(problem.answer_letter or "") < len(letters):
            return Verdict(False, "no_answer", answer, None, ext.method, f"{answer!r} names every choice")
        if ref.value is not None and len(letter) == 1:
            stated = _prose_value(ref.value)
            by_value = match_choices(stated, choices)
            if by_value and letter not in by_value:
                if ref.colon and letter == "A" and len(by_value) == 1:
                    letter, via = by_value, "by its text"  # "A: 60°" written for "Answer: 60°"
                else:
                    reason = (
                        f"{answer!r} names choice {letter} ({problem.choice_text(letter)}) but states {stated!r}, "
                        f"the value of choice {by_value}: they disagree"
                    )
                    return _verdict(False, ext, letter, reason)
    if letter is None:
        letter, via = match_choices(answer, choices) or None, "by its text"
    gold_letter = problem.answer_letter

    if protocol == "choice" and gold_letter is not None:
        if letter is None:
            return _verdict(False, ext, None, f"{answer!r} matches none of the choices")
        if letter == gold_letter or (len(letter) > 1 and via == "by its text" and gold_letter in letter):
            # Several choices with the same value as the answer: the gold one is among them, so the answer is right.
            return _verdict(True, ext, gold_letter, f"choice {gold_letter} {via} matches gold {gold_letter}")
        return _verdict(False, ext, letter, f"choice {letter} {via}, gold is {gold_letter}")

    gold = problem.gold_value
    if gold is None:  # multi-answer letter gold without a value
        return _verdict(letter == gold_letter, ext, letter, f"letters {letter} vs gold {gold_letter}")
    named = letter is not None and len(letter) == 1 and via == "named"
    value = problem.choice_text(letter) if named else answer
    ok, why = values_equal(value, gold, "text", problem.precision)
    return _verdict(ok, ext, letter, f"choice {letter} = {value!r}: {why}" if named else why)


_GOLD_LETTERS = re.compile(r"[ \t]*\(?[A-H]\)?(?:[ \t]*[,，、\n][ \t]*\(?[A-H]\)?|[ \t]+\(?[A-H]\)?)*[ \t]*")
_LEADING_LETTER = re.compile(r"(?:(?i:option|choice)[ \t]{0,4})?[(\[]?([A-H])(?:[)\]]|[.:：](?!\d))")


def _judge_free_form(ext: Extraction, problem: Problem) -> Verdict:
    answer, gold = ext.answer, problem.gold_value
    ref = choice_reference(answer)
    if _GOLD_LETTERS.fullmatch(gold):  # MathVerse's vision-only versions: a letter gold, the choices in the diagram
        gold_letters = "".join(sorted(set(re.findall(r"[A-H]", gold))))
        leading = _LEADING_LETTER.match(answer)
        named = ref.letters if ref is not None else leading.group(1) if leading else None
        return _verdict(named == gold_letters, ext, named, f"letters {named} vs gold {gold_letters}")
    if ref is not None and ref.value is None:
        reason = f"{answer!r} names choice {ref.letters}, but no choices were given"
        return Verdict(False, "no_answer", answer, None, ext.method, reason)
    # No choices to name: "(B) 5" / "A: 5" state the value 5.
    value = _prose_value(ref.value) if ref is not None else answer
    if to_number(gold) is not None and to_number(value) is None and not _DIGIT.search(value):
        reason = f"{answer!r} states no value"  # "∠ADC = ∠ABC" for a numeric gold
        return Verdict(False, "no_answer", answer, None, ext.method, reason)
    ok, why = values_equal(value, gold, problem.answer_type, problem.precision)
    return _verdict(ok, ext, None, why)
