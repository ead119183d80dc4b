"""The case page's workflow, file and thread tools over HTTP, on both engines: the states
not open to someone with the reason the move itself gives (four eyes, role), a split after
its preview, a clean copy made and downloaded, a thread marked answered without a reply."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.cases.models import Case, CaseEvent, CaseLink
from api.cases.threads.models import CaseMessage, Submission
from api.cases.workflow import transitions
from api.console import labels
from api.core.settings import Settings
from tests.cases.factory import jpeg_with_gps, make_case
from tests.console.helpers import post, sign_in
from tests.factories import StaffHandle, create_recovery_key_text, create_staff

VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def ready(session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)


def as_(client: TestClient, handle: StaffHandle) -> str:
    client.cookies.clear()
    return sign_in(client, handle)


def version_of(page: str) -> str:
    found = VERSION.search(page)
    assert found is not None
    return found.group(1)


def refused_reason(page: str, state: str) -> str:
    """The reason the case page gives for ``state`` being refused, as plain text."""
    found = re.search(rf'<li data-state="{state}"><strong>[^<]*</strong>: ([^<]+)</li>', page)
    assert found is not None, f"{state} is not listed as refused"
    return html.unescape(found.group(1)).strip()


def offered(page: str) -> list[str]:
    select_ = re.search(r'<select id="to" name="to">(.*?)</select>', page, re.S)
    return re.findall(r'<option value="([a-z_]+)"', select_.group(1)) if select_ else []


def test_the_page_names_the_refusal_the_move_gets(
        app_client: TestClient, session: Session, settings: Settings, ready: None) -> None:
    cw = create_staff(session, Role.CASEWORKER, settings=settings)
    other = create_staff(session, Role.CASEWORKER, settings=settings)
    made = make_case(session, settings, wrap_to=[cw, other])
    case = f"/staff/cases/{made.id}"

    csrf = as_(app_client, cw)
    for dst in ("triage", "in_review"):
        page = app_client.get(case).text
        assert dst in offered(page)
        moved = post(app_client, f"{case}/transitions", csrf, to=dst, version=version_of(page))
        assert moved.status_code == 303
    page = app_client.get(case).text
    # The reviewer is not offered "verified"; the page says why, in the workflow's words.
    assert "verified" not in offered(page) and "needs_info" in offered(page)
    reason = refused_reason(page, "verified")
    assert reason == transitions.REFUSALS["four_eyes"]
    refused = post(app_client, f"{case}/transitions", csrf, to="verified",
                   version=version_of(page))
    assert refused.status_code == 403
    assert reason in html.unescape(refused.text)
    session.expire_all()
    assert session.exec(select(Case.state).where(Case.id == made.id)).one() == "in_review"
    session.rollback()  # the app writes next (SQLite: one writer)

    # The same refusal in the reader's language, on the page and from the move alike.
    assert post(app_client, "/staff/account/language", csrf, language="ru").status_code == 303
    page = app_client.get(case).text
    reason_ru = refused_reason(page, "verified")
    assert reason_ru != reason and "другой человек" in reason_ru
    refused = post(app_client, f"{case}/transitions", csrf, to="verified",
                   version=version_of(page))
    assert refused.status_code == 403 and reason_ru in html.unescape(refused.text)
    assert post(app_client, "/staff/account/language", csrf, language="en").status_code == 303

    # Someone who did not review it verifies it; then closing without a referral is a
    # coordinator's move, and the page says so to a caseworker.
    csrf = as_(app_client, other)
    page = app_client.get(case).text
    assert "verified" in offered(page)
    assert post(app_client, f"{case}/transitions", csrf, to="verified",
                version=version_of(page)).status_code == 303
    page = app_client.get(case).text
    assert offered(page) == ["referred"]
    assert refused_reason(page, "closed") == transitions.REFUSALS["coordinator_only"]
    refused = post(app_client, f"{case}/transitions", csrf, to="closed",
                   version=version_of(page))
    assert refused.status_code == 403
    assert transitions.REFUSALS["coordinator_only"] in html.unescape(refused.text)


def test_every_refusal_rule_has_the_consoles_words() -> None:
    # The console translates the workflow's sentences: they must be the same sentences.
    assert labels.REFUSALS == transitions.REFUSALS


def test_split_previews_what_moves_and_moves_it(
        app_client: TestClient, session: Session, settings: Settings, ready: None) -> None:
    coord = create_staff(session, Role.COORDINATOR, settings=settings)
    made = make_case(session, settings, wrap_to=[coord], submissions=2,
                     files=[("photo.jpg", "image/jpeg", jpeg_with_gps())],
                     messages=["first submitter writes"])
    first, second = made.submissions  # one thread each; the first holds the file, message
    case = f"/staff/cases/{made.id}"

    csrf = as_(app_client, coord)
    page = app_client.get(case).text
    assert f'href="{case}/split"' in page
    choose = app_client.get(f"{case}/split")
    assert choose.status_code == 200
    assert f'value="{first}"' in choose.text and f'value="{second}"' in choose.text

    preview = app_client.get(f"{case}/split", params={"thread": str(first)})
    assert preview.status_code == 200
    moves, stays = preview.text.split("These move to the new case", 1)[1].split(
        "These stay in case", 1)
    rows_moving = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td>'
                             r'<td>(\d+)</td></tr>', moves)
    rows_staying = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td>'
                              r'<td>(\d+)</td></tr>', stays)
    # Counts and labels only: one submission, one file, one message move; the other stays.
    assert [r[1:] for r in rows_moving] == [("1", "1", "1")]
    assert [r[1:] for r in rows_staying] == [("1", "0", "0")]
    assert "canary narrative" not in preview.text and "first submitter writes" not in preview.text
    assert f'name="thread" value="{first}"' in preview.text

    # The service's own refusals: everything chosen, nothing chosen, a stale version.
    everything = app_client.get(f"{case}/split", params={"thread": [str(first), str(second)]})
    assert everything.status_code == 422 and "at least one" in everything.text
    nothing = post(app_client, f"{case}/split", csrf, version=version_of(preview.text))
    assert nothing.status_code == 422 and "Choose at least one" in nothing.text
    stale = post(app_client, f"{case}/split", csrf, thread=str(first), version="999")
    assert stale.status_code == 412

    assert _tab_count(app_client.get("/staff/queue").text, "all") == 1  # counted, cached
    done = post(app_client, f"{case}/split", csrf, thread=str(first),
                version=version_of(preview.text), comment="two different arrests")
    assert done.status_code == 303
    # Her own change is counted at once, not after the cache's time.
    assert _tab_count(app_client.get("/staff/queue").text, "all") == 2
    new_page = done.headers["location"]
    assert new_page.endswith("?done=split") and str(made.id) not in new_page
    new_id = new_page.split("/staff/cases/", 1)[1].split("?", 1)[0]
    shown = app_client.get(new_page).text
    assert "split out of the other one" in shown
    assert "canary narrative 0" in shown and "first submitter writes" in shown
    assert "canary narrative 1" not in shown
    left = app_client.get(case).text
    assert "canary narrative 1" in left and "canary narrative 0" not in left
    session.expire_all()
    moved = session.get(Submission, first)
    assert moved is not None and str(moved.case_id) == new_id
    assert session.exec(select(CaseMessage.case_id)).one() == moved.case_id


def test_a_clean_copy_is_made_listed_and_downloads_with_its_hash(
        app_client: TestClient, session: Session, settings: Settings, ready: None) -> None:
    cw = create_staff(session, Role.CASEWORKER, settings=settings)
    original = jpeg_with_gps()
    made = make_case(session, settings, wrap_to=[cw],
                     files=[("photo.jpg", "image/jpeg", original),
                            ("notes.txt", "text/plain", b"plain notes")])
    photo, notes = made.attachments
    case = f"/staff/cases/{made.id}"

    csrf = as_(app_client, cw)
    page = app_client.get(case).text
    assert f"{case}/attachments/{photo}/clean-copy" in page
    assert f"{case}/attachments/{notes}/clean-copy" not in page  # nothing to clean in text
    done = post(app_client, f"{case}/attachments/{photo}/clean-copy", csrf)
    assert done.status_code == 303 and done.headers["location"].endswith("done=cleaned")

    page = app_client.get(done.headers["location"]).text
    assert "The clean copy is made" in page
    assert f"{case}/attachments/{photo}/clean-copy" not in page  # made once
    row = re.search(r'<a href="/staff/cases/[0-9a-f-]+/attachments/([0-9a-f-]{36})" download>'
                    r'photo-clean\.jpg</a></td>\s*<td>image/jpeg</td>\s*<td>[^<]*</td>\s*'
                    r'<td><code class="hash">([0-9a-f]{64})</code></td>\s*<td>([^<]+)</td>',
                    page)
    assert row is not None, "the clean copy is not listed with its type and hash"
    copy_id, listed_sha, kind = row.groups()
    assert "clean copy" in kind and "exif" in kind.lower()
    downloaded = app_client.get(f"{case}/attachments/{copy_id}")
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == listed_sha
    assert downloaded.content[:2] == b"\xff\xd8" and b"CanaryCam" not in downloaded.content
    assert b"CanaryCam" in original

    # A copy of a copy, or of a type that cannot be cleaned, is the service's refusal.
    again = post(app_client, f"{case}/attachments/{copy_id}/clean-copy", csrf)
    assert again.status_code == 409
    text = post(app_client, f"{case}/attachments/{notes}/clean-copy", csrf)
    assert text.status_code == 415


def _tab_count(page: str, tab: str) -> int:
    found = re.search(rf'tab={tab}[^"]*"[^>]*>[^<]*<span class="count">(\d+)', page)
    assert found is not None
    return int(found.group(1))


def _unanswered_count(page: str) -> int:
    return _tab_count(page, "unanswered")


def test_marking_a_thread_answered_takes_it_off_the_waiting_tab(
        app_client: TestClient, session: Session, settings: Settings, ready: None) -> None:
    cw = create_staff(session, Role.CASEWORKER, settings=settings)
    waiting = make_case(session, settings, wrap_to=[cw], messages=["call me, please"])
    quiet = make_case(session, settings, wrap_to=[cw])
    thread = waiting.submissions[0]
    case = f"/staff/cases/{waiting.id}"

    csrf = as_(app_client, cw)
    tab = app_client.get("/staff/queue?tab=unanswered").text
    assert _unanswered_count(tab) == 1
    assert f"/staff/cases/{waiting.id}" in tab and f"/staff/cases/{quiet.id}" not in tab
    page = app_client.get(case).text
    assert "Waiting for our answer." in page
    assert f"{case}/threads/{thread}/answered" in page
    assert f"/staff/cases/{quiet.id}/threads/" not in app_client.get(
        f"/staff/cases/{quiet.id}").text

    done = post(app_client, f"{case}/threads/{thread}/answered", csrf)
    assert done.status_code == 303 and done.headers["location"].endswith("done=answered")
    page = app_client.get(done.headers["location"]).text
    assert "The thread is marked answered" in page and "Waiting for our answer." not in page
    tab = app_client.get("/staff/queue?tab=unanswered").text
    assert _unanswered_count(tab) == 0 and f"/staff/cases/{waiting.id}" not in tab

    session.expire_all()
    msg = session.exec(select(CaseMessage).where(CaseMessage.case_id == waiting.id)).one()
    assert msg.answered_at is not None and msg.read_at is None  # answered, not a reply
    event = session.exec(select(CaseEvent).where(CaseEvent.case_id == waiting.id,
                                                 CaseEvent.kind == "answered")).one()
    assert event.actor_id == cw.user.id and f"thread={thread}" in event.detail
    entry = session.exec(select(AuditEntry).where(
        AuditEntry.case_id == waiting.id, col(AuditEntry.target) == str(thread))).one()
    assert entry.actor_id == cw.user.id and "thread_answered" in entry.details
    session.rollback()  # the app writes next (SQLite: one writer)
    # Nothing is waiting any more: marking again is refused rather than recorded twice.
    assert post(app_client, f"{case}/threads/{thread}/answered", csrf).status_code == 409


def test_a_case_is_marked_a_duplicate_of_the_case_it_repeats(
        app_client: TestClient, session: Session, settings: Settings, ready: None) -> None:
    cw = create_staff(session, Role.CASEWORKER, settings=settings)
    original = make_case(session, settings, wrap_to=[cw])
    repeat = make_case(session, settings, wrap_to=[cw])
    stranger = create_staff(session, Role.CASEWORKER, settings=settings)
    hidden = make_case(session, settings, wrap_to=[stranger])  # one she cannot see
    original_ref, hidden_ref, repeat_ref = (session.get(Case, c.id).reference  # type: ignore[union-attr]
                                for c in (original, hidden, repeat))
    session.rollback()  # the app writes next (SQLite: one writer)
    case = f"/staff/cases/{repeat.id}"

    csrf = as_(app_client, cw)
    page = app_client.get(case).text
    assert "duplicate" in offered(page) and 'id="duplicate_of"' in page
    version = version_of(page)
    # No original named, one that does not exist, one she cannot see, the case itself:
    # each refused with a reason, and the case stays where it was.
    missing = post(app_client, f"{case}/transitions", csrf, to="duplicate", version=version)
    assert missing.status_code == 422
    assert "reference of the case this one repeats" in html.unescape(missing.text)
    for wrong in ("DKZ-NOSUCH", hidden_ref):
        refused = post(app_client, f"{case}/transitions", csrf, to="duplicate",
                       duplicate_of=wrong, version=version)
        assert refused.status_code == 404, wrong
        assert hidden_ref not in refused.text
    itself = post(app_client, f"{case}/transitions", csrf, to="duplicate",
                  duplicate_of=repeat_ref, version=version)
    assert itself.status_code == 422
    session.expire_all()
    assert session.exec(select(Case.state).where(Case.id == repeat.id)).one() == "new"
    session.rollback()  # the app writes next (SQLite: one writer)

    # The reference as a person types it (any case, spaces around it) is enough; the
    # field is ignored for every other move.
    moved = post(app_client, f"{case}/transitions", csrf, to="duplicate",
                 duplicate_of=f"  {original_ref.lower()} ", version=version)
    assert moved.status_code == 303
    session.expire_all()
    assert session.exec(select(Case.state).where(Case.id == repeat.id)).one() == "duplicate"
    link = session.exec(select(CaseLink).where(CaseLink.source_case_id == repeat.id)).one()
    assert link.kind == "duplicate_of" and link.target_case_id == original.id
    session.rollback()
    other = make_case(session, settings, wrap_to=[cw])
    page = app_client.get(f"/staff/cases/{other.id}").text
    assert post(app_client, f"/staff/cases/{other.id}/transitions", csrf, to="triage",
                duplicate_of=original_ref, version=version_of(page)).status_code == 303
