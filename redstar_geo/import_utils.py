"""Optional dependencies, checked in one place.

``import redstar_geo`` needs none of them. Code that uses one calls :func:`require` at the point of use, which returns
the module or raises an ImportError naming the pip extra that provides it.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache


@lru_cache
def is_available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(module: str, extra: str, feature: str):
    """Import ``module`` or explain which extra to install for ``feature``."""
    if not is_available(module):
        raise ImportError(
            f"{feature} needs the `{module}` package, which is not installed. "
            f"Install it with: pip install 'redstar-geo[{extra}]'"
        )
    return importlib.import_module(module)
