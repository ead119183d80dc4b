"""Signing in to the console as a browser does, for the console's HTTP tests."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import StaffHandle, next_totp_code

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, handle: StaffHandle, *, lang: str = "en") -> str:
    """Signs ``handle`` in through the form; returns the page CSRF token of the session."""
    page = client.get(f"/staff/sign-in?lang={lang}")
    assert page.status_code == 200
    response = client.post("/staff/sign-in", data={
        "csrf": csrf_of(page.text), "lang": lang, "username": handle.user.username,
        "password": handle.password, "code": next_totp_code(client, handle),
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    account = client.get("/staff/account")
    assert account.status_code == 200
    return csrf_of(account.text)


def post(client: TestClient, path: str, csrf: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf": csrf, **fields}, follow_redirects=False)
