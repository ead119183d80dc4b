"""Services stay free of the web framework and the terminal; packages stay layered.

Only the web and CLI layers may import ``fastapi``, ``starlette`` or ``typer``. Every other
module under ``api/``, ``crypto/`` and ``workers/`` is a service module for this test:
services, repositories, schemas, models, jobs, crypto. They take plain values
(``api.auth.principals.Principal``, settings, sessions) and raise ``api.core.errors``.

The import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``) keep the
packages of ``api`` in layers with no import cycle, keep ``api`` from importing the
workers and ``crypto`` from importing either; they run here so the suite fails when a
cycle comes back, and every package of ``api`` must be placed in a layer.

Each table has one owner: no feature package queries another's models (its repository
is asked instead), a case row is made only by ``api.cases.creation.create_case`` and a
case-key wrap row only by ``api.keys.repository``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "crypto", "workers")
FRAMEWORKS = frozenset({"fastapi", "starlette", "typer"})

# The web and CLI layers, by file role. Keep this short: each entry is a place where the
# request or the terminal is allowed to show.
WEB_AND_CLI_ROLES = (
    "api/*/router.py",
    "api/*/cli.py",
    "api/*/dependencies.py",
    "api/web/*.py",  # the HTML surface: pages, forms, templating, CSRF, its own middleware
    "api/console/*.py",  # the staff console's pages: its cookie session, forms and rendering
)
WEB_AND_CLI_MODULES = (
    "api/app.py",  # create_app
    "api/cli.py",  # the root `dokaz` command
    "api/core/error_handlers.py",  # renders domain errors as HTTP responses
    "api/core/privacy.py",  # ASGI middleware: tags the client, drops its address
    "api/uploads/protocol.py",  # ASGI middleware: tus framing of every upload response
    # Admission reads the request itself: its headers (size, lengths, tus version), the
    # client's tag, and the body stream under its deadline (ClientDisconnect). The rest of
    # api/ingress (body, multipart, files, filetypes, argon2, schemas) takes bytes.
    "api/ingress/admit.py",  # the admission table, run as a FastAPI dependency
    "api/ingress/guards.py",  # header, rate and disk guards; the timed body stream
)
# What api/ingress may import: it sits below the features whose doors it guards.
INGRESS_MAY_IMPORT = ("api.core", "api.storage", "api.keys", "api.ingress", "crypto")


def _modules() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    )


def _allowed(rel: str) -> bool:
    return rel in WEB_AND_CLI_MODULES or any(fnmatchcase(rel, p) for p in WEB_AND_CLI_ROLES)


def _framework_imports(rel: str) -> list[str]:
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)
    found = []
    for node in ast.walk(tree):  # every import, at the top, in functions, under TYPE_CHECKING
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{rel}:{node.lineno} {name}" for name in names
                  if name.split(".")[0] in FRAMEWORKS]
    return found


def test_the_scan_sees_the_packages() -> None:
    modules = _modules()
    assert "api/cases/service.py" in modules
    assert "api/auth/principals.py" in modules
    assert "crypto/aead.py" in modules
    assert "workers/runner.py" in modules
    assert _framework_imports("api/app.py"), "the scan must find create_app's FastAPI import"


def test_no_service_module_imports_the_web_framework_or_typer() -> None:
    offenders = [hit for rel in _modules() if not _allowed(rel) for hit in _framework_imports(rel)]
    assert offenders == [], (
        "Only routers, CLIs, dependencies and the web layer may import fastapi, starlette or "
        "typer; move the web or terminal part out of: " + ", ".join(offenders)
    )


def test_every_named_exception_exists_and_still_needs_it() -> None:
    # An entry that no longer imports a framework must leave the list, so it stays short.
    stale = [rel for rel in WEB_AND_CLI_MODULES
             if not (ROOT / rel).is_file() or not _framework_imports(rel)]
    assert stale == []


def test_principals_and_domain_errors_are_framework_free() -> None:
    for rel in ("api/auth/principals.py", "api/core/errors.py", "api/core/db.py",
                "api/keys/service.py", "api/uploads/service.py", "api/ingress/body.py",
                "api/ingress/multipart.py", "api/ingress/files.py",
                "api/ingress/filetypes.py", "api/ingress/argon2.py",
                "api/ingress/schemas.py"):
        assert not _allowed(rel)
        assert _framework_imports(rel) == [], rel


def _api_imports(rel: str) -> list[tuple[int, str]]:
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] in ("api", "crypto")]


def test_ingress_imports_no_feature_package() -> None:
    modules = [rel for rel in _modules() if rel.startswith("api/ingress/")]
    assert "api/ingress/admit.py" in modules
    offenders = [
        f"{rel}:{line} {name}" for rel in modules for line, name in _api_imports(rel)
        if not any(name == ok or name.startswith(ok + ".") for ok in INGRESS_MAY_IMPORT)
    ]
    assert offenders == [], "api/ingress sits below the features: " + ", ".join(offenders)


# ---- one owner per table -----------------------------------------------------------------

# Calls that build or run a query on a table model given to them.
QUERY_FUNCTIONS = frozenset({"select", "delete", "update", "col", "sa_select", "sa_delete",
                             "sa_update"})
QUERY_METHODS = frozenset({"get", "where"})  # session.get(Model, id), stmt.where(Model.x ...)
# Feature packages that may query other features' tables, each for a reason. Keep it short.
READS_EVERY_TABLE = {
    "api/fsck/": "checks every table against storage and the others, by design",
}


def _features() -> set[str]:
    return {p.parent.name for p in (ROOT / "api").glob("*/__init__.py")} - {"core"}


def _foreign_models(rel: str, tree: ast.Module, features: set[str]) -> dict[str, str]:
    """Local name -> ``api.Y...models.Name`` for each table model imported from another
    feature package Y (``api.core.models`` holds column types, not tables of a feature)."""
    own = rel.split("/")[1]
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
            continue
        parts = node.module.split(".")
        if parts[0] != "api" or len(parts) < 3 or parts[-1] != "models":
            continue
        if parts[1] == own or parts[1] not in features:
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            obj = getattr(module, alias.name, None)
            if isinstance(obj, type) and hasattr(obj, "__table__"):
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _queried(tree: ast.Module, models: dict[str, str]) -> set[str]:
    hits: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if not ((isinstance(func, ast.Name) and func.id in QUERY_FUNCTIONS)
                or (isinstance(func, ast.Attribute) and func.attr in QUERY_METHODS)):
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            hits |= {models[n.id] for n in ast.walk(arg)
                     if isinstance(n, ast.Name) and n.id in models}
    return hits


def _cross_feature_queries() -> list[str]:
    features = _features()
    offenders = []
    for rel in _modules():
        parts = rel.split("/")
        if parts[0] != "api" or len(parts) < 3 or parts[1] not in features:
            continue
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)
        models = _foreign_models(rel, tree, features)
        offenders += [f"{rel} queries {model}" for model in sorted(_queried(tree, models))]
    return offenders


def test_no_feature_queries_another_features_tables() -> None:
    """Each feature's repository answers for its tables: intake and follow-up read cases
    through api.cases, everyone reads staff accounts through api.auth.repository, and the
    case-key wraps are queried only in api.keys.repository."""
    offenders = [o for o in _cross_feature_queries()
                 if not any(o.startswith(prefix) for prefix in READS_EVERY_TABLE)]
    assert offenders == [], "call the owner's repository instead: " + ", ".join(offenders)


def test_the_cross_feature_scan_finds_what_it_looks_for() -> None:
    # fsck reads attachments and uploads directly: if the scan stops seeing that, it is blind.
    assert any(o.startswith("api/fsck/") for o in _cross_feature_queries())
    allowed = [p for p in READS_EVERY_TABLE if not (ROOT / p).is_dir()]
    assert allowed == []


def _constructions(name: str) -> list[str]:
    found = []
    for rel in _modules():
        if not rel.startswith(("api/", "workers/")):
            continue
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=rel)
        found += [rel for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == name]
    return sorted(set(found))


def test_one_place_creates_a_case() -> None:
    assert _constructions("Case") == ["api/cases/creation.py"], (
        "create a case with api.cases.creation.create_case")


def test_only_the_keys_repository_builds_a_wrap_row() -> None:
    # Sealing a case key to someone is api.cases.access.wraps.wrap_to; it stores the row
    # through api.keys.repository.add_wrap.
    assert _constructions("CaseKeyWrap") == ["api/keys/repository.py"]


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_api_package_is_in_a_layer() -> None:
    layers = _contracts()["layers"]["layers"]
    assert isinstance(layers, list)
    named = {name.strip().strip("()") for layer in layers for name in layer.split("|")}
    packages = {p.parent.name for p in (ROOT / "api").glob("*/__init__.py")}
    assert packages - named == set(), "place the new package in tool.importlinter's layers"
    forbidden = _contracts()["no-workers"]["source_modules"]
    assert isinstance(forbidden, list)
    assert {f"api.{p}" for p in packages} - set(forbidden) == set()

