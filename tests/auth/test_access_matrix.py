"""Every route x every kind of caller -> allowed or refused, as tests/auth/access_matrix.py
says. Routes come from the app's own route table, so a new route without an entry fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from api.auth.roles import Role
from api.console import session as console_session
from api.keys.service import create_recovery_key
from api.services import services_of
from tests.auth.access_matrix import EVERYONE, EXPECTED
from tests.factories import StaffHandle, create_partner_key, create_staff, login_headers

BODY_METHODS = {"POST", "PUT", "PATCH"}
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def app_routes() -> Iterator[tuple[str, str]]:
    app = create_app()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(route.methods or ()):
                yield method, str(context.path)


def test_every_route_has_an_entry_and_every_entry_a_route() -> None:
    routes = set(app_routes())
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, "add these routes to tests/auth/access_matrix.py: " + ", ".join(
        f"{m} {p}" for m, p in missing)
    assert not stale, "these entries name no route any more: " + ", ".join(
        f"{m} {p}" for m, p in stale)
    for key, callers in EXPECTED.items():
        assert callers <= EVERYONE, f"{key}: unknown caller in {sorted(callers - EVERYONE)}"


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "id" or name.endswith("_id"):
            return str(uuid.uuid4())
        return "x" + uuid.uuid4().hex[:8]

    return PARAM.sub(value, path)


class Callers:
    """Credentials per caller; staff sessions are renewed when a route ended them."""

    def __init__(self, client: TestClient, session: Session) -> None:
        self.client = client
        self.staff: dict[str, StaffHandle] = {
            role.value: create_staff(session, role)
            for role in (Role.ADMIN, Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER)
        }
        self.headers: dict[str, dict[str, str]] = {
            name: login_headers(client, handle) for name, handle in self.staff.items()
        }
        create_recovery_key(session)  # a set-up installation: intake needs it
        key, _ = create_partner_key(session, scopes=("stats:read",))
        self.headers["partner"] = {"X-API-Key": key}
        self.headers["anonymous"] = {}

    def for_caller(self, caller: str) -> dict[str, str]:
        if caller in self.staff:
            alive = self.client.get("/api/v1/auth/me", headers=self.headers[caller])
            if alive.status_code == 401:  # e.g. the previous request was a logout
                self.headers[caller] = login_headers(self.client, self.staff[caller])
        return dict(self.headers[caller])


def console_request(client: TestClient, headers: dict[str, str], method: str
                    ) -> dict[str, object]:
    """A console page is called as a browser calls it: the staff session in its cookie (not
    a header) and, on a POST, a form with that session's CSRF token, so what the matrix
    checks is the role, not the transport."""
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    client.cookies.clear()
    kwargs: dict[str, object] = {"follow_redirects": False}
    if token.startswith("dks_"):
        me = client.get("/api/v1/auth/me", headers=headers).json()
        client.cookies.set(console_session.COOKIE, token)
        secret = services_of(client.app).settings.secret_key.get_secret_value()  # type: ignore[arg-type]
        csrf = console_session.csrf_token(secret, uuid.UUID(me["session_id"]))
    else:
        csrf = "not-a-token"
    if method in BODY_METHODS:
        kwargs["data"] = {console_session.FIELD: csrf}
    return kwargs


def test_access_matrix(app_client: TestClient, session: Session) -> None:
    callers = Callers(app_client, session)
    session.rollback()
    problems: list[str] = []
    for (method, path), allowed in sorted(EXPECTED.items()):
        for caller in sorted(EVERYONE):
            kwargs: dict[str, object] = {"headers": callers.for_caller(caller)}
            if path.startswith("/staff"):
                kwargs = console_request(app_client, kwargs["headers"], method)  # type: ignore[arg-type]
            elif method in BODY_METHODS:
                kwargs["json"] = {}
            response = app_client.request(method, _fill(path), **kwargs)  # type: ignore[arg-type]
            refused = response.status_code in (401, 403)
            if caller in allowed and refused:
                problems.append(f"{method} {path}: {caller} refused ({response.status_code})")
            elif caller not in allowed and not refused:
                problems.append(f"{method} {path}: {caller} NOT refused ({response.status_code})")
            elif response.status_code >= 500:
                problems.append(f"{method} {path}: {caller} got {response.status_code}")
    assert not problems, "authorisation matrix mismatches:\n" + "\n".join(problems)
