"""SFT training throughput of an 8B-class VLM: plain padded batches vs padding-free packing, on the same samples.

Usage:

    python benchmarks/bench_sft_gpu.py                      # one CUDA GPU (H100 80 GB): Qwen2-VL-7B shape, bf16
    python benchmarks/bench_sft_gpu.py --steps 10 --warmup 2 --max_tokens_per_batch 16384 --out $OUT/sft.md
    python benchmarks/bench_sft_gpu.py --tiny               # CPU smoke run: tiny Qwen2-VL, float32, short samples

The model is Qwen2-VL-7B-Instruct's architecture (8.3B parameters, random weights, no download) in bf16 with SDPA
attention and gradient checkpointing. Each sample is one 448×448 image (random pixels, 32×32 patches of 14 px ->
256 image tokens after the 2×2 merge) inside a chat prompt, then a Long-CoT response; total lengths are drawn
uniformly from 1k-8k tokens (seeded). The loss is on the response tokens only. Methods, timed on the same samples:

- ``padded``: plain transformers: batches of ``--pad_batch`` (2) samples right-padded to the longest, with a 2-D
  attention mask (transformers turns it into a 4-D SDPA mask);
- ``packed``: ``redstar_geo.packing``: samples concatenated into one row of at most ``--max_tokens_per_batch``
  tokens, per-sample M-RoPE positions, and causal SDPA run per sample (``enable_varlen_attention``): no padding, no
  T×T mask, no compute across samples;
- ``packed_dense``: the same rows with transformers' own packed-sequence detection (block-diagonal T×T SDPA mask).

A step is forward + backward (``--optimizer none``, the default: full AdamW states for 8.3B parameters do not fit in
80 GB beside the activations) or forward + backward + AdamW step (``--optimizer adamw``). Reported: useful
(non-padding) tokens/s, MFU = model FLOPs of the useful tokens (6·N per token for the matmuls, causal attention,
the vision tower; recomputation by checkpointing not counted) / time / peak bf16 matmul FLOP/s measured here with
8192×8192 matmuls, and ``torch.cuda.max_memory_allocated``.

Imports only torch, transformers and redstar_geo.packing / redstar_geo.tiny_model (no trl, no datasets): the model
config comes from ``redstar_geo.tiny_model.qwen2_vl_config``, the builder of the tiny test model.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from pathlib import Path

import torch

from redstar_geo.packing import IGNORE_INDEX, enable_varlen_attention, pack_greedy, pack_samples, pad_samples
from redstar_geo.tiny_model import qwen2_vl_config

# Qwen2-VL-7B-Instruct's config.json, the sizes that matter for cost (redstar_geo.tiny_model.qwen2_vl_config's
# arguments), and Qwen2's special token ids.
QWEN2_VL_7B = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_layers": 28,
    "num_heads": 28,
    "num_kv_heads": 4,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "vision_depth": 32,
    "vision_embed_dim": 1280,
    "vision_num_heads": 16,
    "vision_mlp_ratio": 4,
}
QWEN2_VL_TOKEN_IDS = {
    "<|endoftext|>": 151643,
    "<|im_end|>": 151645,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
}
# --tiny: the tiny test model's shape (qwen2_vl_config's defaults) with the special tokens at the top of a small
# vocabulary; no tokenizer is involved, the samples are random ids.
TINY = {"vocab_size": 1024}
TINY_TOKEN_IDS = {
    "<|image_pad|>": 1000,
    "<|video_pad|>": 1001,
    "<|vision_start|>": 1002,
    "<|vision_end|>": 1003,
    "<|im_end|>": 1004,
    "<|endoftext|>": 1005,
}


def build_model(config, device: str, dtype: torch.dtype, attn: str = "sdpa"):
    """Random weights straight on ``device`` (no 33 GB fp32 detour through host memory)."""
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype, attn_implementation=attn)
    return model


def make_samples(config, n: int, min_len: int, max_len: int, image_px: int, seed: int) -> list[dict]:
    """``n`` chat samples: system + user text around one image block, then a response; lengths ~ U[min, max]."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    vocab, vis = config.text_config.vocab_size, config.vision_config
    grid = image_px // vis.patch_size  # 448 / 14 = 32 patches a side
    n_image = grid * grid // vis.spatial_merge_size**2  # 256 tokens after the 2×2 merge
    patch_dim = 3 * vis.temporal_patch_size * vis.patch_size**2  # 1176 values per patch
    special = min(
        config.image_token_id,
        config.video_token_id,
        config.vision_start_token_id,
        config.vision_end_token_id,
        config.text_config.pad_token_id,
        config.text_config.eos_token_id,
    )
    words = lambda k: torch.randint(0, min(vocab, special), (k,), generator=g)  # ordinary (non-special) ids
    samples = []
    for _ in range(n):
        total = rng.randint(min_len, max_len)
        n_before, n_question = 20, 60  # system prompt + "<|im_start|>user\n"; question + "<|im_start|>assistant\n"
        n_response = max(8, total - n_before - n_image - 2 - n_question)
        ids = torch.cat(
            [
                words(n_before),
                torch.tensor([config.vision_start_token_id]),
                torch.full((n_image,), config.image_token_id),
                torch.tensor([config.vision_end_token_id]),
                words(n_question),
                words(n_response),
            ]
        )
        labels = ids.clone()
        labels[: ids.shape[0] - n_response] = IGNORE_INDEX
        samples.append(
            {
                "input_ids": ids,
                "labels": labels,
                "pixel_values": torch.randn(grid * grid, patch_dim, generator=g),  # (1024, 1176) normalised patches
                "image_grid_thw": torch.tensor([[1, grid, grid]]),
            }
        )
    return samples


def model_flops(model, sample: dict) -> float:
    """Training FLOPs (forward + backward = 3 × forward) of one sample, without checkpointing's recomputation."""
    cfg, vis = model.config.text_config, model.config.vision_config
    lm = model.model.language_model
    n_matmul = sum(p.numel() for p in lm.layers.parameters()) + model.lm_head.weight.numel()
    n_vision = sum(p.numel() for p in model.model.visual.parameters())
    s = sample["input_ids"].shape[0]
    patches = int(sample["image_grid_thw"].prod(-1).sum())
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    # causal attention: QKᵀ and AV each 2·s²·H·D, halved by causality -> 2·s²·H·D per layer forward
    attn = 2 * s * s * cfg.num_attention_heads * head_dim * cfg.num_hidden_layers
    # the vision tower attends fully within an image: 4·p²·d per block forward
    vis_attn = 4 * patches * patches * vis.embed_dim * vis.depth
    # 2·N per token forward for the linear layers (the merger sees 4× fewer, 4× wider tokens: same count)
    forward = 2 * n_matmul * s + 2 * n_vision * patches + attn + vis_attn
    return 3.0 * forward


def measure_matmul_peak(device: str, n: int = 8192, iters: int = 50) -> float:
    """Achieved bf16 dense matmul FLOP/s: the denominator of MFU."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * iters / (time.perf_counter() - t0)


def to_device(batch: dict, device: str, dtype: torch.dtype) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            out[k] = v.to(dtype) if v.is_floating_point() else v
        else:
            out[k] = v
    return out


def run_method(name, model, batches, n_warmup, optimizer, device, dtype) -> dict:
    """Train on ``batches`` (the first ``n_warmup`` untimed); returns time, tokens and peak memory."""
    cuda = device.startswith("cuda")
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    losses = []
    t0 = None
    for i, batch in enumerate(batches):
        if i == n_warmup:
            sync()
            t0 = time.perf_counter()
        loss = model(**to_device(batch, device, dtype)).loss
        loss.backward()
        if optimizer is not None:
            optimizer.step()
        model.zero_grad(set_to_none=True)  # frees the gradients: peak memory includes them during backward only
        losses.append(loss.detach())
    sync()
    seconds = time.perf_counter() - t0
    timed = batches[n_warmup:]
    useful = sum(
        int((b["attention_mask"] != 0).sum())
        if isinstance(b.get("attention_mask"), torch.Tensor)
        else b["input_ids"].numel()
        for b in timed
    )
    computed = sum(b["input_ids"].numel() for b in timed)
    return {
        "method": name,
        "steps": len(timed),
        "seconds": seconds,
        "useful_tokens": useful,
        "computed_tokens": computed,
        "tokens_per_s": useful / seconds,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "mean_loss": float(torch.stack(losses).float().mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny model, float32, short samples")
    parser.add_argument("--steps", type=int, default=None, help="timed packed rows (default 10; tiny 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed packed rows first (default 2; tiny 1)")
    parser.add_argument("--max_tokens_per_batch", type=int, default=None, help="packed row budget (16384; tiny 1024)")
    parser.add_argument("--pad_batch", type=int, default=2, help="samples per padded batch")
    parser.add_argument("--min_len", type=int, default=None, help="shortest sample, tokens (1024; tiny 64)")
    parser.add_argument("--max_len", type=int, default=None, help="longest sample, tokens (8192; tiny 400)")
    parser.add_argument("--methods", default="padded,packed,packed_dense", help="comma-separated, in run order")
    parser.add_argument(
        "--optimizer",
        choices=["none", "adamw"],
        default="none",
        help="none: forward+backward; adamw: + torch AdamW step (states in the params' dtype)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the markdown table here (and the numbers as .json)")
    args = parser.parse_args()

    tiny = args.tiny
    steps = args.steps or (3 if tiny else 10)
    warmup = args.warmup if args.warmup is not None else (1 if tiny else 2)
    budget = args.max_tokens_per_batch or (1024 if tiny else 16384)
    min_len, max_len = args.min_len or (64 if tiny else 1024), args.max_len or (400 if tiny else 8192)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - {"padded", "packed", "packed_dense"}
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    device = "cpu" if tiny else "cuda"
    if not tiny and not torch.cuda.is_available():
        parser.error("no CUDA device: run with --tiny for the CPU smoke run")
    dtype = torch.float32 if tiny else torch.bfloat16
    image_px = 112 if tiny else 448

    if tiny:
        config = qwen2_vl_config(**TINY, token_ids=TINY_TOKEN_IDS)
    else:
        config = qwen2_vl_config(**QWEN2_VL_7B, token_ids=QWEN2_VL_TOKEN_IDS)
    t_build = time.perf_counter()
    model = build_model(config, device, dtype)
    model.config.use_cache = False
    # transformers >= 5.2x renamed it (the old name warns); 5.17 on the GPU machine may only have the old one
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable({"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model: Qwen2-VL {'tiny' if tiny else '7B'} shape, {n_params / 1e6:,.1f}M parameters, {dtype}, "
        f"built in {time.perf_counter() - t_build:.0f}s on {device}",
        flush=True,
    )

    # Enough samples that the first warmup + steps packed rows are full; the padded runs get exactly those samples.
    n_samples = (warmup + steps) * max(1, budget // min_len) + 8
    samples = make_samples(config, n=n_samples, min_len=min_len, max_len=max_len, image_px=image_px, seed=args.seed)
    rows = pack_greedy([s["input_ids"].shape[0] for s in samples], budget)[: warmup + steps]
    if len(rows) < warmup + steps:
        raise SystemExit("not enough samples for the requested steps")
    warm_ids = sorted(i for r in rows[:warmup] for i in r)
    timed_ids = sorted(i for r in rows[warmup:] for i in r)

    def padded_batches(ids):
        return [
            pad_samples([samples[i] for i in ids[k : k + args.pad_batch]], config, config.text_config.pad_token_id)
            for k in range(0, len(ids), args.pad_batch)
        ]

    optimizer = None
    if args.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=False, fused=device.startswith("cuda"))
    flops = sum(model_flops(model, samples[i]) for i in timed_ids)
    peak = None if tiny else measure_matmul_peak(device)
    if peak:
        print(f"measured bf16 matmul peak: {peak / 1e12:.0f} TFLOP/s (8192x8192)", flush=True)

    results = []
    for method in methods:
        if method == "padded":
            warm, timed = padded_batches(warm_ids), padded_batches(timed_ids)
        else:
            mode = "varlen" if method == "packed" else "dense"
            warm = [pack_samples([samples[i] for i in r], config, attention=mode) for r in rows[:warmup]]
            timed = [pack_samples([samples[i] for i in r], config, attention=mode) for r in rows[warmup:]]
        if method == "packed":
            enable_varlen_attention(model)
        else:
            model.config.text_config._attn_implementation = "sdpa"
        try:
            res = run_method(
                method,
                model,
                warm + timed,
                n_warmup=len(warm),
                optimizer=optimizer,
                device=device,
                dtype=dtype,
            )
        except torch.OutOfMemoryError as exc:
            res = {"method": method, "error": f"OOM: {str(exc).splitlines()[0]}"}
            model.zero_grad(set_to_none=True)
        if "error" not in res:
            res["mfu"] = flops / res["seconds"] / peak if peak else None
            print(
                f"{method}: {res['steps']} steps, {res['useful_tokens']} useful tokens in {res['seconds']:.1f}s "
                f"-> {res['tokens_per_s']:,.0f} tok/s, mean loss {res['mean_loss']:.4f}",
                flush=True,
            )
        else:
            print(f"{method}: {res['error']}", flush=True)
        results.append(res)

    step_kind = "forward+backward" if optimizer is None else "forward+backward+AdamW step"
    base = next((r for r in results if r["method"] == "padded" and "error" not in r), None)
    lines = [
        f"SFT throughput, Qwen2-VL-{'tiny' if tiny else '7B'} shape ({n_params / 1e9:.2f}B params, {dtype}, sdpa, "
        f"gradient checkpointing), {step_kind}; {len(timed_ids)} samples of {min_len}-{max_len} tokens with one "
        f"{image_px}x{image_px} image each; packed rows <= {budget} tokens, padded batches of {args.pad_batch}"
        + (f"; MFU vs measured bf16 matmul peak {peak / 1e12:.0f} TFLOP/s" if peak else ""),
        "",
        "| method | steps | useful tokens/s | padding | MFU | peak memory | vs padded |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['method']} | - | {r['error']} | - | - | - | - |")
            continue
        pad = 1 - r["useful_tokens"] / r["computed_tokens"]
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") else "n/a"
        mem = f"{r['peak_mem_gib']:.1f} GiB" if r["peak_mem_gib"] is not None else "n/a"
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "n/a"
        lines.append(
            f"| {r['method']} | {r['steps']} | {r['tokens_per_s']:,.0f} | {100 * pad:.0f}% | {mfu} | {mem} | {ratio} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n", encoding="utf-8")
        out.with_suffix(".json").write_text(
            json.dumps({"args": vars(args), "n_params": n_params, "peak_flops": peak, "results": results}, indent=2),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
