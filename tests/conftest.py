import os
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


def run_script(*args: str, cwd: Path = ROOT, timeout: float = 600):
    """Run a repo script with this interpreter; returns the CompletedProcess (text mode)."""
    import subprocess

    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
