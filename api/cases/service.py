"""Case detail, metadata edits, assignment and messages (rules; routes stay thin).

Reading content always goes ``repository.readable_case`` (scoped) -> the caller's own
key wrap -> decrypt, and every read is audited (``case.read`` with which parts were
shown). Edits need ``If-Match`` with the current version (428 without, 412 when stale).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from api.audit import actions
from api.audit import service as audit
from api.auth import repository as auth_repository
from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases import content, pagination, repository
from api.cases.access import wraps
from api.cases.access.schemas import AccessOut
from api.cases.access.scoping import case_read_filter
from api.cases.files import repository as files_repository
from api.cases.files.schemas import AttachmentOut
from api.cases.metadata import store
from api.cases.metadata.consent import consents_out
from api.cases.metadata.document import MetadataPatch
from api.cases.models import Case, CaseLink
from api.cases.schemas import CaseDetail, CaseList, CaseListItem, LinkOut
from api.cases.threads import keyrings
from api.cases.threads import repository as threads_repository
from api.cases.threads.models import CaseMessage, Submission
from api.cases.threads.schemas import MessageOut, SubmissionOut, ThreadOut
from api.cases.workflow import events, states
from api.cases.workflow.transitions import load_for_change
from api.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from api.core.models import utcnow, utctoday
from api.core.settings import Settings
from api.keys import repository as keys_repository
from crypto.keys import DataKey

FROM_SUBMITTER = "from_submitter"
TO_SUBMITTER = "to_submitter"


def open_case(
    session: Session, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Case, DataKey]:
    """The case and its key, for a caller allowed to read it.

    404 when the caller may not even list it (case ids are not confirmed to outsiders);
    403 with a way forward for a coordinator who can list but holds no key.
    """
    case = repository.readable_case(session, principal, case_id, for_update=for_update)
    if case is None:
        if repository.listable_case(session, principal, case_id) is not None:
            raise Forbidden("You can see this case in lists but hold no key to its content. "
                            "A colleague who can open it may grant you access.")
        raise NotFound("No such case.")
    return case, wraps.open_case_key(session, principal, case.id)


def check_if_match(case: Case, if_match: int | None) -> None:
    if if_match is None:
        raise PreconditionRequired(details={"current_version": case.version})
    if if_match != case.version:
        raise PreconditionFailed(details={"current_version": case.version})


def summary(session: Session, case: Case) -> CaseListItem:
    """The case as every single-case response shows it (edit, transition, assignment,
    merge, split, and the head of the detail). The one builder: its act types are read
    from the case's acts here, so no caller can answer with a stale or empty list."""
    # Autoflush makes acts added or removed in this unit of work count already.
    act_types = repository.act_types_of(session, [case.id])[case.id]
    return _list_item(case, act_types, is_overdue(case))


def _list_item(case: Case, act_types: list[str], now_overdue: bool) -> CaseListItem:
    return CaseListItem(
        id=case.id, reference=case.reference, state=case.state, priority=case.priority,
        urgent=case.urgent,
        urgency_reasons=[r for r in case.urgency_reasons.split(",") if r],
        region=case.region, received_on=case.received_on,
        state_changed_at=case.state_changed_at, due_at=case.due_at, overdue=now_overdue,
        assignee_id=case.assignee_id, act_types=act_types, version=case.version,
    )


def _row_fields(r: repository.ListRow, cutoff: datetime) -> dict[str, object]:
    # ``overdue`` is states.is_overdue, with its cutoff computed once per page.
    return {
        "id": r.id, "reference": r.reference, "state": r.state, "priority": r.priority,
        "urgent": r.urgent,
        "urgency_reasons": [x for x in r.urgency_reasons.split(",") if x]
        if r.urgency_reasons else [],
        "region": r.region, "received_on": r.received_on,
        "state_changed_at": r.state_changed_at, "due_at": r.due_at,
        "overdue": r.due_at is not None and r.due_at < cutoff,
        "assignee_id": r.assignee_id, "act_types": r.act_types, "version": r.version,
    }


def is_overdue(case: Case) -> bool:
    return states.is_overdue(case.due_at, utcnow())


@dataclass
class _Threads:
    """What of a case's threads one reader may see, with the keys to open it."""

    ring: keyrings.Keyring
    roots: list[Submission]
    labels: dict[uuid.UUID, str]

    def shared(self, key_case_id: uuid.UUID) -> DataKey | None:
        return self.ring.get(key_case_id)

    def label(self, thread_id: uuid.UUID) -> str:
        # A row of a thread whose root is in another case cannot happen (threads move
        # whole); a plain id is still a truthful label.
        return self.labels.get(thread_id, f"submission {thread_id}")


def _threads(session: Session, principal: Principal, case: Case, key: DataKey) -> _Threads:
    roots = threads_repository.roots_of(session, case.id)
    return _Threads(keyrings.keyring(session, principal, case, key), roots,
                    keyrings.labels(roots))


def perpetrator_cases(session: Session, principal: Principal, ref: uuid.UUID
                      ) -> list[uuid.UUID]:
    """The cases this caller may read that name the perpetrator ``ref`` (the opaque,
    caseworker-assigned reference): following a perpetrator never widens access."""
    return store.perpetrator_cases(session, ref, case_read_filter(principal))


def detail(session: Session, principal: Principal, case_id: uuid.UUID) -> CaseDetail:
    case, key = open_case(session, principal, case_id)
    th = _threads(session, principal, case, key)
    # Only the threads whose key the reader holds are opened; the others are listed as
    # "not shared with you" (a lawyer reading a case another submitter was merged into).
    subs = [s for s in threads_repository.submissions_of(session, case.id)
            if th.shared(s.key_case_id)]
    atts = [a for a in files_repository.attachments_of(session, case.id)
            if th.shared(a.key_case_id)]
    all_msgs = threads_repository.messages_of(session, case.id)
    msgs = [m for m in all_msgs if th.shared(m.key_case_id)]
    withheld = {r.id for r in th.roots if not th.shared(r.key_case_id)}
    links = session.exec(select(CaseLink).where(
        (col(CaseLink.source_case_id) == case.id) | (col(CaseLink.target_case_id) == case.id)
    ).order_by(col(CaseLink.created_at)))
    counts = Counter(s.thread_id for s in threads_repository.submissions_of(session, case.id))
    msg_counts = Counter(m.submission_id for m in all_msgs)
    # Plaintext columns only: whether a thread waits for staff is staff metadata.
    awaiting = {m.submission_id for m in all_msgs if _awaits_answer(m)}
    out = CaseDetail(
        **summary(session, case).model_dump(),
        period_start_month=case.period_start_month, period_end_month=case.period_end_month,
        date_precision=case.date_precision, merged_into_id=case.merged_into_id,
        metadata=store.load_metadata(session, case, key),
        consents=consents_out(session, case, key),
        threads=[ThreadOut(id=r.id, label=th.label(r.id), shared=r.id not in withheld,
                           note=keyrings.NOT_SHARED if r.id in withheld else None,
                           submissions=counts[r.id], messages=msg_counts[r.id],
                           awaiting_answer=r.id in awaiting)
                 for r in th.roots],
        submissions=[
            SubmissionOut(
                id=s.id, thread_id=s.thread_id, thread=th.label(s.thread_id),
                received_on=s.received_on, channel=s.channel,
                submitter_role=s.submitter_role,
                categories=[c for c in s.categories.split(",") if c], language=s.language,
                consent_scopes=[c for c in s.consent_scopes.split(",") if c],
                is_followup=s.is_followup,
                payload=content.open_payload(_key(th, s.key_case_id), s),
            ) for s in subs
        ],
        attachments=[
            AttachmentOut(id=a.id, submission_id=a.submission_id, kind=a.kind,
                          derived_from_id=a.derived_from_id, ciphertext_size=a.ciphertext_size,
                          created_at=a.created_at,
                          metadata=content.open_attachment_metadata(_key(th, a.key_case_id),
                                                                    a))
            for a in atts
        ],
        messages=[_message_out(th, m) for m in msgs],
        events=events.history(session, case.id, key),
        links=[LinkOut(kind=ln.kind, source_case_id=ln.source_case_id,
                       target_case_id=ln.target_case_id,
                       submission_ids=[uuid.UUID(x) for x in ln.submission_ids.split(",") if x],
                       actor_id=ln.actor_id, created_at=ln.created_at) for ln in links],
        access=[AccessOut(recipient_kind=w.recipient_kind, recipient_id=w.recipient_id,
                          granted_by_id=w.granted_by_id, created_at=w.created_at)
                for w in keys_repository.wraps_of_case(session, case.id)],
        next_states=states.next_states(case.state, principal.role),
    )
    audit.record(session, action=actions.CASE_READ, actor_id=principal.user_id, case_id=case.id,
                 target=str(case.id),
                 details={"parts": "metadata,consents,submissions,attachments,messages,events",
                          "submissions": len(subs), "attachments": len(atts),
                          "messages": len(msgs), "threads": len(th.roots) - len(withheld),
                          "threads_not_shared": len(withheld)})
    return out


def _key(th: _Threads, key_case_id: uuid.UUID) -> DataKey:
    key = th.shared(key_case_id)
    assert key is not None  # callers filter on shared() first
    return key


def edit_metadata(
    session: Session, principal: Principal, case_id: uuid.UUID, patch: MetadataPatch,
    if_match: int | None, settings: Settings,
) -> Case:
    case, key = open_case(session, principal, case_id, for_update=True)
    check_if_match(case, if_match)
    changed = store.apply_patch(session, case, key, patch)
    manual = set(patch.urgency_reasons) if patch.urgency_reasons is not None else {
        r for r in case.urgency_reasons.split(",") if r}
    reasons = sorted(manual | store.derived_urgency(session, case.id))
    if patch.urgency_reasons is not None:
        changed.append("urgency_reasons")
    case.urgency_reasons = ",".join(reasons)
    case.urgent = bool(reasons)
    events.changed(session, case, settings, kind=events.EDIT, actor_id=principal.user_id,
                   key=key, detail="sections=" + ",".join(changed))
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(case.id),
                 details={"change": "metadata", "sections": ",".join(changed)[:200]})
    session.flush()
    return case


def assign(
    session: Session, principal: Principal, case_id: uuid.UUID, assignee_id: uuid.UUID | None,
    settings: Settings, if_match: int | None = None,
) -> Case:
    case = load_for_change(session, principal, case_id, if_match)
    granted = False
    if assignee_id is not None:
        user = _active_staff(session, assignee_id, (Role.COORDINATOR, Role.CASEWORKER))
        # Assigning work someone cannot open helps nobody: grant it on the way when the
        # coordinator holds the key (the event says so); otherwise a grant must follow.
        # One step, not a two-person request: this coordinator already reads the case,
        # and wrap_to_staff refuses an assignee no coordinator approved as a reader.
        if (keys_repository.held_wrap(session, case.id, user.id) is None
                and keys_repository.held_wrap(session, case.id, principal.user_id) is not None):
            key = wraps.open_case_key(session, principal, case.id)
            wraps.wrap_to_staff(session, case.id, key, user, granted_by=principal.user_id)
            audit.record(session, action=actions.KEY_GRANT, actor_id=principal.user_id,
                         case_id=case.id, target=str(user.id), details={"reason": "assignment"})
            # With the threads merged in from other cases that the coordinator holds.
            ring = keyrings.keyring(session, principal, case, key)
            keyrings.share_with_readers(session, ring=ring, key_case_ids=set(ring.keys) - {case.id},
                                       case=case, actor_id=principal.user_id,
                                       reason="assignment", only=user)
            granted = True
    case.assignee_id = assignee_id
    events.changed(session, case, settings, kind=events.ASSIGN, actor_id=principal.user_id,
                   key=None, detail=f"assignee={assignee_id or ''}"
                   + (";granted" if granted else ""))
    session.flush()
    return case


def _active_staff(session: Session, user_id: uuid.UUID, roles: tuple[Role, ...]) -> StaffUser:
    user = auth_repository.get_staff(session, user_id)
    if user is None or user.disabled_at is not None:
        raise InvalidInput("No active staff member has this id.")
    if user.role not in roles:
        raise InvalidInput(f"Cases can only be given to: {', '.join(r.value for r in roles)}.")
    return user


# ---------------------------------------------------------------- messages

def _message_out(th: _Threads, m: CaseMessage) -> MessageOut:
    return MessageOut(id=m.id, thread_id=m.submission_id, thread=th.label(m.submission_id),
                      direction=m.direction, author_id=m.author_id,
                      body=content.open_message(_key(th, m.key_case_id), m),
                      created_at=m.created_at, read_at=m.read_at)


def list_messages(session: Session, principal: Principal, case_id: uuid.UUID) -> list[MessageOut]:
    """Both directions of every thread shared with the caller, oldest first, each labelled
    with its thread; the submitters' unread messages among them become read."""
    case, key = open_case(session, principal, case_id)
    th = _threads(session, principal, case, key)
    msgs = [m for m in threads_repository.messages_of(session, case.id) if th.shared(m.key_case_id)]
    out = [_message_out(th, m) for m in msgs]
    now = utctoday()  # read_at at day precision: it dates the submitter's message too
    for m in msgs:
        if m.direction == FROM_SUBMITTER and m.read_at is None:
            m.read_at = now
            session.add(m)
    audit.record(session, action=actions.MESSAGE_READ, actor_id=principal.user_id,
                 case_id=case.id, target=str(case.id), details={"messages": len(msgs)})
    session.flush()
    return out


def send_message(
    session: Session, principal: Principal, case_id: uuid.UUID, body: str, settings: Settings,
    thread_id: uuid.UUID | None = None,
) -> MessageOut:
    """A reply to one submitter's thread, sealed under that thread's key so its receipt,
    and only its receipt, opens it (422 when the case has several threads and none is
    named)."""
    case, key = open_case(session, principal, case_id, for_update=True)
    th = _threads(session, principal, case, key)
    root = keyrings.choose_thread(session, case.id, thread_id)
    thread_key = th.shared(root.key_case_id)
    if thread_key is None:
        raise Forbidden("This thread is not shared with you, so you cannot write to it. A "
                        "coordinator who can open it may grant it to you.")
    msg = CaseMessage(case_id=case.id, submission_id=root.id, key_case_id=root.key_case_id,
                      direction=TO_SUBMITTER, author_id=principal.user_id, body=b"",
                      seq=threads_repository.next_message_seq(session, case.id))
    msg.body = content.seal_message(thread_key, root.key_case_id, msg.id, body)
    session.add(msg)
    _answer(session, root.id, msg.created_at)
    events.changed(session, case, settings, kind=events.MESSAGE, actor_id=principal.user_id,
                   key=key, detail=f"message={msg.id};thread={root.id}", bump=False)
    session.flush()
    return MessageOut(id=msg.id, thread_id=root.id, thread=th.label(root.id),
                      direction=msg.direction, author_id=msg.author_id, body=body,
                      created_at=msg.created_at, read_at=None)


def _awaits_answer(m: CaseMessage) -> bool:
    return m.direction == FROM_SUBMITTER and m.answered_at is None


def _answer(session: Session, thread_id: uuid.UUID, day: datetime) -> int:
    """The thread's submitter messages waiting for staff become answered on ``day``."""
    waiting = [m for m in threads_repository.thread_messages(session, thread_id)
               if _awaits_answer(m)]
    for m in waiting:
        m.answered_at = day
        session.add(m)
    return len(waiting)


def mark_answered(
    session: Session, principal: Principal, case_id: uuid.UUID, thread_id: uuid.UUID,
    settings: Settings,
) -> int:
    """A submitter's thread answered without a reply here (by phone, through a lawyer):
    its waiting messages stop waiting, as a reply would make them. Recorded in the case's
    history like a reply (who, which thread); returns how many messages it answered.

    409 when nothing in the thread waits for staff, so a stale page cannot mark twice."""
    case, key = open_case(session, principal, case_id, for_update=True)
    th = _threads(session, principal, case, key)
    root = keyrings.thread_in(session, case.id, thread_id)
    if th.shared(root.key_case_id) is None:
        raise Forbidden("This thread is not shared with you, so you cannot mark it answered. "
                        "A coordinator who can open it may grant it to you.")
    answered = _answer(session, root.id, utctoday())
    if not answered:
        raise Conflict("Nothing in this thread is waiting for an answer.")
    events.changed(session, case, settings, kind=events.ANSWERED, actor_id=principal.user_id,
                   key=key, detail=f"thread={root.id};messages={answered}", bump=False)
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(root.id),
                 details={"change": "thread_answered", "messages": answered})
    session.flush()
    return answered


# ---------------------------------------------------------------- list

def list_cases(
    session: Session, principal: Principal, filters: repository.CaseFilters, *, sort: str,
    descending: bool, cursor_text: str | None, limit: int, settings: Settings,
) -> CaseList:
    if limit > settings.case_list_max_page:
        raise InvalidInput(f"limit may be at most {settings.case_list_max_page}.")
    cursor = pagination.decode(cursor_text, sort, descending) if cursor_text else None
    filters.now = filters.now or utcnow()
    rows, next_cursor = repository.list_cases(session, principal, repository.ListRequest(
        filters, sort=sort, descending=descending, cursor=cursor, limit=limit))
    cutoff = states.overdue_cutoff(filters.now)
    # One validation of the whole page in pydantic-core: about 3x cheaper than building
    # each item with model_construct, which runs in Python field by field.
    return CaseList.model_validate({
        "items": [_row_fields(r, cutoff) for r in rows],
        "next_cursor": pagination.encode(next_cursor) if next_cursor else None,
    })


def count_cases(session: Session, principal: Principal, filters: repository.CaseFilters,
                *, cap: int) -> int:
    """How many cases of the caller's list match ``filters``, up to ``cap`` (queue tabs)."""
    filters.now = filters.now or utcnow()
    return repository.count_cases(session, principal, filters, cap)


def case_id_for_reference(session: Session, principal: Principal, reference: str) -> uuid.UUID:
    """The id of a case the caller may list, by its reference (404 otherwise)."""
    found = repository.listable_case_id_by_reference(session, principal, reference)
    if found is None:
        raise NotFound("No case you can see has that reference.")
    return found
