"""Long-CoT synthesis (redstar_geo.synthesis): the adaptive plan, the offline run end to end, kill-and-resume, and a
real HTTP teacher on 127.0.0.1 with faults, several servers and shards."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from redstar_geo.fake_server import FakeServer
from redstar_geo.generation import GenerationConfig
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.schema import Problem
from redstar_geo.sft_data import load_sft_samples
from redstar_geo.synthesis.config import SynthConfig, parse_shard
from redstar_geo.synthesis.pipeline import run_synthesis
from redstar_geo.synthesis.prompts import teacher_messages_text
from redstar_geo.synthesis.sampling import plan_problem, sample_seed, shard_of
from redstar_geo.verify import VerifyConfig

SCRIPT = str(ROOT / "data_prep" / "synthesize.py")


def record(sample: int, verified: bool, error: str | None = None) -> dict:
    return {"sample": sample, "error": error, "reasons": [] if verified else ["wrong_answer"]}


def problem(level: int | None = 5) -> Problem:
    metadata = {} if level is None else {"difficulty": level}
    return Problem(
        id="p",
        source="t",
        question="q",
        choices=["1", "2"],
        answer_letter="A",
        answer_type="choice",
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------------------------------------------
def test_budget_grows_with_difficulty():
    config = SynthConfig(min_samples_per_problem=4, samples_per_problem=10, max_samples_per_problem=20)
    budgets = [plan_problem(problem(level), {}, config).budget for level in (1, 3, 5, 7, 9, None)]
    assert budgets == [4, 7, 10, 15, 20, 10]


def test_first_round_then_enough():
    config = SynthConfig(first_round=4, target_verified=2)
    plan = plan_problem(problem(), {}, config)
    assert (plan.round, plan.pending, plan.stop) == (0, [0, 1, 2, 3], None)
    samples = {i: record(i, verified=i != 2) for i in range(4)}  # 3 verified, 1 failed
    assert plan_problem(problem(), samples, config).stop == "enough"


def test_missing_failed_trace_asks_for_more_and_errors_are_redrawn():
    config = SynthConfig(first_round=4, target_verified=2)
    samples = {i: record(i, verified=True) for i in range(4)}  # no negative yet
    plan = plan_problem(problem(), samples, config)
    assert plan.round == 1 and plan.pending[0] == 4 and plan.stop is None
    samples[1] = record(1, verified=False, error="HTTP 500: boom")
    assert plan_problem(problem(), samples, config).pending == [1]  # round 0 is not complete until it is retried


def test_hard_problem_gets_the_largest_budget_and_stops_there():
    config = SynthConfig(min_samples_per_problem=4, samples_per_problem=10, max_samples_per_problem=20)
    samples = {i: record(i, verified=False) for i in range(40)}  # never passes
    plan = plan_problem(problem(level=3), samples, config)
    assert (plan.stop, plan.budget) == ("budget", 20)
    easy = {i: record(i, verified=i % 2 == 0) for i in range(40)}  # passes half the time: enough after round 0
    assert plan_problem(problem(level=3), easy, config).stop == "enough"


def test_seeds_and_shards_are_stable():
    assert sample_seed(0, "geoqa-1", 3) == sample_seed(0, "geoqa-1", 3) != sample_seed(0, "geoqa-1", 4)
    shards = [shard_of(f"p{i}", 4) for i in range(400)]
    assert set(shards) == {0, 1, 2, 3} and min(shards.count(k) for k in range(4)) > 70
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard("4/4")


def test_config_errors_say_how_to_fix():
    with pytest.raises(ValueError, match="min_samples_per_problem <= samples_per_problem"):
        SynthConfig(samples_per_problem=30)
    with pytest.raises(ValueError, match="unknown"):
        SynthConfig(filters="answer,vibes")
    with pytest.raises(ValueError, match="--problems jsonl needs"):
        SynthConfig(problems="jsonl")


def test_teacher_prompt_per_language():
    en = Problem(
        id="1", source="t", question="Find ∠A.", choices=["40°", "80°"], answer_letter="B", answer_type="choice"
    )
    zh = Problem(
        id="2",
        source="t",
        question="求∠A的度数。",
        choices=["40°", "80°"],
        answer_letter="B",
        answer_type="choice",
        language="zh",
    )
    system_en, text_en = teacher_messages_text(en)
    system_zh, text_zh = teacher_messages_text(zh)
    assert "English only" in system_en and "\\boxed{}" in system_en and "A. 40°" in text_en
    assert "只用中文" in system_zh and "选项" in text_zh
    assert teacher_messages_text(en, system_prompt="")[0] is None


# ---------------------------------------------------------------------------------------------------------------
# a real HTTP teacher on 127.0.0.1
# ---------------------------------------------------------------------------------------------------------------
def write_problems(path, questions: list[str]) -> str:
    """A problems.jsonl in the schema: text-only four-choice problems whose gold is A (the fake server answers a
    letter drawn from the request's seed, so about a quarter of the samples pass)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i, question in enumerate(questions):
            p = Problem(
                id=f"q{i:02d}",
                source="test",
                question=question,
                choices=["40°", "80°", "100°", "140°"],
                answer_letter="A",
                answer_type="choice",
                split="train",
                metadata={"difficulty": 1 + i % 9},
            )
            f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    return str(path)


def http_configs(tmp_path, problems_path: str, api_base: str, **overrides):
    synth = dict(
        output_dir=str(tmp_path / "out"),
        problems="jsonl",
        problems_path=problems_path,
        decontaminate="",
        export="jsonl",
        report=False,
        progress=False,
        first_round=2,
        target_verified=1,
        min_samples_per_problem=2,
        samples_per_problem=4,
        max_samples_per_problem=6,
    )
    gen = dict(
        backend="openai",
        model="fake-teacher",
        api_base=api_base,
        temperature=1.0,
        concurrency=8,
        max_retries=2,
        retry_backoff=0.01,
        request_timeout=10,
    )
    for key, value in overrides.items():
        (gen if key in GenerationConfig.__dataclass_fields__ else synth)[key] = value
    return SynthConfig(**synth), GenerationConfig(**gen), VerifyConfig(min_chars=10)


def read_samples(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_latency(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in rec.items() if k != "latency_s"} for rec in records]


def test_http_teacher_with_faults_then_a_rerun_retries_only_the_failed(tmp_path):
    questions = [f"Find angle {i}." for i in range(10)]
    questions += ["Find angle x. [[fault:503x1]]", "Find angle y. [[fault:400]]", "Find angle z. [[fault:drop]]"]
    problems_path = write_problems(tmp_path / "problems.jsonl", questions)
    with FakeServer() as server:
        summary = run_synthesis(*http_configs(tmp_path, problems_path, server.base_url))
        attempts_503 = server.attempts[next(k for k in server.attempts if "503x1" in k)]
    out = tmp_path / "out"
    samples = read_samples(out / "samples.jsonl")
    keys = [(r["problem_id"], r["sample"]) for r in samples]
    assert len(keys) == len(set(keys)) == summary["samples"] + summary["errors"]
    by_problem = {}
    for r in samples:
        by_problem.setdefault(r["problem_id"], []).append(r)
    assert all(r["error"] is None for r in by_problem["q10"])  # a 503 once: retried, then answered
    assert attempts_503 >= 3  # every first sample of q10 was refused once, then succeeded
    assert {r["error"].split(":")[0] for r in by_problem["q11"]} == {"HTTP 400"}  # not retried: recorded
    assert {r["error"].split(":")[0] for r in by_problem["q12"]} == {"connection"}  # retried past the budget
    statuses = {s["problem_id"]: s for s in read_samples(out / "status.jsonl")}
    assert statuses["q11"]["stop"] == statuses["q12"]["stop"] == "errors"
    assert {statuses[f"q{i:02d}"]["stop"] for i in range(11)} <= {"enough", "budget"}
    verified = [r for r in samples if r["error"] is None and not r["reasons"]]
    assert verified and all("\\boxed{A}" in r["text"] for r in verified)
    assert {r["reasons"][0] for r in samples if r["error"] is None and r["reasons"]} == {"wrong_answer"}
    sft = read_samples(out / "sft.jsonl")
    assert {r["problem_id"] for r in sft} == {r["problem_id"] for r in verified}
    for pair in read_samples(out / "dpo.jsonl"):
        assert "\\boxed{A}" in pair["chosen"] and pair["rejected_reasons"] == ["wrong_answer"]

    # The rerun meets a healthy server: it sends exactly the failed samples (then those problems' later rounds).
    failed = {(r["problem_id"], r["sample"]) for r in samples if r["error"]}
    with FakeServer(faults=False) as healthy:
        run_synthesis(*http_configs(tmp_path, problems_path, healthy.base_url))
        sent = sum(healthy.attempts.values())
    after = read_samples(out / "samples.jsonl")
    assert not [r for r in after if r["error"]]
    new = {(r["problem_id"], r["sample"]) for r in after} - {(r["problem_id"], r["sample"]) for r in samples}
    assert sent == len(failed) + len(new)
    assert {k[0] for k in new} <= {"q11", "q12"}
    unchanged = {(r["problem_id"], r["sample"]): r for r in without_latency(samples) if not r["error"]}
    assert all(
        unchanged[(r["problem_id"], r["sample"])] == r
        for r in without_latency(after)
        if (r["problem_id"], r["sample"]) in unchanged
    )


def test_several_servers_one_dead(tmp_path):
    problems_path = write_problems(tmp_path / "problems.jsonl", [f"Find side {i}." for i in range(8)])
    with FakeServer() as dead:
        dead_url = dead.base_url  # closed on leaving the block: connections to it are refused
    with FakeServer() as one, FakeServer() as two:
        api_base = f"{dead_url},{one.base_url},{two.base_url}"
        summary = run_synthesis(*http_configs(tmp_path, problems_path, api_base))
        served = (sum(one.attempts.values()), sum(two.attempts.values()))
    assert summary["errors"] == 0 and summary["samples"] == sum(served)
    assert min(served) > 0.25 * sum(served)  # load spread over the live servers


def test_shards_then_merge_equal_one_run(tmp_path):
    problems_path = write_problems(tmp_path / "problems.jsonl", [f"Find length {i}." for i in range(12)])
    with FakeServer() as server:
        whole = run_synthesis(*http_configs(tmp_path / "whole", problems_path, server.base_url))
        for i in range(3):
            part = run_synthesis(*http_configs(tmp_path / "sharded", problems_path, server.base_url, shard=f"{i}/3"))
            assert part["shard"] == f"{i}/3"
        run_synthesis(*http_configs(tmp_path / "partial", problems_path, server.base_url, shard="0/3"))
        with pytest.raises(DataError, match=r"shards \[1, 2\] of 3 are missing"):
            run_synthesis(*http_configs(tmp_path / "partial", problems_path, server.base_url, merge=True))
        merged = run_synthesis(*http_configs(tmp_path / "sharded", problems_path, server.base_url, merge=True))
    assert {k: merged[k] for k in ("samples", "verified", "sft", "dpo")} == {
        k: whole[k] for k in ("samples", "verified", "sft", "dpo")
    }
    for name in ("sft.jsonl", "dpo.jsonl"):
        assert (tmp_path / "sharded/out" / name).read_bytes() == (tmp_path / "whole/out" / name).read_bytes()
    assert without_latency(read_samples(tmp_path / "sharded/out/samples.jsonl")) == without_latency(
        read_samples(tmp_path / "whole/out/samples.jsonl")
    )


def test_another_teacher_in_the_same_directory_is_refused(tmp_path):
    problems_path = write_problems(tmp_path / "problems.jsonl", ["Find angle 1."])
    with FakeServer() as server:
        run_synthesis(*http_configs(tmp_path, problems_path, server.base_url))
        with pytest.raises(DataError, match="use another --output_dir"):
            run_synthesis(*http_configs(tmp_path, problems_path, server.base_url, model="another-teacher"))


# ---------------------------------------------------------------------------------------------------------------
# kill and resume: the script killed at several points, restarted, ends equal to an uninterrupted run
# ---------------------------------------------------------------------------------------------------------------
def start_script(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, SCRIPT, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def run_to_end(args: list[str]) -> None:
    proc = start_script(args)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output


def kill_after(args: list[str], samples_path, lines: int) -> int:
    """Start the script and SIGKILL it once ``samples_path`` has at least ``lines`` lines; return the lines seen."""
    proc = start_script(args)
    seen = 0
    while proc.poll() is None:
        if samples_path.exists():
            seen = samples_path.read_bytes().count(b"\n")
            if seen >= lines:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.005)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed at {lines} lines"
    return seen


def assert_same_outputs(killed, whole, compare_latency: bool) -> None:
    for name in ("sft.jsonl", "dpo.jsonl", "status.jsonl"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    strip = (lambda records: records) if compare_latency else without_latency
    assert strip(read_samples(killed / "samples.jsonl")) == strip(read_samples(whole / "samples.jsonl"))


def test_http_run_killed_and_restarted_equals_an_uninterrupted_one(tmp_path):
    problems_path = write_problems(tmp_path / "problems.jsonl", [f"Find angle {i}." for i in range(30)])
    with FakeServer(latency_median=0.03, latency_sigma=0.5) as server:
        common = [
            "--problems",
            "jsonl",
            "--problems_path",
            problems_path,
            "--backend",
            "openai",
            "--model",
            "fake",
            "--api_base",
            server.base_url,
            "--temperature",
            "1.0",
            "--concurrency",
            "3",
            "--decontaminate",
            "",
            "--report",
            "false",
            "--export",
            "jsonl",
            "--min_chars",
            "10",
            "--progress",
            "false",
        ]
        run_to_end([*common, "--output_dir", str(tmp_path / "whole")])
        total = read_samples(tmp_path / "whole/samples.jsonl")
        killed = tmp_path / "killed"
        for lines in (len(total) // 4, len(total) // 2):
            kill_after([*common, "--output_dir", str(killed)], killed / "samples.jsonl", lines)
        sent_before = sum(server.attempts.values())
        run_to_end([*common, "--output_dir", str(killed)])
        resumed_requests = sum(server.attempts.values()) - sent_before
    assert_same_outputs(killed, tmp_path / "whole", compare_latency=False)
    assert resumed_requests < len(total)  # the restart did not start over


# ---------------------------------------------------------------------------------------------------------------
# the offline teacher end to end
# ---------------------------------------------------------------------------------------------------------------
OFFLINE = ["--geosynth_n", "120", "--decontaminate", "geosynth", "--progress", "false"]


def test_offline_run_writes_training_data_report_and_exports(tmp_path):
    out = tmp_path / "out"
    run_to_end([*OFFLINE, "--output_dir", str(out)])
    stats = json.loads((out / "report/stats.json").read_text(encoding="utf-8"))
    statuses = read_samples(out / "status.jsonl")
    samples = read_samples(out / "samples.jsonl")
    assert len(statuses) == 120 - len(read_samples(out / "decontamination.jsonl"))
    assert {s["stop"] for s in statuses} <= {"enough", "budget"}
    assert len(samples) == sum(s["n_samples"] for s in statuses)
    assert all(s["n_samples"] <= s["budget"] <= 20 for s in statuses)
    # adaptive: problems that pass easily stop early, the rest get more samples
    assert min(s["n_samples"] for s in statuses) == 4 and max(s["n_samples"] for s in statuses) > 6

    sft = read_samples(out / "sft.jsonl")
    kept = {(r["problem_id"], r["sample"]) for r in samples if not r["reasons"]}
    assert sft and all((r["problem_id"], r["sample"]) in kept for r in sft)
    assert max(sum(r["problem_id"] == pid for r in sft) for pid in {r["problem_id"] for r in sft}) == 2
    loaded = load_sft_samples(str(out / "sft.jsonl"), IssueLog())
    assert len(loaded) == len(sft) and all(len(s.images) == 1 and os.path.exists(s.images[0]) for s in loaded)
    pairs = read_samples(out / "dpo.jsonl")
    by_key = {(r["problem_id"], r["sample"]): r for r in samples}
    for pair in pairs:
        good, bad = (
            by_key[pair["problem_id"], pair["chosen_sample"]],
            by_key[pair["problem_id"], pair["rejected_sample"]],
        )
        assert not good["reasons"] and bad["reasons"] == pair["rejected_reasons"]
    assert stats["confusion"]["good"]["n"] > 0 and set(stats["confusion"]) > {"good", "wrong_answer"}
    for path in (
        "report/index.html",
        "report/report.md",
        "report/lengths.png",
        "sharegpt/sft.json",
        "sharegpt/dataset_info.json",
        "hf/sft",
        "hf/dpo",
    ):
        assert (out / path).exists(), path
    hf_sft = load_sft_samples(str(out / "hf/sft"), IssueLog())  # our own loader reads the HF export back
    assert [s.id for s in hf_sft] == [r["id"] for r in sft]


def test_sft_size_takes_hardest_problems_first_and_is_reproducible(tmp_path):
    args = [*OFFLINE, "--decontaminate", "", "--export", "jsonl", "--report", "false"]
    run_to_end([*args, "--output_dir", str(tmp_path / "a"), "--sft_size", "50"])
    sft = read_samples(tmp_path / "a/sft.jsonl")
    assert len(sft) == 50 and len({r["problem_id"] for r in sft}) == 50  # one per problem before any second
    statuses = {s["problem_id"]: s for s in read_samples(tmp_path / "a/status.jsonl")}
    chosen_rates = [statuses[r["problem_id"]]["pass_rate"] for r in sft]
    left_out = [
        s["pass_rate"] for pid, s in statuses.items() if s["n_verified"] and pid not in {r["problem_id"] for r in sft}
    ]
    assert max(chosen_rates) <= min(left_out)
    run_to_end([*args, "--output_dir", str(tmp_path / "a"), "--sft_size", "50"])  # a rerun: same set
    assert read_samples(tmp_path / "a/sft.jsonl") == sft


def test_offline_run_killed_at_several_points_equals_an_uninterrupted_one(tmp_path):
    args = [*OFFLINE, "--export", "jsonl", "--report", "false"]
    run_to_end([*args, "--output_dir", str(tmp_path / "whole")])
    total = len(read_samples(tmp_path / "whole/samples.jsonl"))
    killed = tmp_path / "killed"
    for lines in (1, total // 3, 2 * total // 3):
        kill_after([*args, "--output_dir", str(killed)], killed / "samples.jsonl", lines)
    run_to_end([*args, "--output_dir", str(killed)])
    assert_same_outputs(killed, tmp_path / "whole", compare_latency=True)
