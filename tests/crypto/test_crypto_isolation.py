"""crypto/ stays small and isolated: stdlib plus the audited libraries only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CRYPTO = Path(__file__).resolve().parents[2] / "crypto"
ALLOWED = {"cryptography", "argon2", "anyio", "crypto"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_stdlib_and_audited_libraries() -> None:
    files = sorted(CRYPTO.rglob("*.py"))
    assert files
    for path in files:
        foreign = imported_roots(path) - ALLOWED - set(sys.stdlib_module_names)
        assert not foreign, f"{path.name} imports {sorted(foreign)}"


def test_no_pickle_or_random_in_crypto() -> None:
    # `random` is not a CSPRNG; `pickle` would be a deserialisation hole.
    for path in sorted(CRYPTO.rglob("*.py")):
        assert not {"random", "pickle", "marshal"} & imported_roots(path), path.name
