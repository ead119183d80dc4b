"""Command-line commands of this feature, added to ``dokaz`` by ``register``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
