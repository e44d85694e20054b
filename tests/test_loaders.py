"""Every benchmark loader on small fixtures of each format, and on the whole bundled files."""

import importlib
import json
import shutil
from collections import Counter

import pytest
from conftest import run_script

from redstar_geo.benchmark_check import check_benchmark_data
from redstar_geo.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from redstar_geo.benchmarks.common import SAVED_DATASET, find_data, is_hub_id
from redstar_geo.benchmarks.geometry3k import load_geometry3k
from redstar_geo.benchmarks.geoqa import load_geoqa, split_question_text
from redstar_geo.benchmarks.mathverse import load_mathverse
from redstar_geo.benchmarks.mathvista_geo import load_mathvista_geo
from redstar_geo.images import check_images
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem, ProblemError


def test_geoqa_questions_and_answers(assets):
    problems = load_geoqa(str(assets / "geoqa/test_questions.jsonl"))
    assert [p.id for p in problems] == ["0", "1", "2", "88"]
    p = problems[0]
    assert p.choices == ["40°", "60°", "120°", "140°"]
    assert (p.answer_letter, p.gold_value, p.answer_type) == ("D", "140°", "choice")
    assert p.question.startswith("As shown in the figure, in triangle ABC") and "Choices" not in p.question
    assert p.image == str(assets / "geoqa/test/0.png")


def test_geoqa_r1v_form_ids_match_questions_form(assets):
    r1v = load_geoqa(str(assets / "geoqa/r1v_test_prompts.jsonl"))
    questions = {p.id: p for p in load_geoqa(str(assets / "geoqa/test_questions.jsonl"))}
    for p in r1v:
        assert p.choices == [] and p.answer == questions[p.id].gold_value
        assert p.image.endswith(f"test/{p.id}.png")


def test_geoqa_original_layout(assets):
    problems = load_geoqa(str(assets / "geoqa_original/json"))
    assert [p.id for p in problems] == ["0", "1"]
    assert (problems[0].answer_letter, problems[0].language) == ("D", "en")
    assert problems[0].metadata["problem_zh"].startswith("如图")
    assert (problems[1].answer_letter, problems[1].language) == ("B", "zh")  # only the Chinese text
    assert problems[0].load_image().size == (64, 48)


def test_geoqa_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    ds = datasets.Dataset.from_dict(
        {
            "question": ["<image>Find angle 2.", "Find AB."],
            "choices": [["50°", "130°", "40°", "140°"], ["3", "4", "5", "6"]],
            "answer": ["B", "5"],
            "image": [Image.new("RGB", (20, 10), "white"), Image.new("RGB", (8, 8), "black")],
        }
    ).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "geoqa_hf"))
    problems = load_geoqa(str(tmp_path / "geoqa_hf"))
    assert [(p.question, p.answer_letter, p.gold_value) for p in problems] == [
        ("Find angle 2.", "B", "130°"),
        ("Find AB.", "C", "5"),
    ]
    assert problems[0].load_image().size == (20, 10)


def test_split_question_text_rejects_bad_letters():
    with pytest.raises(ValueError, match="not A, B, C"):
        split_question_text("Question: x\nChoices:\nA:1\nC:2")


def test_mathvista_geo(assets):
    issues = IssueLog()
    problems = load_mathvista_geo(str(assets / "mathvista/testmini.json"), issues=issues)
    assert "1" not in {p.id for p in problems}  # a non-geometry task is left out
    by_id = {p.id: p for p in problems}
    zh = by_id["3"]
    assert (zh.language, zh.answer_letter, zh.gold_value) == ("zh", "C", "145°")
    assert any(len(p.choices) == 5 for p in problems)
    free = next(p for p in problems if not p.choices)
    assert free.answer_type == "integer" and free.answer_letter is None
    assert not issues


def test_mathvista_hf_columns(tmp_path, assets):
    datasets = pytest.importorskip("datasets")
    records = list(json.loads((assets / "mathvista/testmini.json").read_text()).values())
    rows = {
        k: [r[k] for r in records]
        for k in ("pid", "question", "image", "choices", "unit", "precision", "answer", "question_type", "answer_type")
    }
    rows["metadata"] = [r["metadata"] for r in records]
    path = tmp_path / "mathvista.parquet"
    datasets.Dataset.from_dict(rows).to_parquet(str(path))
    problems = load_mathvista_geo(str(path), image_root=str(tmp_path))
    assert {p.id for p in problems} == {p.id for p in load_mathvista_geo(str(assets / "mathvista/testmini.json"))}


def test_geometry3k_messages_form(assets):
    problems = load_geometry3k(str(assets / "geometry3k/test.jsonl"))
    p = problems[0]
    assert (p.id, p.question, p.answer, p.choices) == ("2401", "Find the area of the figure.", "60", [])
    assert "<think>" not in "".join(q.question for q in problems)
    assert any("sqrt" in q.answer and q.answer_type == "text" for q in problems)
    assert any(q.answer_type == "float" for q in problems)


def test_geometry3k_intergps_layout(assets):
    problems = load_geometry3k(str(assets / "intergps"), split="test")
    assert [(p.id, p.answer_letter, p.gold_value) for p in problems] == [("2401", "B", "7"), ("2402", "D", "124")]
    assert problems[0].metadata["problem_type_goal"] == ["Length"]
    assert problems[0].load_image().size == (64, 48)


def test_geometry3k_hf_columns(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    ds = datasets.Dataset.from_dict(
        {
            "images": [[Image.new("RGB", (12, 12), "white")], [Image.new("RGB", (12, 12), "white")]],
            "problem": ["<image>Find x.", "<image>Find y."],
            "answer": ["3", "2\\sqrt{3}"],
        }
    ).cast_column("images", datasets.Sequence(datasets.Image()))
    ds.save_to_disk(str(tmp_path / "g3k"))
    problems = load_geometry3k(str(tmp_path / "g3k"))
    assert [(p.question, p.answer, p.answer_type) for p in problems] == [
        ("Find x.", "3", "integer"),
        ("Find y.", "2\\sqrt{3}", "text"),
    ]
    assert problems[1].load_image().size == (12, 12)


def test_mathverse_sample(assets):
    problems = {p.id: p for p in load_mathverse(str(assets / "mathverse/testmini_sample.json"))}
    assert problems["33"].answer_letter == "CD" and len(problems["33"].choices) == 4
    assert problems["41"].choices[4].startswith("$\\hline") and len(problems["41"].choices) == 6
    assert problems["169"].answer_letter == "B"  # "(B)" in the source
    assert problems["4"].image is None and problems["4"].metadata["problem_version"] == "Text Only"
    errors = check_images(problems.values())
    assert set(errors) == {"99"} and "99.png: file not found" in errors["99"]


def test_mathverse_lower_case_gold_letter(tmp_path):
    record = {"pid": "7", "question": "Which is it?", "choices": ["A:1", "B:2", "C:3", "D:4"], "answer": "d"}
    path = tmp_path / "testmini.json"
    path.write_text(json.dumps([{**record, "question_type": "multi_choice", "metadata": {}}]))
    (problem,) = load_mathverse(str(path))
    assert (problem.answer_letter, problem.choices) == ("D", ["1", "2", "3", "4"])


def test_bad_records_are_reported_not_fatal(tmp_path, assets):
    q = tmp_path / "test_questions.jsonl"
    lines = (assets / "geoqa/test_questions.jsonl").read_text().splitlines()
    q.write_text("\n".join([lines[0], "{not json", json.dumps({"question_id": 7}), lines[0]]) + "\n")
    (tmp_path / "test_answers.jsonl").write_text('{"question_id": 0, "text": "D"}\n')
    issues = IssueLog()
    problems = load_geoqa(str(q), issues=issues)
    assert [p.id for p in problems] == ["0"]
    messages = [str(i) for i in issues]
    assert any(f"{q}:2: invalid JSON" in m for m in messages)
    assert any(f"{q}:3:" in m for m in messages)
    assert any("id '0': duplicate problem id" in m for m in messages)
    with pytest.raises(DataError, match="file not found"):
        load_geoqa(str(tmp_path / "nope.jsonl"))


def test_schema_checks_name_the_id():
    with pytest.raises(ProblemError, match="'x'.*gold letter 'E'"):
        Problem(id="x", source="s", question="?", choices=["1", "2"], answer_letter="E", answer_type="choice")
    with pytest.raises(ProblemError, match="'y'.*1 choices"):
        Problem(id="y", source="s", question="?", choices=["1"], answer="1")
    with pytest.raises(ProblemError, match="no gold"):
        Problem(id="z", source="s", question="?")
    p = Problem(id=5, source="s", question="?", answer="3", image=b"\x89PNG")
    assert p.id == "5" and Problem.from_dict(p.to_dict()) == p
    with pytest.raises(ProblemError, match="unknown fields"):
        Problem.from_dict({**p.to_dict(), "colour": "red"})


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_whole_bundled_files_load(name, shared_data):
    bench = get_benchmark(name)
    issues = IssueLog()
    problems = bench.load_default(issues)
    assert len(problems) == bench.expected_count
    assert not issues


def test_bundled_counts_in_detail(shared_data):
    mv = get_benchmark("mathvista_geo").load_default()
    assert Counter(p.language for p in mv)["zh"] == 62
    assert sum(len(p.choices) == 5 for p in mv) == 17
    assert sum(p.answer_type == "integer" for p in mv) == 5
    verse = get_benchmark("mathverse").load_default()
    errors = check_images(verse)
    assert list(errors) == ["99"]  # the one diagram missing from the source; 604 real diagrams load
    assert len({p.image for p in verse if p.image}) - len(errors) == 604


# ---------------------------------------------------------------------------------------------------------------
# A benchmark's standard directory as the data path (common.find_data and each unit's DATA_LAYOUTS)
# ---------------------------------------------------------------------------------------------------------------
def _copy(src, dst_dir, *names):
    dst_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src / name, dst_dir / name)
    return dst_dir


def test_geoqa_directory_layouts(assets, tmp_path):
    by_file = load_geoqa(str(assets / "geoqa/test_questions.jsonl"))
    both = _copy(assets / "geoqa", tmp_path / "both", "test_questions.jsonl", "test_answers.jsonl")
    _copy(assets / "geoqa", both, "r1v_test_prompts.jsonl")
    problems = load_geoqa(str(both))  # both forms there: G-LLaVA's (with gold letters) is read
    assert [(p.id, p.answer_letter, p.choices) for p in problems] == [
        (p.id, p.answer_letter, p.choices) for p in by_file
    ]
    assert problems[0].image == str(both / "test/0.png")  # relative to the directory, as for the file
    # G-LLaVA's gold letters file names the same problems, read with the questions beside it
    answers = load_geoqa(str(both / "test_answers.jsonl"))
    assert [(p.id, p.answer_letter, p.image) for p in answers] == [(p.id, p.answer_letter, p.image) for p in problems]
    r1v = load_geoqa(str(_copy(assets / "geoqa", tmp_path / "r1v", "r1v_test_prompts.jsonl")))
    assert r1v[0].choices == [] and r1v[0].answer == "140°" and r1v[0].image == str(tmp_path / "r1v/test/0.png")
    original = load_geoqa(str(assets / "geoqa_original"))  # json/ + image/
    assert [p.id for p in original] == ["0", "1"] and original[0].load_image().size == (64, 48)


def test_geoqa_answers_without_questions_is_a_clear_error(assets, tmp_path):
    lonely = _copy(assets / "geoqa", tmp_path, "test_answers.jsonl") / "test_answers.jsonl"
    with pytest.raises(DataError, match="gold letters only; its questions file test_questions.jsonl was not found"):
        load_geoqa(str(lonely))


def test_mathvista_directory_layouts(assets, tmp_path):
    by_file = load_mathvista_geo(str(assets / "mathvista/testmini.json"))
    problems = load_mathvista_geo(str(assets / "mathvista"))
    assert [p.to_dict() for p in problems] == [p.to_dict() for p in by_file]
    assert problems[0].image == str(assets / "mathvista/images/3.jpg")


def test_mathvista_hub_snapshot_directory(assets, tmp_path):
    """An AI4Math/MathVista snapshot: data/testmini-*.parquet (one shard) beside data/test-*.parquet (two)."""
    datasets = pytest.importorskip("datasets")
    records = list(json.loads((assets / "mathvista/testmini.json").read_text()).values())
    columns = ("pid", "question", "image", "choices", "unit", "precision", "answer", "question_type", "answer_type")

    rows = {k: [r[k] for r in records] for k in columns}
    rows["metadata"] = [r["metadata"] for r in records]
    testmini = datasets.Dataset.from_dict(rows)
    test = testmini.map(lambda row: {"pid": "t" + row["pid"]})  # the same schema, as real shards have
    (tmp_path / "data").mkdir()
    testmini.to_parquet(str(tmp_path / "data/testmini-00000-of-00001-725687bf.parquet"))
    test.select(range(2)).to_parquet(str(tmp_path / "data/test-00000-of-00002-aaa.parquet"))
    test.select(range(2, len(test))).to_parquet(str(tmp_path / "data/test-00001-of-00002-bbb.parquet"))
    expected = {p.id for p in load_mathvista_geo(str(assets / "mathvista/testmini.json"))}
    assert {p.id for p in load_mathvista_geo(str(tmp_path))} == expected
    assert {p.id for p in load_mathvista_geo(str(tmp_path), split="test")} == {f"t{i}" for i in expected}


def test_mathverse_directory_layouts(assets, tmp_path):
    problems = load_mathverse(str(assets / "mathverse"))
    assert len(problems) == len(load_mathverse(str(assets / "mathverse/testmini_sample.json")))
    assert next(p for p in problems if p.id == "1").image == str(assets / "mathverse/images/1.png")
    # MathVerse's own testmini.json (a list) is preferred to the sample when both are there
    official = tmp_path / "testmini.json"
    official.write_text(
        json.dumps(
            [
                {
                    "sample_index": "7",
                    "problem_version": "Vision Only",
                    "question": "Find x.",
                    "image": "7.png",
                    "answer": "3",
                    "question_type": "free_form",
                },
            ]
        )
    )
    shutil.copy(assets / "mathverse/testmini_sample.json", tmp_path)
    [p] = load_mathverse(str(tmp_path))
    assert (p.id, p.answer, p.image) == ("7", "3", str(tmp_path / "images/7.png"))


def test_geometry3k_directory_layouts(assets, tmp_path):
    problems = load_geometry3k(str(assets / "geometry3k"))
    assert [p.id for p in problems] == [p.id for p in load_geometry3k(str(assets / "geometry3k/test.jsonl"))]
    assert problems[0].image == str(assets / "geometry3k/Geometry3K/test/2401/img_diagram.png")
    for path in (assets / "intergps", assets / "intergps/test"):  # the InterGPS root (test/ inside) or test/ itself
        intergps = load_geometry3k(str(path))
        assert [p.id for p in intergps] == ["2401", "2402"] and intergps[0].load_image().size == (64, 48)


def test_geosynth_directory(tmp_path):
    from redstar_geo.geosynth.dataset import write_problem_set

    write_problem_set(tmp_path / "gs", 3, progress=False)
    problems = get_benchmark("geosynth").load(str(tmp_path / "gs"), None, IssueLog())
    assert len(problems) == 3 and problems[0].load_image().size[0] > 0


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_unknown_directory_lists_what_was_looked_for(name, tmp_path):
    (tmp_path / "notes.txt").write_text("not a benchmark")
    with pytest.raises(DataError, match=f"no {name} data in this directory; looked for") as info:
        BENCHMARKS[name].load(str(tmp_path), None, IssueLog())
    module = importlib.import_module(f"redstar_geo.benchmarks.{name}")
    split = {"mathvista_geo": "testmini", "geometry3k": "test"}.get(name)
    for pattern, _ in module.DATA_LAYOUTS:
        assert (pattern.format(split=split) if pattern != SAVED_DATASET[0] else "save_to_disk") in str(info.value)


def test_find_data_passes_other_paths_through(tmp_path):
    assert find_data("owner/name", "geoqa", ()) == "owner/name"
    assert find_data(str(tmp_path / "x.jsonl"), "geoqa", ()) == str(tmp_path / "x.jsonl")
    assert not is_hub_id("geoqa/test_questons.jsonl")  # a mistyped local file, not a dataset id


def test_unreadable_hf_dataset_is_a_data_error(tmp_path):
    pytest.importorskip("datasets")
    bad = tmp_path / "testmini.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="testmini.parquet: could not be read as a Hugging Face dataset"):
        load_mathvista_geo(str(bad))


@pytest.mark.parametrize(
    "name, directory",
    [("geoqa", "geoqa"), ("mathvista_geo", "mathvista"), ("geometry3k", "geometry3k"), ("mathverse", "mathverse")],
)
def test_bundled_directories_load_like_the_default_files(name, directory, shared_data):
    bench = get_benchmark(name)
    issues = IssueLog()
    problems = bench.load(str(shared_data / directory), None, issues)
    assert not issues
    assert [p.to_dict() for p in problems] == [p.to_dict() for p in bench.load_default()]


def test_load_benchmark_in_one_call(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("REDSTAR_GEO_DATA", str(assets))
    assert [p.id for p in load_benchmark("geoqa")] == ["0", "1", "2", "88"]  # the bundled copy
    issues = IssueLog()
    bad = tmp_path / "test_questions.jsonl"
    bad.write_text(
        json.dumps({"question_id": 0, "image": "0.png", "text": "Question: x? Choices: A:1 B:2"}) + "\nnot json\n"
    )
    (tmp_path / "test_answers.jsonl").write_text("")  # no gold letters: no problem can be used
    with pytest.raises(DataError, match=r"test_questions.jsonl: no geoqa problems could be loaded; issues:\n") as info:
        load_benchmark("geoqa", data=str(bad), issues=issues)
    assert len(issues) == 2 and str(issues[1]) in str(info.value)
    problems = load_benchmark("mathvista_geo", data=str(assets / "mathvista/testmini.json"), limit=2)
    assert len(problems) == 2


def test_check_benchmark_script_reports_and_fails_cleanly(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("REDSTAR_GEO_DATA", str(assets))
    report = check_benchmark_data("geoqa", image_root=str(tmp_path))
    assert report.startswith("geoqa: 4 problems from") and "unreadable images: 4" in report
    ok = run_script("data_prep/check_benchmark.py", "--bench", "mathverse", "--check_images", "false")
    assert ok.returncode == 0 and "mathverse:" in ok.stdout and "by problem_version" in ok.stdout
    usage = run_script("data_prep/check_benchmark.py", "--bench", "nope")
    assert usage.returncode == 2 and "unknown --bench 'nope'" in usage.stderr and "Traceback" not in usage.stderr
    missing = run_script("data_prep/check_benchmark.py", "--bench", "geoqa", "--data", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == f"error: {tmp_path / 'none.jsonl'}: file not found"
