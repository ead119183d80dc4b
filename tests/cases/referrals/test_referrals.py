"""Referral drafts: refused without consent (naming the scope), filled in when given."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from api.cases import service
from api.cases.metadata import consent
from api.cases.metadata.document import MetadataPatch
from api.cases.metadata.schemas import ConsentIn
from api.cases.models import Case
from api.cases.referrals import drafts
from api.cases.referrals.markdown import render_markdown
from api.core.errors import InvalidInput
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.cases.metadata.test_metadata import SECRET_NAME, VICTIM, document


def _case(session: Session, settings: Settings, staff: Staff) -> Case:
    made = make_case(session, settings, wrap_to=[staff.cw])
    case = session.get(Case, made.id)
    assert case is not None
    service.edit_metadata(session, staff.p("cw"), case.id,
                          MetadataPatch.model_validate(document(case.received_on)), 1, settings)
    session.commit()
    return case


def _give(session: Session, settings: Settings, staff: Staff, case: Case, scope: str) -> None:
    row, key = service.open_case(session, staff.p("cw"), case.id)
    consent.give(session, staff.p("cw"), row, key, ConsentIn(person_id=VICTIM, scope=scope),
                 settings)
    session.commit()


@pytest.mark.parametrize("mechanism", ["wgeid", "wgad"])
def test_consent_enforced(mechanism: str, session: Session, settings: Settings,
                          staff: Staff) -> None:
    case = _case(session, settings, staff)
    share = drafts.SHARE_SCOPE[mechanism]
    with pytest.raises(drafts.ConsentMissing) as exc:
        drafts.draft(session, staff.p("cw"), case.id, mechanism, "en")  # type: ignore[arg-type]
    assert exc.value.status_code == 409
    assert share in exc.value.message and "un_name_to_government" in exc.value.message
    assert {m["scope"] for m in exc.value.details["missing"]} == {share,
                                                                  "un_name_to_government"}
    session.rollback()
    # Consent for the other mechanism does not count.
    other = "share_un_wgad" if mechanism == "wgeid" else "share_un_wgeid"
    _give(session, settings, staff, case, other)
    _give(session, settings, staff, case, "un_name_to_government")
    with pytest.raises(drafts.ConsentMissing) as exc:
        drafts.draft(session, staff.p("cw"), case.id, mechanism, "en")  # type: ignore[arg-type]
    assert [m["scope"] for m in exc.value.details["missing"]] == [share]
    session.rollback()
    _give(session, settings, staff, case, share)
    doc = drafts.draft(session, staff.p("cw"), case.id, mechanism, "ru")  # type: ignore[arg-type]
    victim = doc["victims"][0]
    assert victim["identity"]["name"] == SECRET_NAME
    if mechanism == "wgeid":
        assert doc["procedure"] == "urgent_action"
        assert victim["disappearance"]["place"] == "Canary square"
        assert victim["disappearance"]["forces_believed_responsible"]  # a Russian label
        assert victim["steps_taken_by_relatives"][0]["type"] == "complaint"
    else:
        [detention] = victim["detentions"]
        assert detention["detention"]["facility_type"] and detention["legal_basis"]
        assert detention["arbitrariness"][0]["code"] == "category_ii"
        assert detention["arrest"]["place"] == "Canary street 5"
        assert victim["ill_treatment_reported"] is True
    text = render_markdown(doc, "ru")
    assert text.startswith("# Проект сообщения") and "Canary" in text
    # Revoking consent stops the next draft.
    row, key = service.open_case(session, staff.p("cw"), case.id)
    active = [c for c in consent.active(session, case.id) if c.scope == share]
    consent.revoke(session, staff.p("cw"), row, key, active[0].id, settings)
    with pytest.raises(drafts.ConsentMissing):
        drafts.draft(session, staff.p("cw"), case.id, mechanism, "en")  # type: ignore[arg-type]


def test_nothing_to_refer(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    with pytest.raises(InvalidInput):
        drafts.draft(session, staff.p("cw"), made.id, "wgeid", "en")


def test_markdown_escapes_values() -> None:
    doc = {"mechanism": "WGAD", "addressee": "x", "case_reference": "DKZ-1", "missing": [],
           "victims": [{"identity": {"name": "# Heading\n[link](http://x)"}}],
           "source": {"note": "n"}}
    text = render_markdown(doc, "en")
    assert "\n# Heading" not in text and "\\[link\\]" in text
    # Ordinary punctuation is printed as it is; a value cannot open a heading or a list.
    doc["victims"] = [{"identity": {"name": "O'Brien-Kavalenka (Jr.) #2!", "other_names": [
        "# not a heading", "- not a list"]}}]
    text = render_markdown(doc, "en")
    assert "O'Brien-Kavalenka (Jr.) #2!" in text
    assert "- \\# not a heading" in text and "- \\- not a list" in text
