"""Property-based fuzzing of the live API with schemathesis, as every kind of caller.

A real ``python -m api serve`` (PostgreSQL when reachable, else SQLite) publishes its
OpenAPI document at ``/api/openapi.json``; schemathesis loads it over HTTP and, for every
operation, generates valid (positive) and invalid (negative) requests with Hypothesis.
Each request goes out as one caller - anonymous, each staff role with a live session, or
a partner API key - and every answer must:

* not be a 5xx (``not_a_server_error``);
* match the document: a declared content type, and a body valid against the declared
  response schema (``content_type_conformance``, ``response_schema_conformance``);
* never be a 2xx for a caller the authorisation matrix (tests/auth/access_matrix.py)
  does not allow on that route.

Examples per operation and mode default to 3 (``DOKAZ_FUZZ_EXAMPLES`` raises it for a
longer run); generation is derandomised, so a CI failure reproduces locally.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlmodel import Session

from api.auth.roles import Role
from tests.auth.access_matrix import EVERYONE, EXPECTED
from tests.conftest import _pg_available
from tests.factories import StaffHandle, create_partner_key, create_recovery_key_text, create_staff
from tests.system import figures
from tests.system.live import Deployment, LiveApi, mint_token, shared_pg_database

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("DOKAZ_FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
STAFF_ROLES = ("admin", "coordinator", "caseworker", "lawyer")


@dataclass
class Live:
    dep: Deployment
    api: LiveApi
    staff: dict[str, StaffHandle] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def renew(self, caller: str) -> None:
        token = mint_token(self.dep.engine, self.dep.settings, self.staff[caller])
        self.headers[caller] = {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("fuzz")
    if _pg_available():
        with shared_pg_database("dokaz_fuzz") as url:
            yield from _serve(root, url)
    else:
        yield from _serve(root, None)


def _serve(root: Path, url: str | None) -> Iterator[Live]:
    dep = Deployment(root, url)
    try:
        with Session(dep.engine, expire_on_commit=False) as s:
            create_recovery_key_text(s)
            staff = {r: create_staff(s, Role(r), on_intake_duty=r == "caseworker")
                     for r in STAFF_ROLES}
            key, _ = create_partner_key(s)
        live = Live(dep, dep.start_api(), staff)
        for role in STAFF_ROLES:
            live.renew(role)
        live.headers["partner"] = {"X-API-Key": key}
        live.headers["anonymous"] = {}
        yield live
    finally:
        dep.close()


def fuzz_operation(live: Live, caller: str, op: Any, mode: GenerationMode,
                   allowed: frozenset[str], http: requests.Session, problems: list[str]) -> int:
    """Run up to EXAMPLES generated requests against one operation; return how many."""
    runs = 0
    strategy = op.as_strategy(generation_mode=mode)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal runs
        runs += 1
        headers = {**(case.headers or {}), **live.headers[caller]}
        response = case.call(base_url=live.api.url, session=http, headers=headers, timeout=60)
        status = response.status_code
        if caller in STAFF_ROLES and status == 401:
            live.renew(caller)  # e.g. a fuzzed logout ended the session
        if caller not in allowed and 200 <= status < 300:
            problems.append(f"{op.label}: {caller} is not allowed but got {status}")
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            problems.append(f"{op.label} [{mode.value}] as {caller}: {status} "
                            f"{type(exc).__name__}: {first[:200]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters, no body)
        run()
    return runs


@pytest.mark.parametrize("caller", sorted(EVERYONE))
def test_fuzz_every_operation(live: Live, caller: str) -> None:
    schema = openapi.from_url(live.api.url + "/api/openapi.json", wait_for_schema=30)
    problems: list[str] = []
    runs = 0
    http = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 50, "the OpenAPI document lost its operations"
    for op in operations:
        allowed = EXPECTED.get((op.method.upper(), op.path))
        if allowed is None:
            problems.append(f"{op.label}: not in the authorisation matrix")
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runs += fuzz_operation(live, caller, op, mode, allowed, http, problems)
    figures.record("fuzz", caller=caller, operations=len(operations), cases=runs,
                   problems=len(problems))
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} problem(s):\n" + "\n".join(unique[:80])
