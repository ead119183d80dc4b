"""The public and the staff surface: every router is placed on one, each app serves its
own routes only (and 404 for the other's), both apps share one set of services, and the
staff log prefixes agree with the placement."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import api
from api.app import ROUTER_SURFACES, create_app, feature_routers, placed_routers
from api.core.logging import is_staff_path
from api.core.privacy import ClientAnonymityMiddleware
from api.core.settings import Settings
from api.core.surfaces import Surface
from api.services import build_services, services_of
from tests.auth.access_matrix import EXPECTED

NOT_FOUND = {"error": {"code": "not_found", "message": "Nothing was found here.", "details": {}}}


def router_modules() -> Iterator[str]:
    """Every router that a ``router`` module of the ``api`` package defines, named as
    ``api.app.ROUTER_SURFACES`` names them ("module", or "module:attribute")."""
    for info in pkgutil.walk_packages(api.__path__, "api."):
        if info.name.rsplit(".", 1)[-1] == "router":
            module = importlib.import_module(info.name)
            for attribute in _defined_here(module):
                if isinstance(getattr(module, attribute), APIRouter):
                    yield info.name if attribute == "router" else f"{info.name}:{attribute}"


def _defined_here(module: Any) -> list[str]:
    """Names the module assigns at its top level (not the routers it imports to include)."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    return [target.id for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


def route_keys(app: FastAPI) -> set[tuple[str, str]]:
    keys = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            keys |= {(method, str(context.path)) for method in route.methods or ()}
    return keys


def placed_keys(where: Surface) -> set[tuple[str, str]]:
    """The routes of the routers placed on exactly ``where``."""
    app = FastAPI()
    for router, placed in placed_routers():
        if placed is where:
            app.include_router(router)
    return route_keys(app)


def test_every_router_is_placed_on_a_surface() -> None:
    assert set(router_modules()) == set(ROUTER_SURFACES)
    placed = {id(router) for router, _ in placed_routers()}
    assert all(id(router) in placed for router in feature_routers())


def test_each_surface_serves_its_own_routes_and_all_serves_both() -> None:
    public, staff, both = (placed_keys(s) for s in (Surface.PUBLIC, Surface.STAFF, Surface.ALL))
    assert public and staff and both and not public & staff
    settings = Settings()
    assert route_keys(create_app(settings, surface=Surface.PUBLIC)) == public | both
    assert route_keys(create_app(settings, surface=Surface.STAFF)) == staff | both
    assert route_keys(create_app(settings)) == public | staff | both


def test_the_staff_log_prefixes_are_the_staff_surface() -> None:
    # Staff routes keep exact log times, public ones are cut to the minute
    # (api.core.logging): the prefixes must name exactly the staff surface's routes.
    assert all(is_staff_path(path) for _, path in placed_keys(Surface.STAFF))
    assert not any(is_staff_path(path) for _, path in placed_keys(Surface.PUBLIC))
    assert not any(is_staff_path(path) for _, path in placed_keys(Surface.ALL))


@pytest.fixture
def surfaces(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, TestClient]]:
    services = build_services(settings, engine)
    public = create_app(surface=Surface.PUBLIC, services=services)
    staff = create_app(surface=Surface.STAFF, services=services)
    # One engine, one storage client, one set of limiters for both apps of a process.
    assert services_of(public) is services_of(staff) is services
    with TestClient(public) as p, TestClient(staff) as s:
        yield p, s


def test_each_surface_answers_404_for_the_others_routes(
        surfaces: tuple[TestClient, TestClient]) -> None:
    public, staff = surfaces
    for client in (public, staff):
        assert client.get("/healthz").status_code == 200
    assert public.get("/about").status_code == 200
    assert public.get("/api/v1/vocabularies").status_code == 200
    assert public.get("/api/v1/submissions/schema").status_code == 200
    assert staff.get("/api/v1/auth/me").status_code == 401
    for path in ("/report", "/about", "/followup", "/static/web.css", "/api/v1/vocabularies",
                 "/api/v1/submissions/schema"):
        response = staff.get(path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path
    for method, path in (("GET", "/api/v1/cases"), ("POST", "/api/v1/auth/login"),
                         ("GET", "/api/v1/admin/jobs"), ("GET", "/api/v1/approvals"),
                         ("GET", "/api/v1/stats/tables")):
        response = public.request(method, path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path
    # The same answer as a path that exists nowhere.
    assert public.get("/nowhere").json() == staff.get("/nowhere").json() == NOT_FOUND


def test_each_surface_documents_its_own_routes_only(
        surfaces: tuple[TestClient, TestClient]) -> None:
    public, staff = surfaces
    public_paths = set(public.get("/api/openapi.json").json()["paths"])
    staff_paths = set(staff.get("/api/openapi.json").json()["paths"])
    assert "/api/v1/submissions" in public_paths and "/api/v1/cases" in staff_paths
    assert not any(is_staff_path(p) for p in public_paths)
    assert all(is_staff_path(p) for p in staff_paths - {"/healthz", "/readyz"})
    assert staff.get("/api/docs").status_code == 200


def test_the_staff_surface_tells_clients_apart_by_address(settings: Settings) -> None:
    proxied = settings.model_copy(update={"client_identity": "proxy-protocol"})

    def identity(app: FastAPI) -> str:
        for middleware in app.user_middleware:
            factory: object = middleware.cls
            if factory is ClientAnonymityMiddleware:
                return str(middleware.kwargs["identity"])
        raise AssertionError("no ClientAnonymityMiddleware")

    assert identity(create_app(proxied, surface=Surface.PUBLIC)) == "proxy-protocol"
    assert identity(create_app(proxied, surface=Surface.STAFF)) == "address"
    assert identity(create_app(proxied)) == "proxy-protocol"


def test_no_one_anonymous_reaches_the_staff_surface_past_the_sign_in() -> None:
    # What the access matrix lets in without credentials on the staff surface: the
    # sign-in, and the console's sign-in page, its stylesheet and its home (a redirect to
    # the sign-in); the health checks are on every surface, not placed on this one.
    open_to_anyone = {key for key in placed_keys(Surface.STAFF)
                      if "anonymous" in EXPECTED.get(key, frozenset())}
    assert open_to_anyone == {("POST", "/api/v1/auth/login"), ("GET", "/staff/sign-in"),
                              ("GET", "/staff/static/console.css"), ("GET", "/staff/")}
    assert all(key in EXPECTED for key in placed_keys(Surface.STAFF))


def test_serve_refuses_a_staff_port_it_cannot_serve() -> None:
    import typer

    from api.cli import _check_staff_listener

    settings = Settings(staff_port=8001)
    _check_staff_listener(settings, "127.0.0.1", 8000)
    # Several workers are served (tests/system/test_serve_workers.py); one port twice is not.
    with pytest.raises(typer.Exit):
        _check_staff_listener(settings, "127.0.0.1", 8001)
    assert Settings(staff_port=8001).resolved_staff_host == "127.0.0.1"
    assert Settings(staff_port=8001, staff_host="10.0.0.2").resolved_staff_host == "10.0.0.2"
