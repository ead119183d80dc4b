"""Moving a case through the workflow table (:mod:`api.cases.workflow.states`).

Checks, in order, each with its own clear refusal:
the caller may list the case (else 404) -> If-Match, when sent, matches (412) -> the edge
exists in the table (409, naming the allowed next states) -> the caller's role may make
it (403) -> four eyes for verification (403) -> a duplicate names its original (422) ->
a merged case is not reopened (409). Verifying needs the case key: nobody verifies what
they could not read.

:func:`refusal` is the one place these checks live: :func:`transition` raises what it
returns, and :func:`choices` lists every edge out of a case's state with it, so a page
that names why a move is not open to someone names the very refusal the move would get.
Refusals a person could meet on a page carry a ``rule`` code and a fixed message (no
states or names inside), which the console translates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases import repository
from api.cases.access import wraps
from api.cases.models import Case, CaseLink
from api.cases.workflow import events, states
from api.cases.workflow.schemas import TransitionIn
from api.cases.workflow.states import CaseState
from api.core.errors import (
    Conflict,
    DokazError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
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


# The refusals a person may meet on a page, by rule; their messages are fixed text so
# the console can translate them (api/console/labels.py holds the same sentences).
RULE_COORDINATOR_ONLY: Final = "coordinator_only"
RULE_ROLE: Final = "role"
RULE_NEEDS_KEY: Final = "needs_key"
RULE_FOUR_EYES: Final = "four_eyes"
RULE_MERGED: Final = "merged"
REFUSALS: Final[dict[str, str]] = {
    RULE_COORDINATOR_ONLY: "Only a coordinator may make this move.",
    RULE_ROLE: "Your role may not make this move.",
    RULE_NEEDS_KEY: "Verifying a case needs access to its content; ask to be granted it.",
    RULE_FOUR_EYES: "You sent this case to review; a second person must verify it.",
    RULE_MERGED: "This case was merged into another one; split its submissions out of "
                 "that case instead of reopening it.",
}


@dataclass(frozen=True)
class Choice:
    """An edge out of the case's state: open to this person, or refused with a reason."""

    state: str
    refused: DokazError | None = None

    @property
    def rule(self) -> str | None:
        if self.refused is None:
            return None
        return str((self.refused.details or {}).get("rule") or "") or None


def refusal(session: Session, principal: Principal, case: Case, dst: str
            ) -> DokazError | None:
    """Why ``principal`` may not move ``case`` to ``dst`` now, or None when they may
    (a duplicate's original is checked by :func:`transition`, which has the body)."""
    src = case.state
    if dst not in states.STATES:
        return InvalidInput(f"'{dst}' is not a workflow state.",
                            details={"states": list(states.STATES)})
    roles = states.allowed_roles(src, dst)
    if roles is None:
        return Conflict(
            f"A case in state '{src}' cannot move to '{dst}'.",
            details={"state": src, "allowed": states.next_states(src, principal.role)},
        )
    if principal.role not in roles:
        rule = RULE_COORDINATOR_ONLY if roles == {Role.COORDINATOR} else RULE_ROLE
        return Forbidden(REFUSALS[rule], details={
            "rule": rule, "roles": sorted(r.value for r in roles)})
    if (src, dst) in states.FOUR_EYES:
        if keys_repository.held_wrap(session, case.id, principal.user_id) is None:
            return Forbidden(REFUSALS[RULE_NEEDS_KEY], details={"rule": RULE_NEEDS_KEY})
        if principal.user_id in events.reviewers(session, case.id):
            return Forbidden(REFUSALS[RULE_FOUR_EYES], details={"rule": RULE_FOUR_EYES})
    if dst == CaseState.TRIAGE and src in states.FINAL_STATES and case.merged_into_id:
        return Conflict(REFUSALS[RULE_MERGED], details={
            "rule": RULE_MERGED, "merged_into_id": str(case.merged_into_id)})
    return None


def choices(session: Session, principal: Principal, case_id: uuid.UUID) -> list[Choice]:
    """Every state the table leads to from the case's state (table order), each open to
    ``principal`` now or refused with the reason :func:`transition` would give."""
    case = repository.listable_case(session, principal, case_id)
    if case is None:
        raise NotFound("No such case.")
    return [Choice(dst, refusal(session, principal, case, dst))
            for (frm, dst) in states.TRANSITIONS if frm == case.state]


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
    refused = refusal(session, principal, case, dst)
    if refused is not None:
        raise refused
    key: DataKey | None = None
    if keys_repository.held_wrap(session, case.id, principal.user_id) is not None:
        key = wraps.open_case_key(session, principal, case.id)
    detail = ""
    if dst == CaseState.DUPLICATE:
        detail = _link_duplicate(session, principal, case, body.duplicate_of)
    elif body.duplicate_of is not None:
        raise InvalidInput("duplicate_of is only used when moving a case to 'duplicate'.")
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
