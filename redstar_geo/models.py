"""Loading multimodal models, and building a tiny random one for offline tests and CPU smoke runs.

Usage::

    from redstar_geo.models import build_tiny_model, load_model_and_processor

    build_tiny_model("runs/tiny-qwen2vl")                      # ~1 MB Qwen2-VL with random weights, no download
    model, processor = load_model_and_processor("runs/tiny-qwen2vl")
    model, processor = load_model_and_processor("Qwen/Qwen2.5-VL-7B-Instruct", torch_dtype="bfloat16")
    model, processor = load_model_and_processor("models/InternVL2-8B-hf")   # data_prep/convert_internvl2.py

The tiny model is a real Qwen2-VL (same classes, processor and chat template as Qwen/Qwen2-VL-7B-Instruct) with two
decoder layers, a two-block vision tower and a byte-level BPE tokenizer trained here on a small geometry corpus, so
every code path (chat template, image tokens, M-RoPE, label masking, save/reload) runs without the hub.
"""

from __future__ import annotations

import json
import logging
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
    (8×8 patches of 14 px merged 2×2). Reload with :func:`load_model_and_processor` or the Auto classes.
    """
    if arch != "qwen2_vl":
        raise ValueError(f"build_tiny_model: unsupported arch {arch!r}; available: qwen2_vl")
    torch = require("torch", extra="train", feature="building the tiny model")
    from transformers import AutoModelForImageTextToText, Qwen2VLConfig, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    head_dim = hidden_size // num_heads
    if head_dim * num_heads != hidden_size or head_dim % 2:
        raise ValueError(f"hidden_size {hidden_size} must split into {num_heads} heads of even size")
    # M-RoPE rotates (temporal, height, width) sections whose sizes must add up to head_dim / 2 (Qwen2-VL-7B:
    # head_dim 128 -> [16, 24, 24]); keep the same 2:3:3 proportions.
    half = head_dim // 2
    t = max(1, round(half * 2 / 8))
    h = (half - t) // 2
    mrope_section = [t, h, half - t - h]

    tokenizer = build_tiny_tokenizer(vocab_size)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in QWEN2_VL_SPECIAL_TOKENS}
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=max_image_pixels)
    processor = Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=_tiny_video_processor(max_image_pixels),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )

    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": hidden_size * 2,
            "num_hidden_layers": num_layers,
            "num_attention_heads": num_heads,
            "num_key_value_heads": max(1, num_heads // 2),
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope_section},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": vision_depth,
            "embed_dim": vision_embed_dim,
            "num_heads": 2,
            "mlp_ratio": 2,
            "hidden_size": hidden_size,  # the merger projects vision features to the LM width
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
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


def _tiny_video_processor(max_pixels: int):
    # Qwen2VLProcessor requires a video processor; give it the same small budget so nothing large is ever built.
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    return Qwen2VLVideoProcessor(min_pixels=28 * 28 * 4, max_pixels=max_pixels)


# Checkpoints whose config.json needs the repository's own modelling code (model_type unknown to transformers).
REMOTE_CODE_MODEL_TYPES = {"internvl_chat": "InternVL2 / InternVL2.5 (OpenGVLab/InternVL2-8B)"}
CONVERT_HINT = "python data_prep/convert_internvl2.py --source OpenGVLab/InternVL2-8B --out models/InternVL2-8B-hf"


class ModelLoadError(ValueError):
    """A model that cannot be loaded as asked; the message says what to change."""


def load_model_and_processor(
    name_or_path: str,
    trust_remote_code: bool = False,
    torch_dtype: str | None = "auto",
    attn_implementation: str | None = None,
    revision: str | None = None,
):
    """``(model, processor)`` for a local directory or hub id of a supported vision-language model.

    Qwen2-VL, Qwen2.5-VL and transformers-native InternVL (``OpenGVLab/InternVL3-8B-hf``, or InternVL2-8B after
    ``data_prep/convert_internvl2.py``) load through ``AutoModelForImageTextToText`` / ``AutoProcessor``. An
    unconverted InternVL2 checkpoint ships its own modelling code: it loads only with ``trust_remote_code=True``
    (never implied), through ``AutoModel`` and ``AutoTokenizer`` (it has no processor, so it cannot be trained or
    evaluated here); the processor returned is then the tokenizer.
    ``torch_dtype``: ``"auto"``, ``"bfloat16"``, ``"float32"``...
    """
    torch = require("torch", extra="train", feature="loading models")
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    model_type = _peek_model_type(name_or_path)
    remote = model_type in REMOTE_CODE_MODEL_TYPES
    if remote and not trust_remote_code:
        raise ModelLoadError(
            f"{name_or_path}: {REMOTE_CODE_MODEL_TYPES[model_type]} runs code from the model repository. Convert it "
            f"once to transformers' native InternVL (no remote code; trains and evaluates here): {CONVERT_HINT}. "
            "Or pass --trust_remote_code true (off by default) to load the original as it is."
        )
    try:
        AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, revision=revision)
    except OSError as exc:
        raise ModelLoadError(
            f"{name_or_path}: not a local model directory and not on the hub (or offline): {exc}"
        ) from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelLoadError(
                f"{name_or_path}: this checkpoint needs its own modelling code; pass --trust_remote_code true if you "
                "trust it (off by default)"
            ) from None
        raise ModelLoadError(f"{name_or_path}: {exc}") from None

    dtype = torch_dtype if torch_dtype in (None, "auto") else getattr(torch, torch_dtype)
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code, "revision": revision}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if remote:
        model = AutoModel.from_pretrained(name_or_path, **kwargs)
        processor = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=True, revision=revision)
    else:
        model = AutoModelForImageTextToText.from_pretrained(name_or_path, **kwargs)
        processor = AutoProcessor.from_pretrained(name_or_path, revision=revision)
    return model, processor


def _peek_model_type(name_or_path: str) -> str | None:
    """``model_type`` from a local config.json (a hub id is resolved through the cache by AutoConfig instead)."""
    config = Path(name_or_path) / "config.json"
    if Path(name_or_path).is_dir() and not config.is_file():
        raise ModelLoadError(f"{name_or_path}: a directory without config.json is not a model checkpoint")
    if config.is_file():
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    try:
        from transformers.utils import cached_file

        path = cached_file(name_or_path, "config.json", _raise_exceptions_for_missing_entries=False)
    except OSError:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8")).get("model_type") if path else None
