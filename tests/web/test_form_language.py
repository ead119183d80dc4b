"""Every error, limit and wait page of a form comes back in the form's language.

Tor Browser always sends ``Accept-Language: en-US,en``, so each request here sends it
while the form was filled in Belarusian (or Ukrainian): the form carries its language in
its address (``action="/report?lang=be"``) and its hidden field, and that must win, also
for refusals made before a byte of the body is read (rates, the disk, another site).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.cases.threads.models import Submission
from api.core.settings import Settings
from api.web import errors, pages
from api.web.i18n import translations
from tests.web.test_pages_http import client_for, report_fields, rows, token_of

TOR = {"accept-language": "en-US,en;q=0.5"}
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(9000)


def says(response: Any, lang: str, message: str, **params: str) -> bool:
    expected = translations(lang).gettext(message)
    expected = expected % params if params else expected
    assert expected != message or lang == "en"
    return " ".join(expected.split()) in " ".join(html.unescape(response.text).split())


def post(client: TestClient, lang: str, files: list[tuple[str, bytes, str]] | None = None,
         token: str | None = None, headers: dict[str, str] | None = None) -> Any:
    token = token or token_of(client.get(f"/report?lang={lang}", headers=TOR).text)
    data: list[tuple[str, Any]] = [("csrf", (None, token)),
                                   *[(k, (None, v)) for k, v in report_fields(lang=lang)]]
    for name, body, ctype in files or [("", b"", "application/octet-stream")]:
        data.append(("files", (name, body, ctype)))
    return client.post(f"/report?lang={lang}", files=data, headers=headers or TOR)


@pytest.fixture
def client_with(settings: Settings, engine: Engine, intake_ready: None
                ) -> Iterator[Any]:
    made: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = client_for(settings.model_copy(update=overrides), engine)
        made.append(client.__enter__())
        return made[-1]

    yield build
    for client in made:
        client.__exit__(None, None, None)


def test_the_form_asks_in_its_own_language(client_with: Any) -> None:
    client = client_with()
    for path in ("/report?lang=be", "/followup?lang=be"):
        page = client.get(path, headers=TOR).text
        assert 'action="/report?lang=be"' in page or 'action="/followup?lang=be"' in page


def test_rate_limit_page_in_belarusian(client_with: Any, session: Session) -> None:
    client = client_with(intake_rate_per_client_per_hour=1)
    assert post(client, "be").status_code == 200
    refused = post(client, "be")
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert '<html lang="be">' in refused.text
    assert says(refused, "be", pages.RATE_HEADING) and says(refused, "be", pages.RATE_TEXT)
    assert rows(session, Submission) == 1


def test_disk_full_page_in_belarusian(client_with: Any, session: Session) -> None:
    client = client_with(min_free_disk_bytes=2**62)
    refused = post(client, "be", [("a.txt", b"notes", "text/plain")])
    assert refused.status_code == 503
    assert '<html lang="be">' in refused.text
    assert says(refused, "be", pages.UNAVAILABLE_TEXT)
    assert rows(session, Submission) == 0


def test_cross_site_page_in_the_forms_language(client_with: Any) -> None:
    client = client_with()
    refused = post(client, "uk", headers={**TOR, "sec-fetch-site": "cross-site"})
    assert refused.status_code == 403 and '<html lang="uk">' in refused.text
    assert says(refused, "uk", pages.CROSS_SITE_TEXT)


def test_expired_form_in_belarusian(client_with: Any) -> None:
    client = client_with()
    refused = post(client, "be", token="v1.1." + "0" * 32)
    assert refused.status_code == 403 and '<html lang="be">' in refused.text
    assert says(refused, "be", pages.CSRF_TEXT)


def test_too_large_in_belarusian(client_with: Any, session: Session) -> None:
    client = client_with(max_file_bytes=1024)
    refused = post(client, "be", [("big.txt", b"x" * 5000, "text/plain")])
    assert refused.status_code == 413 and '<html lang="be">' in refused.text
    assert says(refused, "be", pages.FILES_TOO_LARGE)
    assert rows(session, Submission) == 0


def test_a_program_is_refused_by_name_in_belarusian(client_with: Any, session: Session) -> None:
    client = client_with()
    refused = post(client, "be", [("фота.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
                                  ("справаздача.pdf", EXE, "application/pdf")])
    assert refused.status_code == 415 and '<html lang="be">' in refused.text
    assert says(refused, "be", pages.FILE_REFUSED_PROGRAM, name="справаздача.pdf")
    assert "They took him at the bus stop." in refused.text  # the text is given back
    assert rows(session, Submission) == 0


def test_a_mislabelled_photo_is_accepted(client_with: Any, session: Session) -> None:
    client = client_with()
    sent = post(client, "be", [("IMG_0001.jpg", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/jpeg"),
                               ("заява.txt", "Мяне затрымалі.".encode("cp1251"), "text/plain")])
    assert sent.status_code == 200 and 'id="receipt-code"' in sent.text
    assert "IMG_0001.jpg" in sent.text
    assert rows(session, Submission) == 1


def test_a_slow_body_gets_a_page_in_the_forms_language(client_with: Any) -> None:
    # The whole body must arrive within the deadline; here it cannot.
    client = client_with(request_body_timeout_seconds=0.001)

    def slow() -> Iterator[bytes]:
        import time

        time.sleep(0.05)
        yield b"--x\r\n"

    refused = client.post("/report?lang=be", content=slow(), headers={
        **TOR, "content-type": "multipart/form-data; boundary=x"})
    assert refused.status_code == 408 and '<html lang="be">' in refused.text
    assert says(refused, "be", pages.TIMEOUT_TEXT)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/report/nothing?lang=be", 404),
    ("GET", "/followup/files?lang=be", 404),  # a wrong method: as if nothing were there
    ("GET", "/report?lang=be-xxxxxxxxxxxxxxxxxxxx", 422),  # longer than a language
])
def test_errors_no_route_answers_are_pages_too(client_with: Any, method: str, path: str,
                                               status: int) -> None:
    response = client_with().request(method, path, headers=TOR)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="be">' in response.text
    heading = errors.NOT_FOUND_HEADING if status == 404 else pages.BAD_REQUEST_HEADING
    assert says(response, "be", heading)


def test_the_api_keeps_its_json_errors(client_with: Any) -> None:
    response = client_with().get("/api/v1/nothing?lang=be", headers=TOR)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
