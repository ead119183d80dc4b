from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session

from api.core.errors import Conflict, RateLimited, error_responses
from api.services import services_of
from tests.factories import create_recovery_key_text


def test_healthz(app_client: TestClient) -> None:
    r = app_client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_reports_each_check(app_client: TestClient, session: Session) -> None:
    create_recovery_key_text(session)
    r = app_client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "recovery_key", "data_dir"}
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]


def test_readyz_is_not_ready_without_a_recovery_key(app_client: TestClient) -> None:
    """Intake refuses every report until the key exists, so the service is not ready."""
    r = app_client.get("/readyz")
    assert r.status_code == 503
    check = r.json()["checks"]["recovery_key"]
    assert check["ok"] is False
    assert "dokaz keys generate" in check["reason"]
    assert "dokaz keys import-public" in check["reason"]
    assert "dokaz keys init" in check["reason"]


def test_readyz_fails_when_data_dir_not_writable(app_client: TestClient) -> None:
    data_dir: Path = services_of(app_client.app).settings.data_dir
    # Root ignores permission bits, so put a file where the directory should be.
    shutil.rmtree(data_dir)
    data_dir.write_text("not a directory")
    r = app_client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["data_dir"]["ok"] is False


def test_unknown_route_uses_error_shape(app_client: TestClient) -> None:
    r = app_client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert r.json()["error"]["message"]


class Person(BaseModel):
    name: str
    age: int


class Body(BaseModel):
    persons: list[Person]


def _demo_app() -> FastAPI:
    from api.core.error_handlers import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/demo", responses=error_responses(Conflict, RateLimited))
    def demo(body: Body) -> dict[str, int]:
        if body.persons[0].age == 1:
            raise Conflict("This report was already merged.")
        if body.persons[0].age == 2:
            raise RateLimited(42)
        raise RuntimeError("secret narrative text must not leak")

    return app


def test_validation_errors_are_422_with_field_paths_and_no_input_echo() -> None:
    client = TestClient(_demo_app())
    r = client.post("/demo", json={"persons": [{"name": "CANARY-NAME", "age": "old"}]})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    paths = [f["path"] for f in err["details"]["fields"]]
    assert "persons[0].age" in paths  # relative to the body, as every 422 writes it
    assert "CANARY-NAME" not in r.text


def test_domain_errors_render_with_status_and_headers() -> None:
    client = TestClient(_demo_app())
    r = client.post("/demo", json={"persons": [{"name": "x", "age": 1}]})
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "conflict", "message": "This report was already merged.", "details": {}
    }
    r = client.post("/demo", json={"persons": [{"name": "x", "age": 2}]})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "42"
    assert "42 seconds" in r.json()["error"]["message"]


def test_unexpected_errors_are_500_without_the_exception_message() -> None:
    client = TestClient(_demo_app(), raise_server_exceptions=False)
    r = client.post("/demo", json={"persons": [{"name": "x", "age": 3}]})
    assert r.status_code == 500
    assert "secret narrative" not in r.text
    assert r.json()["error"]["code"] == "internal_error"


def test_openapi_lists_declared_errors() -> None:
    spec = _demo_app().openapi()
    responses = spec["paths"]["/demo"]["post"]["responses"]
    assert {"409", "429", "422"} <= set(responses)
