"""Moving a case through the workflow table (:mod:`api.cases.workflow.states`).

Checks, in order, each with its own clear refusal:
the caller may list the case (else 404) -> If-Match, when sent, matches (412) -> the edge
exists in the table (409, naming the allowed next states) -> the caller's role may make
it (403) -> four eyes for verification (403) -> a duplicate names its original (422) ->
a merged case is not reopened (409). Verifying needs the case key: nobody verifies what
they could not read.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.cases import repository
from api.cases.access import wraps
from api.cases.models import Case, CaseLink
from api.cases.workflow import events, states
from api.cases.workflow.schemas import TransitionIn
from api.cases.workflow.states import CaseState
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from api.core.models import utctoday
from api.core.settings import Settings
from api.keys import repository as keys_repository
from crypto.keys import DataKey


def load_for_change(
    session: Session, principal: Principal, case_id: uuid.UUID, if_match: int | None
) -> Case:
    case = repository.listable_case(session, principal, case_id, for_update=True)
    if case is None:
        raise NotFound("No such case.")
    if if_match is not None and if_match != case.version:
        raise PreconditionFailed(details={"current_version": case.version})
    return case


def transition(
    session: Session,
    principal: Principal,
    case_id: uuid.UUID,
    body: TransitionIn,
    settings: Settings,
    *,
    if_match: int | None = None,
) -> Case:
    case = load_for_change(session, principal, case_id, if_match)
    src, dst = case.state, body.to
    if dst not in states.STATES:
        raise InvalidInput(f"'{dst}' is not a workflow state.",
                           details={"states": list(states.STATES)})
    roles = states.allowed_roles(src, dst)
    if roles is None:
        raise Conflict(
            f"A case in state '{src}' cannot move to '{dst}'.",
            details={"state": src, "allowed": states.next_states(src, principal.role)},
        )
    if principal.role not in roles:
        raise Forbidden(
            f"Your role may not move a case from '{src}' to '{dst}'.",
            details={"roles": sorted(r.value for r in roles)},
        )
    key: DataKey | None = None
    if keys_repository.held_wrap(session, case.id, principal.user_id) is not None:
        key = wraps.open_case_key(session, principal, case.id)
    if (src, dst) in states.FOUR_EYES:
        if key is None:
            raise Forbidden("Verifying a case needs access to its content; ask to be granted it.")
        if principal.user_id in events.reviewers(session, case.id):
            raise Forbidden(
                "Four eyes: you reviewed this case, so someone else must verify it.",
                details={"rule": "four_eyes"},
            )
    detail = ""
    if dst == CaseState.DUPLICATE:
        detail = _link_duplicate(session, principal, case, body.duplicate_of)
    elif body.duplicate_of is not None:
        raise InvalidInput("duplicate_of is only used when moving a case to 'duplicate'.")
    if dst == CaseState.TRIAGE and src in states.FINAL_STATES and case.merged_into_id:
        raise Conflict("This case was merged into another one; split its submissions out "
                       "of that case instead of reopening it.",
                       details={"merged_into_id": str(case.merged_into_id)})
    now = utctoday()  # day precision (property 13); the exact moment is in the audit log
    case.state = dst
    case.state_changed_at = now
    events.changed(session, case, settings, kind=events.TRANSITION, actor_id=principal.user_id,
                   key=key, comment=body.comment, detail=detail, from_state=src, to_state=dst,
                   now=now)
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(case.id),
                 details={"change": "transition", "from_state": src, "to_state": dst})
    session.flush()
    return case


def _link_duplicate(
    session: Session, principal: Principal, case: Case, original_id: uuid.UUID | None
) -> str:
    if original_id is None:
        raise InvalidInput("Say which case this one duplicates (duplicate_of): a duplicate is "
                           "linked to its original, never just dropped.")
    if original_id == case.id:
        raise InvalidInput("A case cannot be a duplicate of itself.")
    original = repository.listable_case(session, principal, original_id)
    if original is None:
        raise InvalidInput("duplicate_of names no case you can see.")
    session.add(CaseLink(kind="duplicate_of", source_case_id=case.id,
                         target_case_id=original.id, actor_id=principal.user_id))
    return f"duplicate_of={original.id}"
