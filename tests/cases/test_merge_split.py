"""Merge and split move whole threads between cases; everything stays readable and linked."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.cases import merge, service
from api.cases.access import grants
from api.cases.files import attachments
from api.cases.models import Case, CaseLink
from api.cases.threads.models import CaseMessage
from api.cases.workflow.schemas import TransitionIn
from api.cases.workflow.transitions import transition
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.settings import Settings
from api.keys.repository import HOLDER_KINDS, held_wrap
from tests.cases.factory import Staff, jpeg_with_gps, make_case


def _read_file(session: Session, staff: Staff, who: str, case_id: object, att: object,
               settings: Settings) -> bytes:
    dl = attachments.download(session, staff.p(who), case_id, att, settings)  # type: ignore[arg-type]
    return b"".join(dl.chunks)


def test_merge_moves_threads_and_shares_their_keys(session: Session, settings: Settings,
                                                   staff: Staff) -> None:
    target = make_case(session, settings, wrap_to=[staff.coord, staff.cw],
                       payload={"narrative": "target report"})
    source = make_case(session, settings, wrap_to=[staff.coord, staff.cw2], submissions=2,
                       payload={"narrative": "source report"},
                       files=[("photo.jpg", "image/jpeg", jpeg_with_gps())],
                       messages=["source message"])
    # A clean copy made before the merge moves along with its original.
    derived, _ = attachments.make_derivative(session, staff.p("coord"), source.id,
                                             source.attachments[0], settings)
    session.commit()
    merge.merge(session, staff.p("coord"), target.id, source.id, settings, "same person")
    session.commit()

    detail = service.detail(session, staff.p("cw"), target.id)
    assert sorted(s.payload["narrative"] for s in detail.submissions) == [
        "source report", "source report", "target report"]
    assert [m.body for m in detail.messages] == ["source message"]
    assert {a.id for a in detail.attachments} == {source.attachments[0], derived.id}
    # cw never had the source's key; the merge wrapped it to the target's readers.
    assert _read_file(session, staff, "cw", target.id, source.attachments[0],
                      settings) == jpeg_with_gps()
    assert _read_file(session, staff, "cw", target.id, derived.id, settings)[:2] == b"\xff\xd8"

    src = session.get(Case, source.id)
    assert src is not None and src.state == "duplicate" and src.merged_into_id == target.id
    link = session.exec(select(CaseLink).where(CaseLink.source_case_id == source.id)).one()
    assert link.kind == "merged_into" and link.submission_ids.count(",") == 1
    # The duplicate keeps its history and is still readable; it cannot simply be reopened.
    old = service.detail(session, staff.p("cw2"), source.id)
    assert old.submissions == [] and [e.kind for e in old.events][-1] == "merge"
    assert old.events[-1].comment == "same person"
    with pytest.raises(Conflict):
        transition(session, staff.p("coord"), source.id, TransitionIn(to="triage"), settings)
    session.rollback()
    with pytest.raises(Conflict):
        merge.merge(session, staff.p("coord"), target.id, source.id, settings)


def test_merge_needs_both_keys(session: Session, settings: Settings, staff: Staff) -> None:
    target = make_case(session, settings, wrap_to=[staff.coord])
    source = make_case(session, settings, wrap_to=[staff.cw2])
    with pytest.raises(Forbidden):
        merge.merge(session, staff.p("coord"), target.id, source.id, settings)
    session.rollback()
    with pytest.raises(InvalidInput):
        merge.merge(session, staff.p("coord"), target.id, target.id, settings)


def test_split_moves_to_new_key(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.coord, staff.cw], submissions=3,
                     files=[("doc.txt", "text/plain", b"first submission file")],
                     messages=["first submitter's message"])
    moved = [made.submissions[0], made.submissions[2]]
    new = merge.split(session, staff.p("coord"), made.id, moved, settings, "two people")
    session.commit()
    assert new.id != made.id and new.state == "triage" and new.due_at is not None
    new_detail = service.detail(session, staff.p("cw"), new.id)  # cw could open the original
    assert {s.id for s in new_detail.submissions} == set(moved)
    assert all(s.payload["narrative"].startswith("canary") for s in new_detail.submissions)
    assert _read_file(session, staff, "cw", new.id, made.attachments[0],
                      settings) == b"first submission file"
    old_detail = service.detail(session, staff.p("cw"), made.id)
    assert [s.id for s in old_detail.submissions] == [made.submissions[1]]
    # Messages belong to a submitter's thread and move with it (the first one moved).
    assert old_detail.messages == []
    assert [m.body for m in new_detail.messages] == ["first submitter's message"]
    with pytest.raises(NotFound):  # the file left the original case
        attachments.download(session, staff.p("cw"), made.id, made.attachments[0], settings)
    session.rollback()
    link = session.exec(select(CaseLink).where(CaseLink.source_case_id == new.id)).one()
    assert (link.kind, link.target_case_id) == ("split_from", made.id)
    assert {str(x) for x in moved} == set(link.submission_ids.split(","))
    # The new case has its own key: the recovery wrap and both staff wraps exist.
    kinds = sorted(a.recipient_kind for a in new_detail.access)
    assert kinds == ["recovery", "staff", "staff"]
    with pytest.raises(InvalidInput):  # cannot empty the original
        merge.split(session, staff.p("coord"), made.id, [made.submissions[1]], settings)


def _thread_grants(session: Session) -> list[tuple[str | None, dict[str, str]]]:
    rows = session.exec(select(AuditEntry).where(col(AuditEntry.action) == "key.grant")).all()
    return [(e.target, d) for e in rows if (d := json.loads(e.details)).get("kind") == "thread"]


def test_merge_shares_thread_keys_with_staff_readers_only(
    session: Session, settings: Settings, staff: Staff
) -> None:
    target = make_case(session, settings, wrap_to=[staff.coord, staff.cw], lawyer=staff.lawyer,
                       payload={"narrative": "the lawyer's own report"})
    source = make_case(session, settings, wrap_to=[staff.coord],
                       payload={"narrative": "victim canary"}, messages=["victim message"],
                       files=[("v.txt", "text/plain", b"victim file")])
    merge.merge(session, staff.p("coord"), target.id, source.id, settings)
    session.commit()
    # One audited wrap per reader who lacked the key: cw, not the lawyer, not coord.
    assert [(t, d["reason"], d["merged_from"], d["key_case"])
            for t, d in _thread_grants(session)] == [
        (str(staff.cw.user.id), "merge", str(source.id), str(source.id))]

    seen = service.detail(session, staff.p("lawyer"), target.id)
    assert [s.payload["narrative"] for s in seen.submissions] == ["the lawyer's own report"]
    assert seen.messages == [] and seen.attachments == []
    assert sorted((t.shared, t.note or "") for t in seen.threads) == [
        (False, "not shared with you"), (True, "")]
    with pytest.raises(Forbidden):
        attachments.download(session, staff.p("lawyer"), target.id, source.attachments[0],
                             settings)
    session.rollback()
    # The key opens the moved thread wherever it is, never the duplicate case itself.
    with pytest.raises(NotFound):
        service.detail(session, staff.p("cw"), source.id)
    session.rollback()

    # A case grant carries the merged-in thread keys the granter holds, each audited.
    grants.grant(session, staff.p("coord"), target.id, staff.cw2.user.id, settings)
    session.commit()
    assert (str(staff.cw2.user.id), "case_grant") in [
        (t, d["reason"]) for t, d in _thread_grants(session)]
    assert "victim canary" in [s.payload["narrative"] for s in
                               service.detail(session, staff.p("cw2"), target.id).submissions]
    # Revoking the case takes its thread keys along.
    grants.revoke(session, staff.p("coord"), target.id, staff.cw2.user.id, settings)
    session.commit()
    assert held_wrap(session, source.id, staff.cw2.user.id, HOLDER_KINDS) is None


def test_staff_reply_names_the_thread_when_there_are_several(
    session: Session, settings: Settings, staff: Staff
) -> None:
    one = make_case(session, settings, wrap_to=[staff.coord])
    two = make_case(session, settings, wrap_to=[staff.coord])
    # One thread: no need to name it.
    sent = service.send_message(session, staff.p("coord"), one.id, "hello", settings)
    assert sent.thread_id == one.submissions[0]
    session.commit()
    merge.merge(session, staff.p("coord"), one.id, two.id, settings)
    session.commit()
    with pytest.raises(InvalidInput) as err:
        service.send_message(session, staff.p("coord"), one.id, "to whom?", settings)
    assert "2 threads" in err.value.message
    session.rollback()
    with pytest.raises(InvalidInput):  # not a thread of this case
        service.send_message(session, staff.p("coord"), one.id, "x", settings, uuid.uuid4())
    session.rollback()
    reply = service.send_message(session, staff.p("coord"), one.id, "to two", settings,
                                 two.submissions[0])
    session.commit()
    stored = session.get(CaseMessage, reply.id)
    # Sealed under the thread's own key, so its submitter's receipt opens it.
    assert stored is not None and stored.key_case_id == two.id
    assert [(m.thread_id, m.body) for m in service.list_messages(
        session, staff.p("coord"), one.id)] == [(one.submissions[0], "hello"),
                                                (two.submissions[0], "to two")]


def test_retention_keeps_a_case_whose_key_seals_a_split_out_thread(
    session: Session, settings: Settings, staff: Staff
) -> None:
    from datetime import timedelta

    from api.cases import shredding
    from api.core.models import utcnow
    from workers.jobs import retention

    made = make_case(session, settings, wrap_to=[staff.coord], submissions=2)
    other = make_case(session, settings, wrap_to=[staff.coord])
    new = merge.split(session, staff.p("coord"), made.id, [made.submissions[0]], settings)
    for case_id in (made.id, other.id):
        case = session.get(Case, case_id)
        assert case is not None
        case.state, case.state_changed_at = "spam", utcnow() - timedelta(days=40)
        session.add(case)
    session.commit()
    policy = settings.model_copy(update={"retention_days_spam": 30})
    due = {c.id for c in retention.due_cases(session, policy, utcnow())}
    # Shredding made's key would destroy the thread that now lives in the new case.
    assert shredding.key_seals_elsewhere(session, made.id)
    assert other.id in due and made.id not in due and new.id not in due
