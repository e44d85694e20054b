"""The Gradio demo: ask a geometry question about a diagram and watch the model's reasoning stream.

Usage:

    python demo/app.py                                             # the embedded tiny model on http://127.0.0.1:7860
    python demo/app.py --model Qwen/Qwen2-VL-7B-Instruct --dtype bfloat16         # any supported model, in-process
    python demo/app.py --endpoint http://127.0.0.1:8000/v1 --model served-name    # an OpenAI-compatible server (vLLM)
    python demo/app.py --host 0.0.0.0 --port 8080 --concurrency_limit 4           # reachable from the network
    python demo/app.py --share                                                    # a public gradio.live link

Needs the demo extra: pip install -e ".[train,demo]". Binds 127.0.0.1 and creates no share link unless asked;
--help lists the limits (upload size, image pixels, queue, concurrency) and the generation defaults.

Exit status: 0 stopped (Ctrl-C); 1 gradio missing or the model cannot be loaded; 2 a bad option.
"""

import logging
import sys

from redstar_geo.config import parse_config
from redstar_geo.demo import DemoConfig, build_demo, launch, load_backend
from redstar_geo.models import ModelLoadError


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    (config,) = parse_config(DemoConfig)  # a bad option: argparse's usage error, exit 2
    try:
        backend = load_backend(config)
        demo = build_demo(backend, config)
    except (ImportError, ModelLoadError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    launch(demo, config)


if __name__ == "__main__":
    main()
