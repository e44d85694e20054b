"""GeoSynth: an embedded generator of GeoQA-style geometry problems whose answers are correct by construction.

Usage::

    from redstar_geo.geosynth import FAMILIES, generate, generate_problem, verify_problem

    p = generate_problem(seed=3)            # a redstar_geo.schema.Problem, source="geosynth", image = PNG bytes
    p.metadata["family"], p.metadata["difficulty"], p.metadata["variant"], p.metadata["steps"]
    problems = generate(500, base_seed=0, language="mixed")
    assert verify_problem(p) == []          # re-solved from the diagram's own coordinates

Every problem is built from real coordinates (so the diagram is to scale), re-measured on those coordinates before
it is accepted, and drawn with Pillow's bundled font. ``data_prep/geosynth.py`` writes a problem set to disk;
``redstar_geo.benchmarks.geosynth`` loads it back and provides the held-out ``geosynth`` benchmark.
"""

from redstar_geo.geosynth.families import FAMILIES, MAX_DEPTH
from redstar_geo.geosynth.generate import (
    EVAL_BASE_SEED,
    EVAL_SEED_START,
    LEVELS,
    VARIANTS,
    difficulty_level,
    generate,
    generate_problem,
    problem_seed,
    verify_problem,
)

__all__ = [
    "EVAL_BASE_SEED",
    "EVAL_SEED_START",
    "FAMILIES",
    "LEVELS",
    "MAX_DEPTH",
    "VARIANTS",
    "difficulty_level",
    "generate",
    "generate_problem",
    "problem_seed",
    "verify_problem",
]
