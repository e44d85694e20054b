import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent / "assets"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def assets() -> Path:
    return ASSETS


@pytest.fixture
def shared_data() -> Path:
    """The real benchmark files in ../shared/data (CI has them); skipped where a checkout has none."""
    from redstar_geo.benchmarks import data_dir

    path = data_dir()
    if not (path / "geoqa" / "test_questions.jsonl").exists():
        pytest.skip(f"no shared benchmark data at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """The tiny random Qwen2-VL (redstar_geo.tiny_model.build_tiny_model), built once per run; tests only read it."""
    from redstar_geo.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2vl")


@pytest.fixture(scope="session")
def processor(tiny_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_dir)


def run_script(*args: str, cwd: Path = ROOT, timeout: float = 600):
    """Run a repo script with this interpreter; returns the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def train_sft(args: list[str]):
    """Run train/sft_geo.py with ``args`` offline (no hub, no tokenizer threads); asserts it succeeded."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train" / "sft_geo.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
