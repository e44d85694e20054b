"""Job configs: dataclasses filled from a YAML recipe plus command-line overrides.

Usage (in a job script)::

    from redstar_geo.config import parse_config

    (eval_config,) = parse_config(EvalConfig)   # python eval/run.py --config recipes/x.yaml --bench geoqa

Values come from the dataclass defaults, then the ``--config`` YAML file, then the command line. A YAML key that is no
field of any of the dataclasses is an error naming the file and the key, as is an unknown command-line flag. Help
text lives in each field's ``metadata={"help": ...}``; checks live in ``__post_init__``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml
from transformers import HfArgumentParser


class ConfigError(ValueError):
    """A recipe that cannot be used: missing file, not a mapping, unknown keys."""


def load_recipe(path: str | Path, allowed: set[str]) -> dict:
    """Read a YAML recipe; every key must be in ``allowed``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: recipe not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of option: value, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; see --help for the valid options")
    return data


def parse_config(*dataclass_types, args: list[str] | None = None, default_config: str | Path | None = None):
    """Parse ``args`` (default ``sys.argv[1:]``) into one instance of each dataclass type, in order.

    ``default_config``: the recipe used when ``args`` has no ``--config``; its flags then override that recipe.
    """
    parser = HfArgumentParser(dataclass_types)
    help_default = f" (default: {default_config})" if default_config else ""
    parser.add_argument(
        "--config", type=str, default=None, help=f"YAML recipe; command-line flags override it{help_default}"
    )
    args = list(sys.argv[1:] if args is None else args)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(args)
    if not known.config and default_config is not None:
        known.config = str(default_config)
    if known.config:
        fields = {f.name for t in dataclass_types for f in dataclasses.fields(t)}
        try:
            recipe = load_recipe(known.config, fields)
        except ConfigError as exc:
            parser.error(str(exc))
        parser.set_defaults(**recipe)
        for action in parser._actions:  # a field given by the recipe is no longer required on the command line
            if action.dest in recipe:
                action.required = False
    namespace = parser.parse_args(args)
    values = vars(namespace)
    values.pop("config", None)
    outputs = []
    for dtype in dataclass_types:
        names = {f.name for f in dataclasses.fields(dtype) if f.init}
        try:
            outputs.append(dtype(**{k: v for k, v in values.items() if k in names}))
        except (ValueError, TypeError) as exc:
            parser.error(str(exc))
    return tuple(outputs)
