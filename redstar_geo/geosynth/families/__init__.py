"""The problem families: plain functions ``family(rng, depth) -> Draft``, registered in :data:`FAMILIES`.

Usage::

    from redstar_geo.geosynth.families import FAMILIES, MAX_DEPTH

    draft = FAMILIES["chord"](random.Random(0), depth=2)   # depth 1 .. MAX_DEPTH["chord"]

``depth`` picks how many reasoning steps the problem composes; the difficulty level is then computed from the steps
(see :func:`redstar_geo.geosynth.generate.difficulty_level`). Each family builds real coordinates first and states
only what the coordinates satisfy; :func:`redstar_geo.geosynth.core.check_figure` re-measures every draft.

The families live by topic: :mod:`.angles`, :mod:`.circles`, :mod:`.right_triangles`, :mod:`.similarity` and
:mod:`.measurement`, with their common helpers in :mod:`.shared`. To add a family, write it in its topic's module
(one builder per depth, returning through :func:`.shared.angle_draft` or :func:`.shared.measure_draft`) and list it
here. A family's key is stored in every generated record (``metadata["family"]``), so keys never change.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from redstar_geo.geosynth.core import Draft
from redstar_geo.geosynth.families.angles import angle_bisector, isosceles, parallel_lines, triangle_angles
from redstar_geo.geosynth.families.circles import chord, circle_measure, diameter, inscribed_angle, tangent
from redstar_geo.geosynth.families.measurement import polygon_measure
from redstar_geo.geosynth.families.right_triangles import pythagoras, special_right
from redstar_geo.geosynth.families.similarity import midsegment, similar_triangles

Family = Callable[[random.Random, int], Draft]

# The generator draws a family from sorted(FAMILIES), so adding one changes which problem every seed gives.
FAMILIES: dict[str, Family] = {
    "parallel_lines": parallel_lines,
    "triangle_angles": triangle_angles,
    "isosceles": isosceles,
    "angle_bisector": angle_bisector,
    "inscribed_angle": inscribed_angle,
    "diameter": diameter,
    "tangent": tangent,
    "chord": chord,
    "pythagoras": pythagoras,
    "special_right": special_right,
    "similar_triangles": similar_triangles,
    "midsegment": midsegment,
    "polygon_area": polygon_measure,
    "circle_measure": circle_measure,
}
MAX_DEPTH = {name: 2 if name == "diameter" else 3 for name in FAMILIES}

__all__ = [
    "FAMILIES",
    "MAX_DEPTH",
    "Family",
    "angle_bisector",
    "chord",
    "circle_measure",
    "diameter",
    "inscribed_angle",
    "isosceles",
    "midsegment",
    "parallel_lines",
    "polygon_measure",
    "pythagoras",
    "similar_triangles",
    "special_right",
    "tangent",
    "triangle_angles",
]
