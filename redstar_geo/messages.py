"""The chat messages for one question: the one builder that generation, SFT data, the demo and batch QA share.

Usage::

    from redstar_geo.messages import chat_messages, problem_messages

    chat_messages("Find x.", image=pil_image)                           # in-process models (transformers)
    chat_messages("Find x.", image=pil_image, image_format="data_uri")  # OpenAI-compatible servers, vLLM
    problem_messages(problem, protocol="choice", image_format="placeholder", system_prompt="Think step by step.")

The user turn holds the image first, then the text, as the models were trained; a system turn comes first when a
system prompt is given. ``image_format`` says how the image travels: ``object`` (``{"type": "image", "image": img}``,
for a processor's chat template), ``data_uri`` (``{"type": "image_url", ...}`` with the PNG inline) or
``placeholder`` (``{"type": "image"}``: the images travel beside the messages, as in TRL's datasets).
"""

from __future__ import annotations

from redstar_geo.benchmarks.common import format_prompt
from redstar_geo.images import image_data_uri
from redstar_geo.schema import Problem

IMAGE_FORMATS = ("object", "data_uri", "placeholder")


def chat_messages(
    text: str, image=None, system_prompt: str | None = None, image_format: str = "object", has_image: bool = False
) -> list[dict]:
    """``[system?, user]`` for ``text`` and an optional ``image`` (a PIL image; with ``placeholder`` any value, or
    ``has_image=True`` without one)."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format {image_format!r}: use one of {IMAGE_FORMATS}")
    content = []
    if image is not None or has_image:
        if image_format == "object":
            content.append({"type": "image", "image": image})
        elif image_format == "data_uri":
            content.append({"type": "image_url", "image_url": {"url": image_data_uri(image)}})
        else:
            content.append({"type": "image"})
    content.append({"type": "text", "text": text})
    messages = [{"role": "system", "content": [{"type": "text", "text": system_prompt}]}] if system_prompt else []
    return [*messages, {"role": "user", "content": content}]


def problem_messages(
    problem: Problem, protocol: str = "choice", system_prompt: str | None = None, image_format: str = "placeholder"
) -> list[dict]:
    """The messages asking ``problem`` with its benchmark-style prompt (:func:`format_prompt`); with ``object`` or
    ``data_uri`` the diagram is loaded (raises :class:`redstar_geo.images.ImageLoadError`). Needs no gold answer."""
    image = problem.load_image() if problem.image is not None and image_format != "placeholder" else None
    return chat_messages(
        format_prompt(problem, protocol),
        image=image,
        system_prompt=system_prompt,
        image_format=image_format,
        has_image=problem.image is not None,
    )
