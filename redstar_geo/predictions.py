"""Reading a file of model outputs to score (``eval/run.py --predictions``), in the formats other projects write.

Usage::

    from redstar_geo.predictions import load_predictions

    responses = load_predictions("preds.jsonl", "jsonl", {p.id for p in problems}, issues)   # {problem id: text}

Formats (``PREDICTION_FORMATS``): ``jsonl``, one ``{"id", "response"}`` per line; ``gllava``, G-LLaVA's published
outputs, one ``{"question_id", "text"}`` per line; ``mathvista``, MathVista's output files, one JSON object
``{pid: {"response": ...}}``.
"""

from __future__ import annotations

from pathlib import Path

from redstar_geo.jsonl import DataError, IssueLog, iter_jsonl, read_json, replace_surrogates

# format -> (id field, response field) of its JSONL lines; None: not JSONL (read by its own branch below).
PREDICTION_FORMATS = {"jsonl": ("id", "response"), "gllava": ("question_id", "text"), "mathvista": None}


def load_predictions(path: str | Path, fmt: str, known_ids: set[str], issues: IssueLog) -> dict[str, str]:
    """``{problem id: response}``; malformed lines, wrong types, duplicates and unknown ids go to ``issues``."""
    path = Path(path)
    if fmt == "mathvista":
        data = read_json(path)
        if not isinstance(data, dict):
            raise DataError(f"{path}: a MathVista output file is a JSON object keyed by pid")
        rows = [
            (None, {"id": pid, "response": (rec or {}).get("response") if isinstance(rec, dict) else rec})
            for pid, rec in data.items()
        ]
        id_key, response_key = "id", "response"
    else:
        id_key, response_key = PREDICTION_FORMATS[fmt]
        rows = iter_jsonl(path, issues)
    predictions: dict[str, str] = {}
    for line, rec in rows:
        if not isinstance(rec, dict):
            issues.add(path, line, None, f"expected a JSON object, got {type(rec).__name__}")
            continue
        rid, response = rec.get(id_key), rec.get(response_key)
        if isinstance(rid, bool) or not isinstance(rid, (str, int)):
            issues.add(path, line, None, f"field {id_key!r} must be a string or integer, got {rid!r:.60}")
            continue
        rid = str(rid)
        if not isinstance(response, str):
            issues.add(path, line, rid, f"field {response_key!r} must be a string, got {type(response).__name__}")
            continue
        if rid not in known_ids:
            issues.add(path, line, rid, "id is not in the benchmark; ignored")
            continue
        if rid in predictions:
            issues.add(path, line, rid, "duplicate prediction; kept the first")
            continue
        fixed = replace_surrogates(response)
        if fixed is not response:
            issues.add(path, line, rid, f"{response_key!r} has lone surrogates (invalid Unicode); scored with U+FFFD")
        predictions[rid] = fixed
    return predictions
