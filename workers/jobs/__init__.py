"""One module per job kind (or per small family of kinds); each calls ``register``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def feature_function(module: str, name: str) -> Callable[..., Any] | None:
    """The function another feature provides, or None if this build does not have it."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None
