"""Every public route that takes a body goes through its door of the admission table.

Public: every route of the app outside the staff prefixes (``STAFF_PATH_PREFIXES``,
which tests/foundation/test_surfaces.py holds to the staff surface's routes). Routes come
from the app's own route table, so a new public POST, PUT or PATCH without an admission
fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from api.core.errors import RateLimited
from api.core.logging import is_staff_path
from api.core.settings import Settings
from api.ingress import guards
from api.ingress.admit import POLICIES, Admission, Admit, Door, Step
from tests.intake.conftest import Intake

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def public_body_routes() -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        path = str(context.path)
        if not isinstance(route, APIRoute) or is_staff_path(path):
            continue
        for method in sorted((route.methods or set()) & BODY_METHODS):
            yield method, path, route


def _admissions(dependant: Dependant) -> list[Admit[Any]]:
    found = [dependant.call] if isinstance(dependant.call, Admit) else []
    for sub in dependant.dependencies:
        found += _admissions(sub)
    return found


def test_every_public_body_route_is_admitted_through_its_own_door() -> None:
    seen: set[Door] = set()
    routes = list(public_body_routes())
    assert len(routes) >= len(Door), "the scan must see the public routes"
    for method, path, route in routes:
        admissions = _admissions(route.dependant)
        assert len(admissions) == 1, (
            f"{method} {path} must take exactly one admission (api.ingress.admit), "
            f"found {len(admissions)}")
        door = admissions[0].door
        assert door.value == f"{method} {path}", f"{method} {path} uses the door {door}"
        seen.add(door)
    assert seen == set(Door), f"doors without a route: {sorted(d.name for d in set(Door) - seen)}"


def test_every_door_has_a_policy_that_bounds_the_headers() -> None:
    assert set(POLICIES) == set(Door)
    for door, policy in POLICIES.items():
        assert policy.steps[0] is Step.HEADERS, door
        assert len(set(policy.steps)) == len(policy.steps), door


def test_every_public_body_route_refuses_oversized_headers(
        intake_with: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real request per route: the header guard of its door runs before anything else.
    # The pages explain it as a bad request (api.web.errors.error_page), in HTML, with
    # the status it is.
    checked: list[str] = []
    original = guards.check_headers

    def recording(request: Request, settings: Settings) -> None:
        checked.append(f"{request.method} {request.url.path}")
        original(request, settings)

    monkeypatch.setattr(guards, "check_headers", recording)
    intake: Intake = intake_with(max_header_bytes=1024)
    for method, path, route in public_body_routes():
        page = POLICIES[_admissions(route.dependant)[0].door].page
        url = path.replace("{token}", "x")
        checked.clear()
        r = intake.client.request(method, url, content=b"{}", headers={
            "content-type": "application/json", "x-padding": "p" * 2000,
            "tus-resumable": "1.0.0"})
        assert checked == [f"{method} {url}"], (method, path, checked)
        assert r.status_code == 431, (method, path, r.status_code)
        if page:
            assert r.headers["content-type"].startswith("text/html"), (method, path)
        else:
            assert r.json()["error"]["code"] == "headers_too_large", (method, path)


@pytest.mark.parametrize("door", [d for d in Door if POLICIES[d].page])
def test_page_doors_keep_the_refusal_and_will_not_stream_past_it(
        door: Door, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    admission: Admission[None] = Admission(
        door=door, settings=settings, guards=guards.Guards.from_settings(settings),
        client="t", content_type=None, content_length=None, declared_length=None,
        authorized=None, refusal=RateLimited(5))
    with pytest.raises(RateLimited):
        admission.stream()
    with pytest.raises(RateLimited):
        admission.check()
