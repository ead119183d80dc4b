"""Granting existing cases to a person with the organisation's offline recovery key.

Used for a new colleague, and after ``dokaz users reset-password`` (which drops every
wrap of the old key pair). ``dokaz keys grant`` (:mod:`api.cases.access.cli`) is its door.
The recovery private key lives only in this call's memory; :mod:`api.keys.service`
checks it belongs to this installation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from api.audit import actions
from api.audit.service import record
from api.auth.roles import Role
from api.cases.access.wraps import wrap_to
from api.core.progress import SILENT, Progress
from api.keys import repository as keys_repository
from api.keys.repository import LAWYER, RECOVERY, STAFF
from api.keys.service import case_key_context, open_recovery_key
from crypto.keys import DataKey
from crypto.sealed import unwrap_data_key


@dataclass(frozen=True)
class GrantResult:
    granted: int
    without_recovery_wrap: int


def grant_with_recovery_key(
    session: Session,
    *,
    recovery_text: str,
    user_id: uuid.UUID,
    user_public_key: bytes,
    user_role: str,
    case_ids: Sequence[uuid.UUID] | None,
    actor_id: uuid.UUID | None = None,
    actor_kind: str = "cli",
    progress: Progress = SILENT,
) -> GrantResult:
    """Wrap existing cases to a staff member, opening them with the offline recovery key.

    ``case_ids=None`` means every case that has a recovery wrap. Each grant is audited
    (key.grant, with the case id). An existing wrap for the same person is replaced: after
    a password reset it was addressed to a key that no longer exists.
    """
    private = open_recovery_key(session, recovery_text)
    recovery_wraps = keys_repository.recovery_wraps(session, case_ids)
    kind = LAWYER if user_role == Role.LAWYER else STAFF
    granted = 0
    progress.step("cases", len(recovery_wraps))
    for case_id, wrap in sorted(recovery_wraps.items()):
        data_key = unwrap_data_key(
            private, wrap.wrapped_key, case_key_context(case_id, RECOVERY, wrap.recipient_id)
        )
        wrap_to(session, case_id, data_key, kind=kind, recipient_id=user_id,
                public_key=user_public_key, granted_by=actor_id, replace=True)
        session.flush()
        record(session, action=actions.KEY_GRANT, actor_id=actor_id, actor_kind=actor_kind,
               case_id=case_id, target=str(user_id),
               details={"recipient_kind": kind, "via": "recovery_key"})
        granted += 1
        progress.advance()
    missing = 0 if case_ids is None else len(set(case_ids) - set(recovery_wraps))
    return GrantResult(granted=granted, without_recovery_wrap=missing)


def case_keys_with_recovery_key(session: Session, recovery_text: str,
                                case_ids: Sequence[uuid.UUID] | None = None
                                ) -> dict[uuid.UUID, DataKey]:
    """The keys of ``case_ids`` (None: every case) that have a recovery wrap, opened with
    the offline recovery key (held in this call's memory only)."""
    private = open_recovery_key(session, recovery_text)
    return {
        case_id: unwrap_data_key(private, wrap.wrapped_key,
                                 case_key_context(case_id, RECOVERY, wrap.recipient_id))
        for case_id, wrap in keys_repository.recovery_wraps(session, case_ids).items()
    }
