"""The Long-CoT teacher prompt, one per language: a system prompt that asks for slow, checked reasoning, and the
question worded exactly as evaluation and SFT word it.

Usage::

    from redstar_geo.synthesis.prompts import teacher_messages_text

    system, user = teacher_messages_text(problem, protocol="choice")

The user turn is :func:`redstar_geo.benchmarks.common.format_prompt` (the question, its choices, and the instruction to
box the letter or the value), so a kept trace ends in the very format the SFT model is trained and scored on. The
system prompt asks for the slow-thinking habits the verifier rewards: a plan, every calculation written out with its
result, a check before answering, one language throughout. Snapshots in ``tests/assets/prompts/teacher_*.txt``: a
change here changes every trace synthesised with it, so it must be deliberate (``UPDATE_PROMPT_SNAPSHOTS=1``).

QvQ-72B-Preview and QwQ think without being asked; the system prompt mainly fixes the language and the answer form.
Pass ``teacher_system_prompt`` in a recipe to use another (``""`` for none, as some served models reject one).
"""

from __future__ import annotations

from redstar_geo.benchmarks.common import format_prompt
from redstar_geo.schema import Problem

TEACHER_SYSTEM_PROMPTS = {
    "en": (
        "You are a careful geometry teacher who thinks slowly before answering. Look closely at the diagram and read "
        "the question. Reason step by step: say what is given and what is asked, make a plan, write out every "
        "calculation with its result, and check your work before you answer. Think and answer in English only. End "
        "with the final answer in \\boxed{}, in the form the question asks for."
    ),
    "zh": (
        "你是一位严谨的几何老师，作答前会慢慢思考。请仔细观察图形并阅读题目，逐步推理：说明已知条件和所求，"
        "制定思路，写出每一步计算及其结果，并在作答前检查。请全程只用中文思考和作答。"
        "最后按题目要求的形式把答案写在 \\boxed{} 中。"
    ),
}


def teacher_messages_text(
    problem: Problem, protocol: str = "choice", system_prompt: str | None = None
) -> tuple[str | None, str]:
    """``(system prompt or None, user text)`` for asking the teacher ``problem`` (the diagram goes before the user
    text). ``system_prompt``: None for the problem language's default, ``""`` for no system turn, or your own."""
    system = TEACHER_SYSTEM_PROMPTS[problem.language] if system_prompt is None else system_prompt
    return (system or None), format_prompt(problem, protocol)
