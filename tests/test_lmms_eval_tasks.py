"""The lmms-eval tasks in lmms_eval_tasks/: their hooks without lmms-eval, then the tasks through lmms-eval itself
(skipped unless it is installed; see the README for the install that keeps this project's pins)."""

import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from PIL import Image

from redstar_geo.benchmarks import get_benchmark
from redstar_geo.jsonl import DataError
from redstar_geo.schema import Problem

TASKS_DIR = ROOT / "lmms_eval_tasks"
UTILS = TASKS_DIR / "redstar_geo" / "utils.py"


@pytest.fixture(scope="module")
def utils():
    spec = importlib.util.spec_from_file_location("redstar_lmms_utils", UTILS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundled(assets, monkeypatch):
    """The test assets stand in for ../shared/data: the tasks' manifests say data: null (the bundled copy)."""
    monkeypatch.setenv("REDSTAR_GEO_DATA", str(assets))
    return assets


def test_utils_import_only_redstar_geo_and_stdlib():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('u', {str(UTILS)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted(m for m in ('lmms_eval', 'datasets', 'torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_manifests_name_the_three_benchmarks(utils):
    for bench in ("geoqa", "mathvista_geo", "geometry3k"):
        (row,) = [json.loads(line) for line in (TASKS_DIR / "redstar_geo" / "manifests" / f"{bench}.jsonl").open()]
        # protocol null: the benchmark's default (choice for GeoQA and MathVista, value for Geometry3K)
        assert row == {"bench": bench, "protocol": None, "data": None, "image_root": None, "split": None}
        assert f"test: manifests/{bench}.jsonl" in (TASKS_DIR / "redstar_geo" / f"redstar_{bench}.yaml").read_text()


def test_geoqa_docs_prompt_and_scoring(utils, bundled):
    docs = utils.problem_docs([{"bench": "geoqa", "protocol": None, "data": None}])
    assert [d["id"] for d in docs] == ["0", "1", "2", "88"]
    assert [d["answer"] for d in docs] == ["D", "C", "A", "B"]
    problem = get_benchmark("geoqa").load_default()[0]
    doc = docs[0]
    assert utils.to_problem(doc) == problem
    text = utils.doc_to_text(doc, None)
    assert text == get_benchmark("geoqa").prompt(problem, "choice")
    assert "D. 140°" in text and text.endswith("for example \\boxed{A}.")
    assert utils.doc_to_text(doc, {"pre_prompt": "<image>\n"}).startswith("<image>\nAs shown in the figure")
    right = "angle CED = 180° - 40° = 140°, so the answer is \\boxed{D}"
    assert utils.process_results(doc, [right]) == {"accuracy": 100.0, "no_answer": 0.0}
    assert utils.process_results(doc, ["... Answer: A"]) == {"accuracy": 0.0, "no_answer": 0.0}
    assert utils.process_results(doc, ["I cannot tell from the figure."]) == {"accuracy": 0.0, "no_answer": 100.0}
    assert utils.process_results(doc, ["Answer: 140°"])["accuracy"] == 100.0  # the choice's text counts too


def test_value_protocol_and_other_benchmarks(utils, bundled):
    (doc, *_) = utils.problem_docs([{"bench": "geoqa", "protocol": "value"}])
    assert doc["answer"] == "140°" and "Choices" not in utils.doc_to_text(doc)
    mathvista = utils.problem_docs([{"bench": "mathvista_geo"}])
    zh = next(d for d in mathvista if utils.to_problem(d).language == "zh")
    assert "请先逐步推理" in utils.doc_to_text(zh)
    assert utils.process_results(zh, [f"故选{zh['answer']}"])["accuracy"] == 100.0
    geometry3k = utils.problem_docs([{"bench": "geometry3k"}])
    protocol = get_benchmark("geometry3k").protocols[0]
    assert len(geometry3k) == 4 and all(d["protocol"] == protocol for d in geometry3k)
    with pytest.raises(DataError, match="protocol 'value' is not available"):
        utils.problem_docs([{"bench": "mathvista_geo", "protocol": "value"}])


def test_doc_to_visual(utils, bundled, tmp_path):
    docs = utils.problem_docs([{"bench": "geoqa", "image_root": str(tmp_path)}])
    (tmp_path / "test").mkdir()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "test" / "0.png")
    (image,) = utils.doc_to_visual(docs[0])
    assert image.size == (64, 48) and image.mode == "RGB"
    assert utils.doc_to_visual(docs[1]) == []  # file missing: text only, logged, no exception
    text_only = Problem(id="t", source="mathverse", question="Find x.", answer="3", answer_type="integer")
    assert utils.doc_to_visual({"problem": json.dumps(text_only.to_dict())}) == []


def test_process_docs_builds_a_dataset(utils, bundled):
    pytest.importorskip("datasets")
    dataset = utils.process_docs([{"bench": "geoqa", "protocol": "choice"}])
    assert len(dataset) == 4 and dataset[3]["id"] == "88" and dataset[3]["answer"] == "B"


def test_tasks_load_through_lmms_eval(bundled):
    pytest.importorskip("lmms_eval")
    from lmms_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(TASKS_DIR), verbosity="ERROR")
    names = ["redstar_geoqa", "redstar_mathvista_geo", "redstar_geometry3k"]
    assert set(names + ["redstar_geo"]) <= set(manager.all_tasks)
    tasks = get_task_dict(names, manager)
    for name in names:
        task = tasks[name]
        docs = list(task.test_docs())
        assert len(docs) == 4
        bench = get_benchmark(name.removeprefix("redstar_"))
        problem = Problem.from_dict(json.loads(docs[0]["problem"]))
        assert task.doc_to_text(docs[0]) == bench.prompt(problem, bench.protocols[0])
        result = task.process_results(docs[0], [f"\\boxed{{{task.doc_to_target(docs[0])}}}"])
        assert result == {"accuracy": 100.0, "no_answer": 0.0}
        assert task.config.generation_kwargs["until"] == []
        assert set(task.aggregation()) == {"accuracy", "no_answer"}
