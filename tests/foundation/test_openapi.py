"""The OpenAPI document a client generator or the docs page reads: every ``$ref`` resolves
and the document is valid OpenAPI, on each surface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from sqlalchemy import Engine

from api.app import create_app
from api.core.openapi import refs_in
from api.core.settings import Settings
from api.core.surfaces import Surface
from api.services import build_services


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """The node a local JSON-pointer ``$ref`` names (RFC 6901), or KeyError."""
    assert ref.startswith("#/"), f"{ref} is not a reference inside the document"
    node: Any = doc
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@pytest.fixture(params=[Surface.ALL, Surface.PUBLIC, Surface.STAFF], ids=lambda s: s.value)
def documented(request: pytest.FixtureRequest, settings: Settings,
               engine: Engine) -> Iterator[dict[str, Any]]:
    app = create_app(surface=request.param, services=build_services(settings, engine))
    with TestClient(app) as client:
        response = client.get("/api/openapi.json")
        assert response.status_code == 200
        # Served again, the same document (it is built once and kept).
        again = client.get("/api/openapi.json")
        assert again.status_code == 200 and again.json() == response.json()
        yield response.json()


def test_every_reference_resolves_and_the_document_is_valid(
        documented: dict[str, Any]) -> None:
    refs = set(refs_in(documented))
    assert refs, "a document without references would prove nothing here"
    unresolved = []
    for ref in sorted(refs):
        try:
            resolve(documented, ref)
        except (KeyError, IndexError, ValueError):
            unresolved.append(ref)
    assert unresolved == []
    validate(documented)  # raises on any violation of the OpenAPI 3.1 schema


def test_the_submission_body_is_documented_as_the_endpoint_reads_it(
        app_client: TestClient) -> None:
    doc = app_client.get("/api/openapi.json").json()
    body = doc["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"]
    schema = resolve(doc, body["application/json"]["schema"]["$ref"])
    published = app_client.get("/api/v1/submissions/schema").json()
    # The same fields and the same required ones as the published JSON schema.
    assert set(schema["properties"]) == set(published["properties"])
    assert set(schema.get("required", [])) == set(published.get("required", []))
    # Its nested models resolve too, including one renamed beside the cases' own Person.
    nested = {r for r in refs_in(schema)}
    assert nested and all(resolve(doc, r) for r in nested)


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
def test_the_docs_pages_load_only_our_assets_under_their_own_policy(
        app_client: TestClient, page: str) -> None:
    r = app_client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert r.text.count(f'nonce="{nonce}"') == 2  # the bundle and our start-up script
    assert "http://" not in r.text and "https://" not in r.text
    # A new nonce each time: one seen in a page is no key to the next.
    assert nonce not in app_client.get(page).headers["content-security-policy"]
    links = [part.split('"', 1)[0] for marker in ('src="', 'href="')
             for part in r.text.split(marker)[1:]]
    assert len(links) >= 3
    for src in links:
        asset = app_client.get(src)
        assert asset.status_code == 200 and asset.content, src


def test_only_the_listed_assets_are_served(app_client: TestClient) -> None:
    assert app_client.get("/api/docs/assets/swagger-ui.css").headers[
        "content-type"].startswith("text/css")
    for name in ("core.py", "..%2F..%2Fcore.py", "LICENSE"):
        assert app_client.get(f"/api/docs/assets/{name}").status_code == 404
