"""The options of a synthesis run (``data_prep/synthesize.py``): problems, adaptive sampling, outputs.

The teacher is a :class:`redstar_geo.generation.GenerationConfig` (``--backend offline|openai|transformers|vllm``,
``--model``, ``--api_base``, ``--temperature`` ...) and verification a :class:`redstar_geo.verify.VerifyConfig`
(``--protocol choice|value``: the answer form asked and checked, ``--max_chars`` ...); the three are parsed together
from one recipe (``recipes/synth/*.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from redstar_geo.verify import FILTERS

PROBLEM_SOURCES = ("geosynth", "geoqa", "geometry3k", "mathverse", "mathvista_geo", "jsonl")
EXPORTS = ("jsonl", "hf", "sharegpt")
EVAL_BENCHMARKS = "geoqa,mathvista_geo,geometry3k,mathverse,geosynth"


def split_names(value: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or ``""`` -> ``[]``."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"2/8"`` -> ``(2, 8)``: shard 2 of 8, counted from 0."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ValueError(f"--shard {value!r}: use i/n with 0 <= i < n, e.g. --shard 0/4 on the first of 4 machines")
    return int(m.group(1)), int(m.group(2))


@dataclass
class SynthConfig:
    output_dir: str = field(default="runs/synth-offline", metadata={"help": "where every output of the run goes"})
    # -- problems
    problems: str = field(
        default="geosynth",
        metadata={
            "help": f"problem source: {', '.join(PROBLEM_SOURCES)} (a benchmark loader reading --problems_path, "
            "e.g. GeoQA train in any layout the geoqa loader reads; jsonl: a problems.jsonl in the schema)"
        },
    )
    problems_path: str | None = field(
        default=None, metadata={"help": "file, directory or HF dataset id of the problems (not for geosynth)"}
    )
    problems_split: str | None = field(default=None, metadata={"help": "dataset split (e.g. train), where it applies"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems"})
    geosynth_n: int = field(default=1000, metadata={"help": "geosynth: number of problems generated"})
    geosynth_seed: int = field(default=0, metadata={"help": "geosynth: base seed of the training problems"})
    geosynth_language: str = field(default="mixed", metadata={"help": "geosynth: en, zh or mixed"})
    decontaminate: str = field(
        default=EVAL_BENCHMARKS,
        metadata={
            "help": "drop problems duplicating these evaluation sets (normalised text, diagram hashes); '' for none"
        },
    )
    # -- the teacher
    teacher_system_prompt: str | None = field(
        default=None, metadata={"help": "system prompt (default: redstar_geo.synthesis.prompts, per language)"}
    )
    offline_failure_rate: float = field(
        default=0.04, metadata={"help": "offline teacher: the rate of each planted failure at average difficulty"}
    )
    offline_min_chars: int = field(
        default=1500,
        metadata={
            "help": "offline teacher: good traces are lengthened with re-checks to 1-1.7 times this many characters, "
            "as QwQ keeps re-checking; 0: as long as their working (for a tiny model on a CPU)"
        },
    )
    offline_think_tags: bool = field(default=True, metadata={"help": "offline teacher: <think>...</think> traces"})
    offline_separate_reasoning: bool = field(
        default=False, metadata={"help": "offline teacher: return the thinking apart, as reasoning_content"}
    )
    # -- adaptive sampling
    samples_per_problem: int = field(
        default=10, metadata={"help": "sampling budget of a problem of average difficulty (the paper: 10)"}
    )
    min_samples_per_problem: int = field(default=4, metadata={"help": "budget of the easiest problems"})
    max_samples_per_problem: int = field(
        default=20, metadata={"help": "budget of the hardest: difficulty 9, or a pass rate under hard_pass_rate"}
    )
    first_round: int = field(default=4, metadata={"help": "samples drawn for every problem in round 1"})
    target_verified: int = field(
        default=2, metadata={"help": "stop a problem once it has this many verified traces (and a failed one)"}
    )
    need_failed: bool = field(
        default=True, metadata={"help": "also wait for one failed trace (a DPO negative) before stopping a problem"}
    )
    hard_pass_rate: float = field(
        default=0.3,
        metadata={"help": "a problem passing less often than this so far gets max_samples_per_problem"},
    )
    filters: str = field(
        default=",".join(FILTERS), metadata={"help": f"verification filters, comma-separated: {', '.join(FILTERS)}"}
    )
    shard: str | None = field(
        default=None,
        metadata={"help": "i/n: sample only shard i of n (by problem id); n machines, then one run with --merge"},
    )
    merge: bool = field(
        default=False, metadata={"help": "skip sampling: join every shard's samples in output_dir and write outputs"}
    )
    # -- outputs
    max_traces_per_problem: int = field(default=2, metadata={"help": "SFT: verified traces kept per problem"})
    sft_size: int | None = field(
        default=None, metadata={"help": "SFT: target number of traces (e.g. 3700), hardest problems first"}
    )
    pairs_per_problem: int = field(default=1, metadata={"help": "DPO: preference pairs per problem"})
    selection_seed: int = field(default=0, metadata={"help": "seed of the SFT and DPO selection"})
    export: str = field(default="jsonl,hf,sharegpt", metadata={"help": f"output formats: {', '.join(EXPORTS)}"})
    report: bool = field(default=True, metadata={"help": "write the report (HTML, markdown, PNGs, stats.json)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self):
        if self.problems not in PROBLEM_SOURCES:
            raise ValueError(f"--problems {self.problems!r}: choose one of {', '.join(PROBLEM_SOURCES)}")
        if self.problems == "jsonl" and not self.problems_path:
            raise ValueError("--problems jsonl needs --problems_path PATH/problems.jsonl")
        if self.geosynth_language not in ("en", "zh", "mixed"):
            raise ValueError(f"--geosynth_language must be en, zh or mixed, got {self.geosynth_language!r}")
        if self.problems == "geosynth" and self.geosynth_n < 1:
            raise ValueError("--geosynth_n must be at least 1")
        if not 0 <= self.offline_failure_rate <= 0.12:
            raise ValueError("--offline_failure_rate must be in [0, 0.12] (7 kinds of failure share one trace)")
        if self.offline_min_chars < 0:
            raise ValueError("--offline_min_chars must be >= 0 (0: traces as long as their working)")
        if not 1 <= self.min_samples_per_problem <= self.samples_per_problem <= self.max_samples_per_problem:
            raise ValueError(
                "need 1 <= min_samples_per_problem <= samples_per_problem <= max_samples_per_problem, got "
                f"{self.min_samples_per_problem}, {self.samples_per_problem}, {self.max_samples_per_problem}"
            )
        if self.first_round < 1 or self.target_verified < 1:
            raise ValueError("--first_round and --target_verified must be at least 1")
        if not 0 <= self.hard_pass_rate <= 1:
            raise ValueError("--hard_pass_rate must be in [0, 1]")
        unknown = [name for name in split_names(self.filters) if name not in FILTERS]
        if unknown or not split_names(self.filters):
            raise ValueError(f"--filters: unknown {unknown or 'empty list'}; choose from {', '.join(FILTERS)}")
        parse_shard(self.shard)
        if self.merge and self.shard:
            raise ValueError("--merge joins all shards: drop --shard")
        if self.max_traces_per_problem < 1 or self.pairs_per_problem < 0:
            raise ValueError("--max_traces_per_problem must be >= 1 and --pairs_per_problem >= 0")
        if self.sft_size is not None and self.sft_size < 1:
            raise ValueError("--sft_size must be at least 1 (or unset for every selected trace)")
        bad = [name for name in split_names(self.export) if name not in EXPORTS]
        if bad:
            raise ValueError(f"--export: unknown {bad}; choose from {', '.join(EXPORTS)}")
