"""Padding-free packing of Qwen2-VL training samples: several samples in one row, attention kept inside each sample.

Usage::

    from redstar_geo.packing import enable_varlen_attention, pack_greedy, pack_samples

    enable_varlen_attention(model)                       # once: the text decoder attends per packed sample
    for group in pack_greedy([len(s["input_ids"]) for s in samples], max_tokens=16384):
        batch = pack_samples([samples[i] for i in group], model.config)
        loss = model(**batch).loss                       # == token-weighted mean of the per-sample losses
        loss.backward()

A sample is a dict with ``input_ids`` (L,), ``labels`` (L,) (-100 where no loss), and optionally ``pixel_values``
(patches, C·T·P·P) with ``image_grid_thw`` (n_images, 3), as the Qwen2-VL processor gives them (unbatched).

Why each piece:

- Qwen2-VL rotates queries/keys with M-RoPE, whose 3-D (temporal, height, width) positions depend on where the image
  sits in its own sample. :func:`mrope_position_ids` computes them per sample (the same numbers as the model's
  ``get_rope_index``, but version-independent: its signature changed across transformers releases), and
  :func:`pack_samples` concatenates them. A 4th leading row holds the plain per-sample text positions, restarting at 0
  at each sample: that is transformers' convention for packed Qwen2-VL inputs (``position_ids`` of shape (4, 1, T)).
- Attention must not cross samples. Two ways, both exact:
  ``attention="varlen"`` (default): :func:`enable_varlen_attention` registers an attention function that cuts the
  row at the position resets and runs causal SDPA on each sample (flash kernel on GPU, no T×T mask, no compute on
  cross-sample blocks; an all-ones (1, T) 2-D ``attention_mask`` works too, see :func:`varlen_sdpa_mask`);
  ``attention="dense"``: no mask is passed and transformers builds a block-diagonal T×T mask
  from the text positions (works with stock ``sdpa``/``eager``/``flex_attention``, but SDPA then computes every
  block of the T×T matrix and cannot use the flash kernel).
- The label of each sample's first token is set to -100: after the causal shift it would be the target of the previous
  sample's last token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

IGNORE_INDEX = -100
VARLEN_ATTENTION = "redstar_varlen_sdpa"


def mrope_position_ids(
    input_ids: torch.Tensor, image_grid_thw: torch.Tensor | None, image_token_id: int, spatial_merge_size: int = 2
) -> torch.Tensor:
    """Qwen2-VL's 3-D rotary positions (3, L) for one unpadded sample.

    Text tokens get the same running index on all three axes. The ``t·(h/m)·(w/m)`` tokens of an image starting at
    index ``s`` get ``(s + t_i, s + h_i, s + w_i)``, and the text after it resumes at ``s + max(t, h/m, w/m)``.
    """
    ids = input_ids.tolist()
    grids = image_grid_thw.tolist() if image_grid_thw is not None else []
    chunks: list[torch.Tensor] = []  # each (3, n)
    pos, i, n_images = 0, 0, 0
    while i < len(ids):
        if ids[i] != image_token_id:
            j = i
            while j < len(ids) and ids[j] != image_token_id:
                j += 1
            chunks.append(torch.arange(pos, pos + j - i).expand(3, -1))
            pos += j - i
            i = j
            continue
        if n_images >= len(grids):
            raise ValueError(f"more image blocks in input_ids than the {len(grids)} rows of image_grid_thw")
        t, h, w = grids[n_images]
        h, w = h // spatial_merge_size, w // spatial_merge_size
        n = t * h * w
        if ids[i : i + n] != [image_token_id] * n:
            raise ValueError(f"image {n_images}: expected {n} consecutive image tokens at index {i}")
        t_idx = torch.arange(t).view(-1, 1, 1).expand(t, h, w).flatten()
        h_idx = torch.arange(h).view(1, -1, 1).expand(t, h, w).flatten()
        w_idx = torch.arange(w).view(1, 1, -1).expand(t, h, w).flatten()
        chunks.append(torch.stack([t_idx, h_idx, w_idx]) + pos)  # (3, n)
        pos += max(t, h, w)
        i += n
        n_images += 1
    if n_images != len(grids):
        raise ValueError(f"{len(grids)} rows of image_grid_thw but {n_images} image blocks in input_ids")
    if not chunks:
        return torch.zeros(3, 0, dtype=torch.long)
    return torch.cat(chunks, dim=1).long()


def pack_greedy(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Group sample indices, in order, into rows of at most ``max_tokens`` tokens (first fit over open rows).

    A sample longer than ``max_tokens`` gets a row of its own (it is never cut: a cut Long-CoT trace loses its answer).
    """
    rows: list[list[int]] = []
    room: list[int] = []
    for i, n in enumerate(lengths):
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(max(0, max_tokens - n))
    return rows


def _image_ids(config) -> tuple[int, int]:
    vision = getattr(config, "vision_config", None)
    return config.image_token_id, getattr(vision, "spatial_merge_size", 2)


def pack_samples(samples: Sequence[dict], config, attention: str = "varlen") -> dict:
    """Model inputs for one packed row: ``input_ids``/``labels`` (1, T), ``position_ids`` (4, 1, T), images.

    ``config`` is the model's config (image token id, merge size, layer types). ``attention="varlen"`` needs
    :func:`enable_varlen_attention` on the model; ``"dense"`` works with any stock attention implementation.
    """
    if attention not in ("varlen", "dense"):
        raise ValueError(f"attention must be 'varlen' or 'dense', not {attention!r}")
    image_token_id, merge = _image_ids(config)
    ids, labels, text_pos, mrope, pixels, grids = [], [], [], [], [], []
    for s in samples:
        x = s["input_ids"]
        n = x.shape[0]
        y = s["labels"].clone()
        y[0] = IGNORE_INDEX  # the previous sample's last token must not learn to predict this one
        grid = s.get("image_grid_thw")
        ids.append(x)
        labels.append(y)
        text_pos.append(torch.arange(n))
        mrope.append(mrope_position_ids(x, grid, image_token_id, merge))
        if grid is not None:
            pixels.append(s["pixel_values"])
            grids.append(grid)
    position_ids = torch.cat([torch.cat(text_pos)[None], torch.cat(mrope, dim=1)])  # (4, T)
    batch = {
        "input_ids": torch.cat(ids)[None],  # (1, T)
        "labels": torch.cat(labels)[None],  # (1, T)
        "position_ids": position_ids[:, None, :],  # (4, 1, T): row 0 = text positions, rows 1-3 = M-RoPE
        # With a KV cache transformers ignores the packed positions when building the mask (it assumes decoding), so
        # the dense mode would silently attend across samples; training never needs the cache anyway.
        "use_cache": False,
    }
    if grids:
        batch["pixel_values"] = torch.cat(pixels)  # (sum of patches, C·T·P·P)
        batch["image_grid_thw"] = torch.cat(grids)  # (n_images, 3)
    if attention == "varlen":
        # A prepared mask mapping short-circuits transformers' mask building: no T×T mask is materialised, and each
        # layer gets attention_mask=None, which the varlen function requires.
        layer_types = getattr(getattr(config, "text_config", config), "layer_types", None) or ["full_attention"]
        batch["attention_mask"] = dict.fromkeys(set(layer_types))
    return batch


def pad_samples(samples: Sequence[dict], config, pad_token_id: int) -> dict:
    """The plain alternative: a right-padded batch (B, L_max) with a 2-D attention mask and (3, B, L_max) M-RoPE.

    The positions are passed explicitly (the same numbers the model would compute) so that this works whatever
    extra inputs a transformers version wants for computing them itself.
    """
    image_token_id, merge = _image_ids(config)
    longest = max(s["input_ids"].shape[0] for s in samples)
    b = len(samples)
    input_ids = torch.full((b, longest), pad_token_id, dtype=torch.long)
    labels = torch.full((b, longest), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros(b, longest, dtype=torch.long)
    position_ids = torch.zeros(3, b, longest, dtype=torch.long)
    pixels, grids = [], []
    for r, s in enumerate(samples):
        n = s["input_ids"].shape[0]
        input_ids[r, :n] = s["input_ids"]
        labels[r, :n] = s["labels"]
        attention_mask[r, :n] = 1
        position_ids[:, r, :n] = mrope_position_ids(s["input_ids"], s.get("image_grid_thw"), image_token_id, merge)
        if s.get("image_grid_thw") is not None:
            pixels.append(s["pixel_values"])
            grids.append(s["image_grid_thw"])
    batch = {
        "input_ids": input_ids,
        "labels": labels,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "use_cache": False,
    }
    if grids:
        batch["pixel_values"] = torch.cat(pixels)
        batch["image_grid_thw"] = torch.cat(grids)
    return batch


def segment_bounds(position_ids: torch.Tensor) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the samples in a packed row, from its text positions (1, T) or (T,)."""
    pos = position_ids.reshape(-1)
    starts = torch.nonzero(pos[1:] != pos[:-1] + 1).flatten() + 1
    cuts = [0, *starts.tolist(), pos.shape[0]]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def varlen_sdpa_attention_forward(
    module, query, key, value, attention_mask, position_ids=None, scaling=None, dropout=0.0, **kwargs
):
    """Causal SDPA per packed sample; any other call (padding mask, KV cache, no packing) goes to stock SDPA.

    query (1, H, T, D), key/value (1, H_kv, T, D) -> output (1, T, H, D), as transformers' attention functions.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    packed = (
        attention_mask is None
        and position_ids is not None
        and query.shape[0] == 1
        and query.shape[2] == key.shape[2] > 1
    )
    if not packed:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    kwargs.pop("is_causal", None)
    outputs = []
    for start, end in segment_bounds(position_ids[0] if position_ids.dim() > 1 else position_ids):
        out, _ = sdpa_attention_forward(
            module,
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            None,
            dropout=dropout,
            scaling=scaling,
            is_causal=True,
            **kwargs,
        )  # (1, end - start, H, D)
        outputs.append(out)
    return torch.cat(outputs, dim=1), None


def varlen_sdpa_mask(
    batch_size: int,
    q_length: int,
    kv_length: int,
    q_offset: int = 0,
    kv_offset: int = 0,
    attention_mask: torch.Tensor | None = None,
    allow_is_causal_skip: bool = True,
    **kwargs,
):
    """Mask function of the varlen attention: no mask for plain causal self-attention over an unpadded row.

    The varlen function then cuts the row into samples at its position resets, so a packed row may carry an all-ones
    (1, T) ``attention_mask`` (what TRL counts tokens with). Stock ``sdpa_mask`` would return a full causal mask
    instead when tracing, and the row would silently attend across samples. Padding masks, sliding windows, KV-cache
    offsets and custom mask functions (``allow_is_causal_skip=False``) get ``sdpa_mask``.
    """
    from transformers.masking_utils import sdpa_mask

    if (
        allow_is_causal_skip
        and q_length == kv_length
        and kwargs.get("local_size") is None
        and (attention_mask is None or bool(attention_mask.all()))
    ):
        return None
    return sdpa_mask(
        batch_size,
        q_length,
        kv_length,
        q_offset,
        kv_offset,
        attention_mask=attention_mask,
        allow_is_causal_skip=allow_is_causal_skip,
        **kwargs,
    )


def enable_varlen_attention(model) -> None:
    """Make ``model``'s text decoder use :func:`varlen_sdpa_attention_forward` (the vision tower keeps SDPA).

    Unpacked batches (with a padding mask, or generation with a KV cache) still take the stock SDPA path.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    AttentionInterface.register(VARLEN_ATTENTION, varlen_sdpa_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(VARLEN_ATTENTION, varlen_sdpa_mask)
    text_config = getattr(model.config, "text_config", model.config)
    text_config._attn_implementation = VARLEN_ATTENTION
