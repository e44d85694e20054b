"""Prompt snapshots: one prompt per benchmark and protocol. A change to a prompt changes every score measured with
it, so it must be deliberate: rerun with UPDATE_PROMPT_SNAPSHOTS=1 and commit the new snapshot files."""

import os

import pytest
from conftest import ASSETS

from redstar_geo.benchmarks import BENCHMARKS, get_benchmark

FIXTURES = {  # bench -> (fixture data, problem id)
    "geoqa": ("geoqa/test_questions.jsonl", "0"),
    "mathvista_geo": ("mathvista/testmini.json", "3"),  # Chinese
    "geometry3k": ("geometry3k/test.jsonl", "2401"),
    "mathverse": ("mathverse/testmini_sample.json", "41"),  # six choices
    "geosynth": ("geosynth:eval:3", "eval-0000"),
}
CASES = [(bench, protocol) for bench in BENCHMARKS for protocol in BENCHMARKS[bench].protocols]


def test_every_benchmark_has_a_snapshot_fixture():
    assert set(FIXTURES) == set(BENCHMARKS)


@pytest.mark.parametrize("bench, protocol", CASES)
def test_prompt_snapshot(bench, protocol):
    data, pid = FIXTURES[bench]
    path = data if data.startswith("geosynth:") else str(ASSETS / data)
    problems = {p.id: p for p in get_benchmark(bench).load(path)}
    prompt = get_benchmark(bench).prompt(problems[pid], protocol)
    snapshot = ASSETS / "prompts" / f"{bench}_{protocol}.txt"
    if os.environ.get("UPDATE_PROMPT_SNAPSHOTS"):
        snapshot.write_text(prompt, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot}; run with UPDATE_PROMPT_SNAPSHOTS=1 to create it"
    assert prompt == snapshot.read_text(encoding="utf-8"), f"the {bench}/{protocol} prompt changed"


TEACHER_CASES = [("geoqa", "choice"), ("mathvista_geo", "choice"), ("geometry3k", "value")]  # en, zh, free-form


@pytest.mark.parametrize("bench, protocol", TEACHER_CASES)
def test_teacher_prompt_snapshot(bench, protocol):
    """The Long-CoT teacher prompt (system + user text) per language: a change changes every synthesised trace."""
    from redstar_geo.synthesis.prompts import teacher_messages_text

    data, pid = FIXTURES[bench]
    problem = {p.id: p for p in get_benchmark(bench).load(str(ASSETS / data))}[pid]
    system, user = teacher_messages_text(problem, protocol)
    text = f"SYSTEM:\n{system}\n\nUSER:\n{user}"
    snapshot = ASSETS / "prompts" / f"teacher_{problem.language}_{protocol}.txt"
    if os.environ.get("UPDATE_PROMPT_SNAPSHOTS"):
        snapshot.write_text(text, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot}; run with UPDATE_PROMPT_SNAPSHOTS=1 to create it"
    assert text == snapshot.read_text(encoding="utf-8"), f"the {problem.language}/{protocol} teacher prompt changed"
