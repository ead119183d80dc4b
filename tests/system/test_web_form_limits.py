"""The public form must take as many files as the page promises (max_files_per_submission).

Found by the hostile-input catalogue: the form posts ~17 text parts before its files, but
api/web/receive.py parses it with the intake API's part limit
(``IntakeContext.multipart_limits``: max_files_per_submission + 8 parts, sized for one JSON
part plus files), so with the default 20 files a form with more than 11 files is refused
with 413 "The form has more than 28 parts". The form now has a part limit of its own.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.services import services_of
from tests.factories import create_recovery_key_text
from tests.system.test_hostile_inputs import web_fields
from tests.system.traffic import multipart_body


def test_web_form_accepts_the_promised_number_of_files(app_client: TestClient,
                                                       session: Session) -> None:
    create_recovery_key_text(session)
    settings = services_of(app_client.app).settings
    page = app_client.get("/report?lang=be")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    files = [("files", f"f{i}.txt", b"evidence %d" % i)
             for i in range(settings.max_files_per_submission)]
    ctype, body = multipart_body([("csrf", match.group(1)), *web_fields()], files)
    r = app_client.post("/report?lang=be", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 200, r.status_code


def test_overlong_text_is_named_as_text_not_as_files(app_client: TestClient,
                                                     session: Session) -> None:
    """A narrative past the limit that arrives as a stream is refused with the field's own
    message (in the form's language), not with a message about files."""
    create_recovery_key_text(session)
    settings = services_of(app_client.app).settings
    settings.web_max_text_chars = 1000
    page = app_client.get("/report?lang=be")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    fields = [("csrf", match.group(1)), *web_fields(narrative="ж" * 4001)]
    ctype, body = multipart_body(fields, [("files", "f.txt", b"evidence")])
    r = app_client.post("/report?lang=be", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 413
    # Numbers are localised: "1 000" with a (narrow) no-break space in Belarusian.
    assert re.search(r"не больш за 1\W?000 знакаў", r.text)
    assert 'href="#narrative"' in r.text
