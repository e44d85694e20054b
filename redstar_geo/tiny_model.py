"""A tiny random Qwen2-VL for offline tests and CPU smoke runs, and the Qwen2-VL config builder behind it.

Usage::

    from redstar_geo.models import load_model_and_processor
    from redstar_geo.tiny_model import build_tiny_model, qwen2_vl_config

    build_tiny_model("runs/tiny-qwen2vl")      # ~1 MB Qwen2-VL + processor with random weights, no download
    model, processor = load_model_and_processor("runs/tiny-qwen2vl")
    config = qwen2_vl_config(vocab_size=152064, token_ids=ids, hidden_size=3584, num_layers=28, ...)  # any size

The tiny model is a real Qwen2-VL (same classes, processor and chat template as Qwen/Qwen2-VL-7B-Instruct) with two
decoder layers, a two-block vision tower and a byte-level BPE tokenizer trained here on a small geometry corpus, so
every code path (chat template, image tokens, M-RoPE, label masking, save/reload) runs without the hub. The GPU
benchmarks build their 7B-shaped random models with the same :func:`qwen2_vl_config`, and their processor with
:func:`build_tiny_processor`.

Needs only torch, transformers and tokenizers (no trl, no datasets): the benchmark machines have nothing else.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path

from redstar_geo.benchmarks.common import CHOICE_INSTRUCTION, VALUE_INSTRUCTION, ZH_CHOICE_INSTRUCTION
from redstar_geo.import_utils import require

logger = logging.getLogger(__name__)

# Qwen2-VL-7B-Instruct's chat template, verbatim: the tiny model renders prompts exactly like the real one.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)

# Qwen2-VL's special tokens, in Qwen's order; the ids are assigned first (0..N-1) in the tiny vocabulary.
QWEN2_VL_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# What the tiny BPE is trained on: the prompt instructions plus typical geometry problem and reasoning text, so
# common words become single tokens and tiny-model sequences stay short.
_GEOMETRY_CORPUS = [
    CHOICE_INSTRUCTION,
    VALUE_INSTRUCTION,
    ZH_CHOICE_INSTRUCTION,
    "You are a helpful assistant.",
    "As shown in the figure, AB is the diameter of circle O, and point C is on the circle. If angle ABC = 40°, "
    "then the measure of angle BAC is ( )",
    "In triangle ABC, AB = AC, angle A = 50°, so angle B = angle C = (180° - 50°) / 2 = 65°.",
    "Since AB is parallel to CD, angle 1 = angle 2 = 70°, and the sum of the interior angles of a triangle is 180°.",
    "The radius of the circle is 5 cm and the chord length is 8 cm; the distance from the center to the chord is "
    "\\sqrt{5^2 - 4^2} = 3 cm.",
    "Find x. The perimeter of the rectangle is 2 \\times (3 + 4) = 14, and its area is 3 \\times 4 = 12.",
    "By the Pythagorean theorem, BC^2 = AB^2 + AC^2, so BC = \\sqrt{6^2 + 8^2} = 10.",
    "The inscribed angle is half of the central angle that subtends the same arc: angle ACB = 1/2 angle AOB.",
    "Triangles ABE and CDE are similar, so AB / CD = BE / DE = 2 / 3.",
    "Step 1: the exterior angle equals the sum of the two remote interior angles. Step 2: therefore x = 35.",
    "Choices: A. 30° B. 45° C. 60° D. 120° The answer is \\boxed{C}.",
    "Let the side length be a. The area of the square is a^2 = 16, so a = 4 and the diagonal is 4\\sqrt{2}.",
    "The tangent to a circle is perpendicular to the radius at the point of tangency, so angle OAP = 90°.",
    "In parallelogram ABCD, opposite angles are equal and adjacent angles are supplementary: angle D = 180° - 110°.",
    "Therefore the final answer is \\boxed{65°}. Wait, let me verify: 65 + 65 + 50 = 180. Correct.",
    "如图，AB是⊙O的直径，点C在⊙O上，若∠ABC=40°，则∠BAC的度数为（）",
    "0 1 2 3 4 5 6 7 8 9 10 12 15 20 25 30 36 40 45 50 60 70 72 80 90 100 120 135 144 150 180 270 360 . , ; : ( ) "
    "[ ] { } + - = < > / * ^ _ \\frac{1}{2} \\pi \\angle \\triangle \\parallel \\perp \\cdot π √ ∠ △ ⊙ ⊥ ∥ ° ≈",
]


def geometry_corpus() -> list[str]:
    """The bundled text the tiny tokenizer is trained on."""
    return list(_GEOMETRY_CORPUS)


def build_tiny_tokenizer(vocab_size: int = 800):
    """A byte-level BPE tokenizer (any text encodes; nothing is ``<unk>``) with Qwen2-VL's special tokens."""
    tokenizers = require("tokenizers", extra="train", feature="building the tiny tokenizer")
    from transformers import PreTrainedTokenizerFast

    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(QWEN2_VL_SPECIAL_TOKENS),
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeated so the merges of frequent words win over one-off number strings.
    bpe.train_from_iterator(geometry_corpus() * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=None,  # Qwen2 has no BOS in prompts; <|endoftext|> is the pad token
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )


# The special tokens a Qwen2-VL config points at, by role; qwen2_vl_config's ``token_ids`` maps these tokens to ids.
CONFIG_TOKENS = ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
TINY_ARCHS = ("qwen2_vl",)


def mrope_section(head_dim: int) -> list[int]:
    """M-RoPE's (temporal, height, width) rotary sections for ``head_dim``: they add up to ``head_dim / 2`` in
    Qwen2-VL-7B's 2:3:3 proportions (head_dim 128 -> [16, 24, 24])."""
    half = head_dim // 2
    t = max(1, round(half * 2 / 8))
    h = (half - t) // 2
    return [t, h, half - t - h]


def check_shape(hidden_size: int, num_heads: int) -> None:
    """Raise ValueError unless ``hidden_size`` splits into ``num_heads`` heads of even size (M-RoPE rotates pairs)."""
    if num_heads <= 0 or hidden_size <= 0:
        raise ValueError(f"hidden_size {hidden_size} and num_heads {num_heads} must be positive")
    head_dim = hidden_size // num_heads
    if head_dim * num_heads != hidden_size or head_dim % 2:
        raise ValueError(f"hidden_size {hidden_size} must split into {num_heads} heads of even size")


def qwen2_vl_config(
    *,
    vocab_size: int,
    token_ids: Mapping[str, int],
    hidden_size: int = 64,
    intermediate_size: int | None = None,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    max_position_embeddings: int = 4096,
    rms_norm_eps: float | None = None,
    vision_depth: int = 2,
    vision_embed_dim: int = 32,
    vision_num_heads: int = 2,
    vision_mlp_ratio: int = 2,
):
    """A ``Qwen2VLConfig`` of the given size; the defaults are the tiny model's.

    ``token_ids`` maps each of :data:`CONFIG_TOKENS` to its id (a tokenizer's, or Qwen2's real ids); ``<|endoftext|>``
    is BOS and padding, ``<|im_end|>`` EOS. ``intermediate_size`` defaults to twice ``hidden_size``,
    ``num_kv_heads`` to half the heads, ``rms_norm_eps`` to transformers' default. Qwen2-VL-7B-Instruct:
    ``hidden_size=3584, intermediate_size=18944, num_layers=28, num_heads=28, num_kv_heads=4,
    max_position_embeddings=32768, rms_norm_eps=1e-6, vision_depth=32, vision_embed_dim=1280, vision_num_heads=16,
    vision_mlp_ratio=4``, vocabulary 152064.
    """
    from transformers import Qwen2VLConfig

    check_shape(hidden_size, num_heads)
    missing = [token for token in CONFIG_TOKENS if token not in token_ids]
    if missing:
        raise ValueError(f"qwen2_vl_config: token_ids has no id for {missing}")
    pad, eos = token_ids["<|endoftext|>"], token_ids["<|im_end|>"]
    text_config = {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size or hidden_size * 2,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads or max(1, num_heads // 2),
        "max_position_embeddings": max_position_embeddings,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": mrope_section(hidden_size // num_heads),
        },
        "bos_token_id": pad,  # Qwen2 puts no BOS in prompts; <|endoftext|> stands in
        "eos_token_id": eos,
        "pad_token_id": pad,
    }
    if rms_norm_eps is not None:
        text_config["rms_norm_eps"] = rms_norm_eps
    return Qwen2VLConfig(
        text_config=text_config,
        vision_config={
            "depth": vision_depth,
            "embed_dim": vision_embed_dim,
            "num_heads": vision_num_heads,
            "mlp_ratio": vision_mlp_ratio,
            "hidden_size": hidden_size,  # the merger projects vision features to the LM width
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=token_ids["<|image_pad|>"],
        video_token_id=token_ids["<|video_pad|>"],
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
        tie_word_embeddings=False,
    )


def build_tiny_processor(max_image_pixels: int = 112 * 112, vocab_size: int = 800):
    """Qwen2-VL's processor with the tiny tokenizer, Qwen2-VL's chat template and a ``max_image_pixels`` budget.

    Without torchvision (a bare GPU machine) the image processor is the same processor's Pillow backend and there is
    no video processor; such a processor serves in memory but is not meant to be saved.
    """
    from transformers import Qwen2VLProcessor

    kwargs = {"min_pixels": 28 * 28 * 4, "max_pixels": max_image_pixels}
    if importlib.util.find_spec("torchvision") is not None:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

        image_processor = Qwen2VLImageProcessor(**kwargs)
        # Qwen2VLProcessor wants a video processor; the same small budget, so nothing large is ever built.
        video_processor = Qwen2VLVideoProcessor(**kwargs)
    else:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        image_processor, video_processor = Qwen2VLImageProcessorPil(**kwargs), None
    return Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=build_tiny_tokenizer(vocab_size),
        video_processor=video_processor,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def build_tiny_model(
    out_dir: str | Path,
    arch: str = "qwen2_vl",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_depth: int = 2,
    vision_embed_dim: int = 32,
    vocab_size: int = 800,
    max_image_pixels: int = 112 * 112,
    seed: int = 0,
) -> Path:
    """Save a small randomly initialised model + processor to ``out_dir`` and return the path.

    ``max_image_pixels`` caps the resized image: the default 112×112 gives a 224 px diagram 16 image tokens
    (8×8 patches of 14 px merged 2×2). Reload with :func:`redstar_geo.models.load_model_and_processor` or the Auto
    classes. Raises ValueError for an unknown ``arch`` or a ``hidden_size`` that does not split into the heads.
    """
    if arch not in TINY_ARCHS:
        raise ValueError(f"build_tiny_model: unsupported arch {arch!r}; available: {', '.join(TINY_ARCHS)}")
    check_shape(hidden_size, num_heads)
    torch = require("torch", extra="train", feature="building the tiny model")
    from transformers import AutoModelForImageTextToText

    processor = build_tiny_processor(max_image_pixels, vocab_size)
    tokenizer = processor.tokenizer
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in CONFIG_TOKENS}
    config = qwen2_vl_config(
        vocab_size=len(tokenizer),
        token_ids=ids,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        vision_depth=vision_depth,
        vision_embed_dim=vision_embed_dim,
    )
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = ids["<|endoftext|>"]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("built tiny %s (%d parameters, vocab %d) in %s", arch, n_params, len(tokenizer), out)
    return out
