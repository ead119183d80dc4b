"""Caseworker API under ``/api/v1/cases`` (thin: parse, call the service, shape the reply).

Who may call what (``require_roles``; which cases is decided in the repository):
list, detail and attachment download: coordinators, caseworkers, lawyers; edits,
transitions, messages (and marking a thread answered), consents, derivatives and
referral drafts: coordinators and caseworkers; assignment, access grants, merge and
split: coordinators.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.auth.dependencies import require_roles
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases import merge, service
from api.cases.access import grants
from api.cases.files import attachments
from api.cases.files.schemas import AttachmentOut
from api.cases.metadata import consent
from api.cases.metadata.codes import ActType, Priority, Region, UrgencyReason
from api.cases.metadata.document import MetadataPatch
from api.cases.metadata.schemas import ConsentIn, ConsentOut
from api.cases.models import Case
from api.cases.referrals import drafts
from api.cases.referrals.catalog import DraftLanguage
from api.cases.referrals.markdown import render_markdown
from api.cases.repository import CaseFilters
from api.cases.schemas import AssignIn, CaseDetail, CaseList, CaseListItem, MergeIn, SplitIn
from api.cases.threads.schemas import AnsweredOut, MessageIn, MessageOut
from api.cases.workflow import transitions
from api.cases.workflow.schemas import ChoiceOut, TransitionIn
from api.cases.workflow.states import CaseState
from api.core.dependencies import Config, DbSession
from api.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    error_responses,
)
from api.storage.dependencies import Storage

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

Reader = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.CASEWORKER,
                                                    Role.LAWYER))]
Staff = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.CASEWORKER))]
Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]

_AUTH = (Unauthorized, Forbidden)
_CASE = (*_AUTH, NotFound)




def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    try:
        return int(text.strip('"'))
    except ValueError:
        raise PreconditionFailed("If-Match must be the ETag you last read, e.g. \"3\".") from None


def _etag(response: Response, case: Case) -> None:
    response.headers["ETag"] = f'"{case.version}"'


@router.get("", response_model=CaseList, responses=error_responses(BadRequest, InvalidInput,
                                                                   *_AUTH))
def list_cases(
    me: Reader,
    session: DbSession,
    settings: Config,
    state: Annotated[list[CaseState], Query()] = [],  # noqa: B006 (FastAPI query lists)
    priority: Annotated[list[Priority], Query()] = [],  # noqa: B006
    urgent: bool | None = None,
    urgency_reason: UrgencyReason | None = None,
    region: Annotated[list[Region], Query()] = [],  # noqa: B006
    act_type: Annotated[list[ActType], Query()] = [],  # noqa: B006
    assignee: Annotated[str | None, Query(description="a staff id, 'me' or 'none'")] = None,
    received_from: date | None = None,
    received_to: date | None = None,
    changed_from: datetime | None = None,
    changed_to: datetime | None = None,
    overdue: bool | None = None,
    awaiting_answer: Annotated[bool, Query(
        description="only cases with a submitter's message waiting for staff")] = False,
    sort: Literal["received_on", "priority", "urgency", "state_changed_at", "due"] = (
        "received_on"),
    order: Literal["asc", "desc"] = "desc",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
) -> CaseList:
    """Cases the caller may list, filtered, sorted and cursor-paginated (coarse fields)."""
    filters = CaseFilters(states=[s.value for s in state], priorities=priority, urgent=urgent,
                          urgency_reason=urgency_reason, regions=region, act_types=act_type,
                          received_from=received_from, received_to=received_to,
                          changed_from=changed_from, changed_to=changed_to, overdue=overdue,
                          awaiting_answer=awaiting_answer)
    if assignee == "me":
        filters.assignee_id = me.user_id
    elif assignee == "none":
        filters.unassigned = True
    elif assignee is not None:
        try:
            filters.assignee_id = uuid.UUID(assignee)
        except ValueError:
            raise InvalidInput("assignee must be a staff id, 'me' or 'none'.") from None
    return service.list_cases(session, me, filters, sort=sort, descending=order == "desc",
                              cursor_text=cursor, limit=limit, settings=settings)


@router.get("/perpetrators/{ref}", response_model=list[uuid.UUID],
            responses=error_responses(*_AUTH))
def perpetrator_cases(ref: uuid.UUID, me: Reader, session: DbSession) -> list[uuid.UUID]:
    """Ids of the cases you may read whose persons include the perpetrator ``ref``."""
    return service.perpetrator_cases(session, me, ref)


@router.get("/{case_id}", response_model=CaseDetail, responses=error_responses(*_CASE))
def get_case(case_id: uuid.UUID, me: Reader, session: DbSession, response: Response) -> CaseDetail:
    """The whole case, decrypted for the caller (audited as case.read). ETag = version."""
    out = service.detail(session, me, case_id)
    response.headers["ETag"] = f'"{out.version}"'
    response.headers["Cache-Control"] = "no-store"
    return out


@router.patch("/{case_id}", response_model=CaseListItem,
              responses=error_responses(*_CASE, Conflict, InvalidInput, PreconditionFailed,
                                        PreconditionRequired))
def edit_case(case_id: uuid.UUID, body: MetadataPatch, me: Staff, session: DbSession,
              settings: Config, response: Response, if_match: IfMatch = None) -> CaseListItem:
    """Edit metadata. Needs If-Match with the current ETag: 428 without, 412 when stale."""
    case = service.edit_metadata(session, me, case_id, body, _if_match(if_match), settings)
    _etag(response, case)
    return service.summary(session, case)


@router.get("/{case_id}/transitions", response_model=list[ChoiceOut],
            responses=error_responses(*_CASE))
def next_moves(case_id: uuid.UUID, me: Staff, session: DbSession) -> list[ChoiceOut]:
    """Each state the case can go to next, open to you now or refused with the reason the
    move would get (four eyes, role, access): what to offer before anyone tries. The
    case detail's ``next_states`` only follows the roles."""
    return [ChoiceOut(state=c.state, open=c.refused is None, rule=c.rule,
                      reason=c.refused.message if c.refused is not None else None)
            for c in transitions.choices(session, me, case_id)]


@router.post("/{case_id}/transitions", response_model=CaseListItem,
             responses=error_responses(*_CASE, Conflict, InvalidInput, PreconditionFailed))
def transition_case(case_id: uuid.UUID, body: TransitionIn, me: Staff, session: DbSession,
                    settings: Config, response: Response,
                    if_match: IfMatch = None) -> CaseListItem:
    """Move the case along the workflow table (If-Match optional, checked when sent)."""
    case = transitions.transition(session, me, case_id, body, settings,
                                  if_match=_if_match(if_match))
    _etag(response, case)
    return service.summary(session, case)


@router.put("/{case_id}/assignee", response_model=CaseListItem,
            responses=error_responses(*_CASE, Conflict, InvalidInput, PreconditionFailed))
def assign_case(case_id: uuid.UUID, body: AssignIn, me: Coordinator, session: DbSession,
                settings: Config, response: Response, if_match: IfMatch = None) -> CaseListItem:
    """Assign (or unassign with null); grants the assignee access when the caller can.

    One step, unlike a grant: the assigning coordinator already reads the case, and the
    assignee must be an approved reader (409 otherwise), so two people are involved."""
    case = service.assign(session, me, case_id, body.assignee_id, settings,
                          _if_match(if_match))
    _etag(response, case)
    return service.summary(session, case)


@router.get("/{case_id}/messages", response_model=list[MessageOut],
            responses=error_responses(*_CASE))
def list_messages(case_id: uuid.UUID, me: Staff, session: DbSession) -> list[MessageOut]:
    """Messages in both directions; the submitter's become read."""
    return service.list_messages(session, me, case_id)


@router.post("/{case_id}/messages", response_model=MessageOut, status_code=201,
             responses=error_responses(*_CASE, InvalidInput))
def send_message(case_id: uuid.UUID, body: MessageIn, me: Staff, session: DbSession,
                 settings: Config) -> MessageOut:
    """A reply to one submitter's thread (``thread_id``; may be left out when the case has
    only one), sealed under that thread's key so only its receipt reads it."""
    return service.send_message(session, me, case_id, body.body, settings, body.thread_id)


@router.post("/{case_id}/threads/{thread_id}/answered", response_model=AnsweredOut,
             responses=error_responses(*_CASE, Conflict, InvalidInput))
def mark_thread_answered(case_id: uuid.UUID, thread_id: uuid.UUID, me: Staff,
                         session: DbSession, settings: Config) -> AnsweredOut:
    """Mark a submitter's thread answered without a reply (answered by phone, through a
    lawyer): its messages stop waiting for staff, as after a reply. Recorded in the case's
    history and audited; 409 when nothing in the thread is waiting, 422 when the id is
    not a thread of this case."""
    answered = service.mark_answered(session, me, case_id, thread_id, settings)
    return AnsweredOut(thread_id=thread_id, messages_answered=answered)


@router.get("/{case_id}/attachments/{attachment_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}},
                       **error_responses(*_CASE)})
def download_attachment(case_id: uuid.UUID, attachment_id: uuid.UUID, me: Reader,
                        session: DbSession, settings: Config,
                        storage: Storage) -> StreamingResponse:
    """The file, decrypted as it streams; always a download, never rendered."""
    dl = attachments.download(session, me, case_id, attachment_id, settings, storage)
    return StreamingResponse(dl.chunks, media_type="application/octet-stream",
                             headers=dl.headers())


@router.post("/{case_id}/attachments/{attachment_id}/derivatives", response_model=AttachmentOut,
             status_code=201,
             responses=error_responses(*_CASE, Conflict, InvalidInput, PayloadTooLarge,
                                       UnsupportedMediaType, ServiceUnavailable))
def create_derivative(case_id: uuid.UUID, attachment_id: uuid.UUID, me: Staff,
                      session: DbSession, settings: Config,
                      storage: Storage) -> AttachmentOut:
    """A metadata-stripped copy (EXIF/GPS, PDF info/XMP, Office properties) of a file.

    Made in a capped child process (api.cases.files.clean_copy): a file too large or too costly
    to decode is a 422, a moment with every child slot busy a 503.
    """
    att, meta = attachments.make_derivative(session, me, case_id, attachment_id, settings,
                                            storage)
    return AttachmentOut(id=att.id, submission_id=att.submission_id, kind=att.kind,
                         derived_from_id=att.derived_from_id,
                         ciphertext_size=att.ciphertext_size, created_at=att.created_at,
                         metadata=meta)


@router.delete("/{case_id}/threads/{thread_id}/access/{staff_id}", status_code=204,
               responses=error_responses(*_CASE, InvalidInput))
def revoke_thread_access(case_id: uuid.UUID, thread_id: uuid.UUID, staff_id: uuid.UUID,
                         me: Coordinator, session: DbSession, settings: Config) -> Response:
    """Delete a grant of one thread's key (audited key.revoke, kind thread)."""
    grants.revoke(session, me, case_id, staff_id, settings, thread_id=thread_id)
    return Response(status_code=204)


@router.delete("/{case_id}/access/{staff_id}", status_code=204,
               responses=error_responses(*_CASE, Conflict))
def revoke_access(case_id: uuid.UUID, staff_id: uuid.UUID, me: Coordinator,
                  session: DbSession, settings: Config) -> Response:
    """Delete a staff member's wrap of the case key (audited key.revoke)."""
    grants.revoke(session, me, case_id, staff_id, settings)
    return Response(status_code=204)


@router.post("/{case_id}/consents", response_model=ConsentOut, status_code=201,
             responses=error_responses(*_CASE, Conflict, InvalidInput))
def give_consent(case_id: uuid.UUID, body: ConsentIn, me: Staff, session: DbSession,
                 settings: Config) -> ConsentOut:
    """Record a person's consent for one scope (a new version)."""
    case, key = service.open_case(session, me, case_id, for_update=True)
    row = consent.give(session, me, case, key, body, settings)
    return consent.out(row, body.note)


@router.post("/{case_id}/consents/{consent_id}/revoke", response_model=ConsentOut,
             responses=error_responses(*_CASE, Conflict))
def revoke_consent(case_id: uuid.UUID, consent_id: uuid.UUID, me: Staff, session: DbSession,
                   settings: Config) -> ConsentOut:
    """Revoke a consent: stamped, never deleted."""
    case, key = service.open_case(session, me, case_id, for_update=True)
    return consent.out(consent.revoke(session, me, case, key, consent_id, settings))


@router.post("/{case_id}/merge", response_model=CaseListItem,
             responses=error_responses(*_CASE, Conflict, InvalidInput))
def merge_case(case_id: uuid.UUID, body: MergeIn, me: Coordinator, session: DbSession,
               settings: Config, response: Response) -> CaseListItem:
    """Merge another case into this one; the other becomes a linked duplicate. Its threads
    keep their keys, which go to this case's caseworkers and coordinators (not lawyers)."""
    case = merge.merge(session, me, case_id, body.from_case_id, settings, body.comment)
    _etag(response, case)
    return service.summary(session, case)


@router.post("/{case_id}/split", response_model=CaseListItem, status_code=201,
             responses=error_responses(*_CASE, InvalidInput, PreconditionFailed))
def split_case(case_id: uuid.UUID, body: SplitIn, me: Coordinator, session: DbSession,
               settings: Config, response: Response, if_match: IfMatch = None) -> CaseListItem:
    """Move the chosen submissions' threads (whole, never re-sealed, so every receipt
    keeps its own thread) into a new case; returns the new case. If-Match (the original
    case's ETag) is optional and checked when sent."""
    case = merge.split(session, me, case_id, body.submission_ids, settings, body.comment,
                       if_match=_if_match(if_match))
    _etag(response, case)
    return service.summary(session, case)


@router.get("/{case_id}/referral-drafts/{mechanism}",
            responses={200: {"content": {"application/json": {}, "text/markdown": {}}},
                       **error_responses(*_CASE, Conflict, InvalidInput)})
def referral_draft(
    case_id: uuid.UUID, mechanism: Literal["wgeid", "wgad"], me: Staff, session: DbSession,
    format: Literal["json", "markdown"] = "json",
    lang: DraftLanguage = "en",
    person_id: uuid.UUID | None = None,
) -> Response:
    """A pre-filled WGEID or WGAD draft; 409 naming the consent that is missing. ``lang``:
    en, fr or es to file it, be, ru or uk to read it through with the family."""
    doc = drafts.draft(session, me, case_id, mechanism, lang, person_id)
    headers = {"Cache-Control": "no-store"}
    if format == "markdown":
        return PlainTextResponse(render_markdown(doc, lang), media_type="text/markdown",
                                 headers=headers)
    from fastapi.responses import JSONResponse

    return JSONResponse(doc, headers=headers)
