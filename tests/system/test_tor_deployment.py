"""The Tor deployment's two ports, on SQLite and PostgreSQL (tests/system/tor_deployment.py):
the public surface on the PROXY-protocol port and the staff surface on the plain one, each
404 for the other's routes; each circuit its own intake budget; the public port refusing a
connection without the header while the staff port serves plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.core.models import utcnow
from tests.factories import create_recovery_key_text, create_staff
from tests.system.tor.proxied import exchange, request, status, tor_header
from tests.system.tor_deployment import TorDeployment, tor_deployment
from tests.system.traffic import Submitter

pytestmark = pytest.mark.slow

PER_CIRCUIT = 2  # submissions per circuit per hour, low so a test can exhaust it
NOT_FOUND = {"error": {"code": "not_found", "message": "Nothing was found here.",
                       "details": {}}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TorDeployment]:
    with tor_deployment(request.param, tmp_path_factory.mktemp(f"tor-{request.param}"),
                        DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR=str(PER_CIRCUIT)) as served:
        with Session(served.dep.engine) as s:
            create_recovery_key_text(s)
        yield served


def test_public_routes_are_on_the_public_port_only(tor: TorDeployment) -> None:
    with tor.circuit(1) as public, tor.staff() as staff:
        for path in ("/report", "/about", "/static/web.css", "/api/v1/vocabularies",
                     "/api/v1/submissions/schema"):
            assert public.get(path).status_code == 200, path
            response = staff.get(path)
            assert (response.status_code, response.json()) == (404, NOT_FOUND), path
        sent = Submitter(str(public.base_url).rstrip("/"), file_sizes=(4096,)).send(public)
        assert sent.acknowledged, sent.error
        assert staff.post("/api/v1/submissions").status_code == 404
        assert staff.post("/api/v1/followup/session", json={}).status_code == 404
        paths = staff.get("/api/openapi.json").json()["paths"]
        assert "/api/v1/cases" in paths and "/api/v1/submissions" not in paths
        paths = public.get("/api/openapi.json").json()["paths"]
        assert "/api/v1/submissions" in paths and "/api/v1/cases" not in paths


def test_staff_sign_in_and_cases_are_on_the_staff_port_only(tor: TorDeployment) -> None:
    with Session(tor.dep.engine, expire_on_commit=False) as s:
        handle = create_staff(s, Role.COORDINATOR, settings=tor.dep.settings)
    credentials = {"username": handle.user.username, "password": handle.password,
                   "code": code_for_step(handle.totp_secret, step_at(utcnow()))}
    with tor.circuit(2) as public, tor.staff() as staff:
        # Refused by routing, before the sign-in looks at anything (the code is unused).
        response = public.post("/api/v1/auth/login", json=credentials)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
        signed_in = staff.post("/api/v1/auth/login", json=credentials)
        assert signed_in.status_code == 200, signed_in.text
        bearer = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        cases = staff.get("/api/v1/cases", headers=bearer)
        assert cases.status_code == 200, cases.text
        for path in ("/api/v1/cases", "/api/v1/auth/me", "/api/v1/admin/users",
                     "/api/v1/approvals", "/api/v1/admin/jobs", "/api/v1/stats/tables"):
            response = public.get(path, headers=bearer)
            assert (response.status_code, response.json()) == (404, NOT_FOUND), path
        assert staff.get("/api/v1/auth/me", headers=bearer).status_code == 200


def test_two_circuits_have_separate_intake_budgets(tor: TorDeployment) -> None:
    with tor.circuit(1000) as flooder, tor.circuit(1001) as other:
        submitter = Submitter(str(flooder.base_url).rstrip("/"), file_sizes=(1024,))
        for _ in range(PER_CIRCUIT):
            sent = submitter.send(flooder)
            assert sent.acknowledged, sent.error
        refused = submitter.send(flooder)
        assert refused.status == 429, refused.error
        assert submitter.send(other).acknowledged
    # A new connection (a fresh pool) of the same circuit is still the same client.
    with tor.circuit(1000) as again:
        assert submitter.send(again).status == 429


def test_the_public_port_wants_the_header_and_the_staff_port_does_not(
        tor: TorDeployment) -> None:
    assert exchange(tor.public_port, request("GET", "/healthz")) == b""
    assert status(exchange(tor.public_port, tor_header(5) + request("GET", "/healthz"))) == 200
    assert status(exchange(tor.staff_port, request("GET", "/healthz"))) == 200
    # To the staff port a PROXY line is no identity, just a malformed request.
    assert status(exchange(tor.staff_port, tor_header(5) + request("GET", "/healthz"))) == 400
