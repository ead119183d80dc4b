"""The review workflow: the states (:class:`CaseState`) and one explicit table of
(from state, to state) -> roles that may.

::

    new -> triage -> in_review <-> needs_info -> verified -> referred -> closed
    rejected / duplicate from new, triage, in_review, needs_info; spam from new, triage
    reopen: closed, rejected, spam, duplicate -> triage (coordinator)

Rules beyond the table, all enforced in :mod:`api.cases.workflow.transitions`:

* four eyes: ``in_review -> verified`` may not be made by anyone who reviewed the case, i.e.
  who moved it into ``in_review`` or ``needs_info`` since it last entered ``triage``;
* ``-> duplicate`` names the case it duplicates (a link is recorded; nothing is lost);
* a case merged into another cannot be reopened (split its submissions out instead).

Every transition writes a ``case_event`` (who, when, from, to, sealed comment) and bumps the
case version. Service levels work in whole days, because the dates they start from are kept
at day precision (threat model property 13): each open state is due on the day
``day(state_changed_at) + ceil(hours / 24)`` from ``Settings.case_sla_hours`` (hours divided
for urgent cases), and a case is overdue once its due day has passed. So a case never gets
less time than the configured hours, and at most a day more. Final states have no due date.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from api.auth.roles import Role
from api.core.models import day_floor
from api.core.settings import Settings


# ``Case.state`` stays a string column holding the value; a member equals its string, so
# states read from the database compare with these directly.
class CaseState(StrEnum):
    """A case's place in the review workflow."""

    NEW = "new"
    TRIAGE = "triage"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    VERIFIED = "verified"
    REFERRED = "referred"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    SPAM = "spam"


# Short name for the table below.
_S = CaseState

STATES: Final[tuple[CaseState, ...]] = tuple(CaseState)
FINAL_STATES: Final = frozenset({_S.CLOSED, _S.REJECTED, _S.DUPLICATE, _S.SPAM})
OPEN_STATES: Final = tuple(s for s in STATES if s not in FINAL_STATES)

_STAFF = frozenset({Role.COORDINATOR, Role.CASEWORKER})
_COORD = frozenset({Role.COORDINATOR})

# Keyed by CaseState members, which compare and hash as their strings, so a state read
# from the database (a plain string) finds its edges.
TRANSITIONS: Final[dict[tuple[str, str], frozenset[Role]]] = {
    (_S.NEW, _S.TRIAGE): _STAFF,
    (_S.TRIAGE, _S.IN_REVIEW): _STAFF,
    (_S.IN_REVIEW, _S.NEEDS_INFO): _STAFF,
    (_S.NEEDS_INFO, _S.IN_REVIEW): _STAFF,
    (_S.IN_REVIEW, _S.VERIFIED): _STAFF,  # four eyes, see module docstring
    (_S.VERIFIED, _S.REFERRED): _STAFF,
    (_S.VERIFIED, _S.CLOSED): _COORD,  # documented, but no referral (e.g. no consent to refer)
    (_S.REFERRED, _S.CLOSED): _STAFF,
    # Early exits.
    **{(s, _S.REJECTED): _STAFF for s in (_S.NEW, _S.TRIAGE, _S.IN_REVIEW, _S.NEEDS_INFO)},
    **{(s, _S.DUPLICATE): _STAFF for s in (_S.NEW, _S.TRIAGE, _S.IN_REVIEW, _S.NEEDS_INFO)},
    **{(s, _S.SPAM): _STAFF for s in (_S.NEW, _S.TRIAGE)},
    # Reopening is a transition, never an edit.
    **{(s, _S.TRIAGE): _COORD for s in (_S.CLOSED, _S.REJECTED, _S.SPAM, _S.DUPLICATE)},
}

FOUR_EYES: Final = frozenset({(_S.IN_REVIEW, _S.VERIFIED)})
# Moving a case into these states makes the actor one of its reviewers.
REVIEW_STATES: Final = frozenset({_S.IN_REVIEW, _S.NEEDS_INFO})


def allowed_roles(from_state: str, to_state: str) -> frozenset[Role] | None:
    """Roles that may make this transition, or None when the table has no such edge."""
    return TRANSITIONS.get((from_state, to_state))


def next_states(from_state: str, role: Role) -> list[str]:
    """States a person in ``role`` may move a case to from ``from_state`` (table order)."""
    return [to for (frm, to), roles in TRANSITIONS.items() if frm == from_state and role in roles]


def due_at(
    state: str, entered_at: datetime, *, urgent: bool, settings: Settings
) -> datetime | None:
    """The day (00:00 UTC) ``state`` is due; None for final or unconfigured states."""
    if state in FINAL_STATES:
        return None
    hours = settings.case_sla_hours.get(state)
    if hours is None:
        return None
    span = hours / settings.case_sla_urgent_divisor if urgent else float(hours)
    return day_floor(entered_at) + timedelta(days=math.ceil(span / 24))


def is_overdue(due: datetime | None, now: datetime) -> bool:
    """Past its due day: the whole due day still counts as in time."""
    return due is not None and due < overdue_cutoff(now)


def overdue_cutoff(now: datetime) -> datetime:
    """Due before this moment = overdue at ``now`` (for a whole page at once)."""
    return day_floor(now)
