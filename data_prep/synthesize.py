"""Long-CoT synthesis: sample a teacher several times per problem (adaptively), verify every trace, write the SFT set,
the DPO pairs and a report.

Usage:

    # the embedded default: 1,000 GeoSynth problems, the offline teacher, a few minutes on 2 CPU cores
    python data_prep/synthesize.py --config recipes/synth/offline_geosynth.yaml
    # the paper's setting: QvQ-72B-Preview behind vLLM's OpenAI server, GeoQA's training problems
    python data_prep/synthesize.py --config recipes/synth/qvq72b_geoqa_vllm.yaml --problems_path data/geoqa
    # at cluster scale: machine i of n samples its shard, then one merge writes the outputs
    python data_prep/synthesize.py --config RECIPE --shard 0/4      # ... --shard 3/4 on the other machines
    python data_prep/synthesize.py --config RECIPE --merge

Any recipe option can be overridden on the command line (``--help`` lists them): the problem source, the teacher
(``--backend``, ``--model``, ``--api_base URL[,URL...]``, ``--temperature``), adaptive sampling, the verification
filters and limits, the outputs. Kill it at any moment and run the same command again: it goes on where it stopped.
See :mod:`redstar_geo.synthesis.pipeline` for the output directory.

Exit status: 0 done (input problems that could not be used are listed in OUT/issues.txt); 1 data that cannot be
used or a missing optional package; 2 a bad option. Errors are one line ``error: ...`` naming the file or option.
"""

import logging
import sys
from pathlib import Path

from redstar_geo.config import parse_config
from redstar_geo.generation import GenerationConfig
from redstar_geo.jsonl import DataError
from redstar_geo.synthesis.config import SynthConfig
from redstar_geo.synthesis.pipeline import run_synthesis
from redstar_geo.verify import VerifyConfig

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "synth" / "offline_geosynth.yaml"


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config, gen_config, verify_config = parse_config(
        SynthConfig, GenerationConfig, VerifyConfig, default_config=DEFAULT_RECIPE
    )
    try:
        summary = run_synthesis(config, gen_config, verify_config)
    except (DataError, ImportError) as exc:  # DataError first: it is a ValueError too
        sys.exit(f"error: {exc}")
    except ValueError as exc:  # option values the library cannot use
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if "shard" in summary:
        print(
            f"shard {summary['shard']}: {summary['problems']} problems, {summary['samples']} samples, "
            f"{summary['verified']} verified, {summary['errors']} server errors -> {summary['output_dir']}\n"
            "when every shard is done: run the same command with --merge instead of --shard"
        )
        return
    print(
        f"{summary['problems']} problems, {summary['samples']} samples, {summary['verified']} verified "
        f"({summary['verified'] / max(1, summary['samples']):.1%}), {summary['errors']} server errors"
    )
    print(f"SFT set: {summary['sft']} traces; DPO: {summary['dpo']} pairs; {summary['issues']} input issues")
    for name, path in summary["paths"].items():
        print(f"  {name:16s} {path}")
    if summary["errors"]:
        print("some samples failed at the server: run the same command again to retry them")


if __name__ == "__main__":
    main()
