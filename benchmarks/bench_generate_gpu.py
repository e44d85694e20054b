"""Generation throughput of an 8B-class VLM: plain ``model.generate`` vs redstar_geo's ``TransformersBackend``.

Usage:

    python benchmarks/bench_generate_gpu.py                 # one CUDA GPU: Qwen2-VL-7B shape, bf16, 512 new tokens
    python benchmarks/bench_generate_gpu.py --batch_sizes 1,32,128 --methods generate,backend_static --out $OUT/gen.md
    python benchmarks/bench_generate_gpu.py --tiny          # CPU smoke run: tiny Qwen2-VL, 8 new tokens

The model is Qwen2-VL-7B-Instruct's architecture (random weights, bf16, SDPA). Every prompt is the chat template
around one 448×448 image (256 image tokens) and a geometry question; every response is forced to exactly
``--new_tokens`` (512) tokens: ``min_new_tokens = max_new_tokens`` and no EOS token, greedy. The question is a GeoQA
problem in the prompt the ``geoqa`` benchmark unit writes (``get_benchmark("geoqa").prompt``), so it is what
evaluation sends. The processor is the tiny model's (``redstar_geo.tiny_model.build_tiny_processor``: a byte-level BPE
with Qwen2-VL's special tokens; ids out of its range decode to nothing), so the chat template, image tokens and M-RoPE
are the real ones and nothing is downloaded; the 7B-shaped config comes from the same builder as the tiny model.

Methods (each at each batch size, in this order, in one process):

- ``generate``: ``model.generate(**processor(batch), ...)``, dynamic KV cache, eager;
- ``backend``: ``TransformersBackend`` as configured by default (length-sorted left-padded batches);
- ``backend_static``: ``cache_implementation="static"`` (transformers then compiles the decode step itself);
- ``backend_static_compile``: ``compile=True`` (static cache and an explicit ``CompileConfig``: a compiled,
  CUDA-graphed decode step).

Each measurement is preceded by one untimed warm-up call of the same shape (compilation, CUDA graph capture and
autotuning happen there; its time is reported as ``warm-up s``). Generated tokens/s = batch × new tokens / wall
seconds of the timed call, preprocessing and decoding included for the backend. Rows print as they finish, and
``--out`` is rewritten after each, so a run cut short still leaves its table.

Imports only torch, transformers and redstar_geo (tiny_model, models, generation, benchmarks), no trl or datasets;
the Qwen2-VL image processor needs torchvision (or, failing that, Pillow).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sft_gpu import QWEN2_VL_7B, build_model  # noqa: E402

from redstar_geo.benchmarks import get_benchmark  # noqa: E402
from redstar_geo.generation import GenerationConfig, Request, TransformersBackend, request_messages  # noqa: E402
from redstar_geo.schema import Problem  # noqa: E402
from redstar_geo.tiny_model import CONFIG_TOKENS, build_tiny_model, build_tiny_processor, qwen2_vl_config  # noqa: E402

METHODS = ("generate", "backend", "backend_static", "backend_static_compile")
# GeoQA's first test problem; the prompt around it is the benchmark unit's, as evaluation builds it.
PROBLEM = Problem(
    id="geoqa-bench",
    source="geoqa",
    question="As shown in the figure, AB is the diameter of circle O, and point C is on the circle. If angle ABC = "
    "40°, then the measure of angle BAC is ( )",
    choices=["30°", "40°", "50°", "60°"],
    answer_letter="C",
    answer_type="choice",
)


def question() -> str:
    """The benchmark prompt of :data:`PROBLEM` under the ``choice`` protocol."""
    return get_benchmark("geoqa").prompt(PROBLEM, "choice")


def make_image(px: int, seed: int):
    """A random RGB diagram-sized image: PIL when available (what the backend gets from benchmarks), else a tensor."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (px, px, 3), generator=g, dtype=torch.uint8)
    if importlib.util.find_spec("PIL") is not None:
        from PIL import Image

        return Image.fromarray(pixels.numpy())
    return pixels.permute(2, 0, 1).contiguous()  # (3, H, W)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_generate(model, processor, requests, new_tokens: int, device: str) -> int:
    """Plain ``model.generate`` on the whole batch (left-padded, as the backend pads); returns generated tokens."""
    processor.tokenizer.padding_side = "left"
    inputs = processor.apply_chat_template(
        [request_messages(r) for r in requests],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True},
    ).to(device)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=processor.tokenizer.pad_token_id,
        )
    new = out.shape[1] - inputs["input_ids"].shape[1]  # (batch, prompt + new)
    if new != new_tokens:
        raise RuntimeError(f"generate made {new} new tokens, not {new_tokens}")
    return out.shape[0] * new


def run_backend(backend, requests, new_tokens: int) -> int:
    gens = backend.generate(requests)
    errors = [g.error for g in gens if g.error]
    if errors:
        raise RuntimeError(errors[0])
    if any(r != "length" for g in gens for r in g.finish_reasons):
        raise RuntimeError("a response stopped before the forced length")
    return len(requests) * new_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny model, float32, 8 new tokens")
    parser.add_argument("--batch_sizes", default=None, help="comma-separated (default 1,32,64,128; tiny 1,4)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {METHODS}")
    parser.add_argument("--new_tokens", type=int, default=None, help="forced response length (512; tiny 8)")
    parser.add_argument("--image_px", type=int, default=None, help="square image side (448; tiny 112)")
    parser.add_argument("--out", default=None, help="markdown table path (rewritten after every row; + .json)")
    args = parser.parse_args()

    tiny = args.tiny
    batch_sizes = [int(b) for b in (args.batch_sizes or ("1,4" if tiny else "1,32,64,128")).split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if set(methods) - set(METHODS):
        parser.error(f"unknown methods {sorted(set(methods) - set(METHODS))}; choose from {METHODS}")
    new_tokens = args.new_tokens or (8 if tiny else 512)
    px = args.image_px or (112 if tiny else 448)
    device = "cpu" if tiny else "cuda"
    if not tiny and not torch.cuda.is_available():
        parser.error("no CUDA device: run with --tiny for the CPU smoke run")
    dtype = torch.float32 if tiny else torch.bfloat16

    t0 = time.perf_counter()
    if tiny:
        import tempfile

        from redstar_geo.models import load_model_and_processor

        path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", max_image_pixels=px * px)
        model, processor = load_model_and_processor(str(path), torch_dtype="float32", attn_implementation="sdpa")
    else:
        processor = build_tiny_processor(max_image_pixels=px * px)
        ids = {token: processor.tokenizer.convert_tokens_to_ids(token) for token in CONFIG_TOKENS}
        model = build_model(qwen2_vl_config(**QWEN2_VL_7B, token_ids=ids), device, dtype)
    tok = processor.tokenizer
    model.eval()
    # No EOS: every response runs to the forced length, so every method does the same work.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.min_new_tokens = new_tokens  # the backend does not pass min_new_tokens itself
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model: Qwen2-VL {'tiny' if tiny else '7B'} shape, {n_params / 1e6:,.1f}M parameters, {dtype}, "
        f"built in {time.perf_counter() - t0:.0f}s on {device}",
        flush=True,
    )

    prompt = question()
    requests_all = [Request(f"p{i}", f"[{i}] {prompt}", make_image(px, i)) for i in range(max(batch_sizes))]
    prompt_len = processor.apply_chat_template(
        [request_messages(requests_all[0])],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
    )["input_ids"].shape[1]
    header = [
        f"Generation throughput, Qwen2-VL-{'tiny' if tiny else '7B'} shape ({n_params / 1e9:.2f}B params, {dtype}, "
        f"sdpa), greedy, {new_tokens} forced new tokens, one {px}x{px} image + question per prompt "
        f"(~{prompt_len} prompt tokens); generated tokens/s (warm-up s)",
        "",
        "| method | " + " | ".join(f"batch {b}" for b in batch_sizes) + " |",
        "| --- | " + " | ".join("---" for _ in batch_sizes) + " |",
    ]
    results: dict[str, dict[int, dict]] = {}

    def write_table():
        rows = []
        for m in methods:
            cells = []
            for b in batch_sizes:
                r = results.get(m, {}).get(b)
                if r is None:
                    cells.append("-")
                elif "error" in r:
                    cells.append(r["error"][:60])
                else:
                    cells.append(f"{r['tokens_per_s']:,.0f} ({r['warmup_s']:.0f})")
            rows.append(f"| {m} | " + " | ".join(cells) + " |")
        table = "\n".join(header + rows)
        if args.out:
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(table + "\n", encoding="utf-8")
            out.with_suffix(".json").write_text(
                json.dumps({"args": vars(args), "results": results}, indent=2), encoding="utf-8"
            )
        return table

    for method in methods:
        backend = None
        if method != "generate":
            gen_config = GenerationConfig(
                backend="transformers",
                model="(in memory)",
                max_new_tokens=new_tokens,
                temperature=0.0,
                batch_size=max(batch_sizes),
                cache_implementation="static" if "static" in method else None,
                compile=method.endswith("compile"),
            )
            backend = TransformersBackend(gen_config, model, processor)
        try:
            for b in batch_sizes:
                requests = requests_all[:b]
                if backend is not None:
                    backend.config.batch_size = b

                def call(requests=requests, backend=backend):
                    if backend is None:
                        return run_generate(model, processor, requests, new_tokens, device)
                    return run_backend(backend, requests, new_tokens)

                try:
                    sync(device)
                    t_warm = time.perf_counter()
                    call()
                    sync(device)
                    warm = time.perf_counter() - t_warm
                    t_run = time.perf_counter()
                    n = call()
                    sync(device)
                    seconds = time.perf_counter() - t_run
                    res = {"tokens": n, "seconds": seconds, "tokens_per_s": n / seconds, "warmup_s": warm}
                    print(
                        f"{method} batch {b}: {n} tokens in {seconds:.1f}s -> {n / seconds:,.1f} tok/s "
                        f"(warm-up {warm:.1f}s)",
                        flush=True,
                    )
                except Exception as exc:  # noqa: BLE001 - an OOM or compile failure is a result; go on with the rest
                    res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
                    print(f"{method} batch {b}: {res['error']}", flush=True)
                    if device.startswith("cuda"):
                        torch.cuda.empty_cache()
                results.setdefault(method, {})[b] = res
                write_table()
        finally:
            if hasattr(torch, "_dynamo"):
                torch._dynamo.reset()
    print("\n" + write_table())


if __name__ == "__main__":
    main()
