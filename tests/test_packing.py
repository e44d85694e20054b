"""Padding-free packing (redstar_geo.packing) on the tiny Qwen2-VL: packed == per-sample, on CPU in float32."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from transformers import AutoModelForImageTextToText  # noqa: E402

from redstar_geo.packing import (  # noqa: E402
    IGNORE_INDEX,
    enable_varlen_attention,
    mrope_position_ids,
    pack_greedy,
    pack_samples,
    pad_samples,
    segment_bounds,
)
from redstar_geo.tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2vl")
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    return model.eval()


def make_sample(config, n_text_before: int, n_after: int, grid=(1, 8, 8), seed: int = 0) -> dict:
    """system/user text, an image block, question + response; loss on the last half of what follows the image."""
    g = torch.Generator().manual_seed(seed)
    vocab = config.text_config.vocab_size
    merge = config.vision_config.spatial_merge_size
    t, h, w = grid
    n_image = t * h * w // merge**2
    words = lambda n: torch.randint(20, vocab, (n,), generator=g)  # ids past the special tokens
    input_ids = torch.cat(
        [
            words(n_text_before),
            torch.tensor([config.vision_start_token_id]),
            torch.full((n_image,), config.image_token_id),
            torch.tensor([config.vision_end_token_id]),
            words(n_after),
        ]
    )
    labels = input_ids.clone()
    labels[: input_ids.shape[0] - n_after // 2] = IGNORE_INDEX
    patch_dim = 3 * config.vision_config.temporal_patch_size * config.vision_config.patch_size**2
    pixel_values = torch.randn(t * h * w, patch_dim, generator=g)  # (patches, C·T·P·P)
    return {
        "input_ids": input_ids,
        "labels": labels,
        "pixel_values": pixel_values,
        "image_grid_thw": torch.tensor([grid]),
    }


def samples(config):
    return [
        make_sample(config, 5, 30, seed=0),
        make_sample(config, 3, 51, grid=(1, 4, 8), seed=1),
        make_sample(config, 7, 12, grid=(1, 8, 4), seed=2),
    ]


def reference_loss(model, batch_samples):
    """Token-weighted mean of the losses of each sample run alone (the model computes its own M-RoPE)."""
    total, count = 0.0, 0
    for s in batch_samples:
        ids = s["input_ids"][None]
        out = model(
            input_ids=ids,
            labels=s["labels"][None],
            pixel_values=s["pixel_values"],
            image_grid_thw=s["image_grid_thw"],
            mm_token_type_ids=(ids == model.config.image_token_id).int(),
        )
        n = int((s["labels"][1:] != IGNORE_INDEX).sum())
        total, count = total + out.loss * n, count + n
    return total / count


def test_mrope_positions_match_the_model(model):
    config = model.config
    for s in samples(config):
        ids = s["input_ids"][None]
        expected, _ = model.model.get_rope_index(
            ids, mm_token_type_ids=(ids == config.image_token_id).int(), image_grid_thw=s["image_grid_thw"]
        )
        got = mrope_position_ids(s["input_ids"], s["image_grid_thw"], config.image_token_id)
        assert torch.equal(got, expected[:, 0])


def test_mrope_positions_reject_mismatched_grids(model):
    s = make_sample(model.config, 2, 4)
    with pytest.raises(ValueError, match="image"):
        mrope_position_ids(s["input_ids"], torch.tensor([[1, 8, 8], [1, 8, 8]]), model.config.image_token_id)
    with pytest.raises(ValueError, match="image"):
        mrope_position_ids(s["input_ids"], torch.tensor([[1, 4, 4]]), model.config.image_token_id)


@pytest.mark.parametrize("attention", ["dense", "varlen"])
def test_packed_loss_and_grads_equal_per_sample(model, attention):
    if attention == "varlen":
        enable_varlen_attention(model)
    try:
        batch_samples = samples(model.config)
        model.zero_grad()
        expected = reference_loss(model, batch_samples)
        expected.backward()
        ref_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad()

        batch = pack_samples(batch_samples, model.config, attention=attention)
        assert batch["input_ids"].shape == (1, sum(s["input_ids"].shape[0] for s in batch_samples))
        assert batch["position_ids"].shape == (4, 1, batch["input_ids"].shape[1])
        loss = model(**batch).loss
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-6)
        loss.backward()
        for name, grad in ref_grads.items():
            param = dict(model.named_parameters())[name]
            torch.testing.assert_close(param.grad, grad, rtol=1e-4, atol=1e-6, msg=name)
    finally:
        model.config.text_config._attn_implementation = "sdpa"
        model.zero_grad()


def test_unpacked_rows_leak_across_samples_without_the_varlen_function(model):
    # The control: the same packed row through stock SDPA with only causal masking gives a different loss (by far
    # more than the 1e-6 tolerance above: tiny random weights attend almost uniformly, so the leak is small but
    # clear), so the equality above is not vacuous.
    batch_samples = samples(model.config)
    with torch.no_grad():
        expected = reference_loss(model, batch_samples)
        batch = pack_samples(batch_samples, model.config, attention="varlen")  # mask mapping of None, stock sdpa
        leaked = model(**batch).loss
    assert abs(leaked.item() - expected.item()) > 1e-5


def test_padded_batch_loss_equals_per_sample(model):
    enable_varlen_attention(model)  # padded batches take stock SDPA through the same function
    try:
        batch_samples = samples(model.config)
        with torch.no_grad():
            expected = reference_loss(model, batch_samples)
            loss = model(**pad_samples(batch_samples, model.config, model.config.text_config.pad_token_id)).loss
        torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    finally:
        model.config.text_config._attn_implementation = "sdpa"


def test_pack_greedy_fills_rows_in_order_and_never_cuts():
    assert pack_greedy([5, 5, 5, 3], 10) == [[0, 1], [2, 3]]
    assert pack_greedy([8, 4, 2, 6], 10) == [[0, 2], [1, 3]]
    assert pack_greedy([12, 3], 10) == [[0], [1]]
    assert sorted(i for row in pack_greedy([3, 9, 1, 7, 7], 10) for i in row) == [0, 1, 2, 3, 4]


def test_segment_bounds():
    pos = torch.tensor([0, 1, 2, 0, 1, 0, 1, 2, 3])
    assert segment_bounds(pos) == [(0, 3), (3, 5), (5, 9)]
    assert segment_bounds(torch.arange(4)[None]) == [(0, 4)]
