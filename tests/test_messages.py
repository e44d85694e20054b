"""One chat-message builder for every stage, and questions without a gold answer (demo, batch QA)."""

import pytest
from PIL import Image

from redstar_geo.benchmarks.common import format_prompt
from redstar_geo.generation import Request, request_messages
from redstar_geo.messages import chat_messages, problem_messages
from redstar_geo.schema import Problem, ProblemError
from redstar_geo.sft_data import problems_to_samples


def test_image_first_system_optional_in_every_format():
    image = Image.new("RGB", (8, 6), "white")
    (user,) = chat_messages("Find x.", image=image)
    assert user == {
        "role": "user",
        "content": [{"type": "image", "image": image}, {"type": "text", "text": "Find x."}],
    }
    system, user = chat_messages("Find x.", image=image, system_prompt="Think.", image_format="data_uri")
    assert system == {"role": "system", "content": [{"type": "text", "text": "Think."}]}
    assert user["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert chat_messages("Find x.", has_image=True, image_format="placeholder")[0]["content"][0] == {"type": "image"}
    assert chat_messages("Only text.") == [{"role": "user", "content": [{"type": "text", "text": "Only text."}]}]
    with pytest.raises(ValueError, match="image_format"):
        chat_messages("x", image_format="jpeg")


def test_a_question_without_gold_gets_the_benchmark_prompt_and_messages(tmp_path):
    Image.new("RGB", (40, 30), "white").save(tmp_path / "d.png")
    question = Problem(
        id="q1", source="user", question="如图，求∠ABC的度数。", choices=["30°", "60°"], language="zh",
        image=str(tmp_path / "d.png"), require_gold=False,
    )  # fmt: skip
    assert not question.has_gold and question.gold_answer() is None
    assert "A. 30°" in format_prompt(question) and "\\boxed{}" in format_prompt(question)
    system, user = problem_messages(question, system_prompt="Reason first.", image_format="object")
    assert user["content"][0]["image"].size == (40, 30) and user["content"][1]["text"] == format_prompt(question)
    same = Problem.from_dict(question.to_dict(), require_gold=False)
    assert same == question
    with pytest.raises(ProblemError, match="no gold answer"):
        Problem(id="q2", source="geoqa", question="Find x.")  # benchmarks and training data still need one
    with pytest.raises(ProblemError, match="needs a gold letter"):
        Problem(id="q3", source="geoqa", question="Find x.", choices=["1", "2"], answer_type="choice")


def test_generation_and_sft_data_build_the_same_messages():
    problem = Problem(
        id="p", source="geosynth", question="Find x.", choices=["1", "2"], answer_letter="B", image=b"png bytes",
        metadata={"steps": ["x = 2"]},
    )  # fmt: skip
    (sample,) = problems_to_samples([problem], protocol="choice", system_prompt="Be careful.")
    assert sample.prompt == problem_messages(problem, "choice", "Be careful.", image_format="placeholder")
    assert sample.completion[0]["content"][0]["text"].endswith("\\boxed{B}.")
    assert problem.gold_answer("choice") == "B" and problem.gold_answer("value") == "2"
    image = Image.new("RGB", (4, 4))
    request = Request(id="p", prompt=format_prompt(problem), image=image)
    assert request_messages(request) == chat_messages(format_prompt(problem), image=image)
