"""Threads: each submitter's own part of a case, and the keys that open them.

Threat model property 11. A thread is the submission a receipt was issued for (its root:
``thread_id == id``) with the follow-up additions sent with that receipt, their files,
and the messages to and from that submitter (``case_message.submission_id``). Every row
names the case key that seals it (``key_case_id``): the case the thread was first
received in. The submitter's receipt is wrapped to that key only, and the server never
learns receipts, so merge and split move a thread's ``case_id`` and never re-seal it.

Staff read a case through a :class:`Keyring`: the case's own key and every thread key the
reader holds a wrap of. A thread key reaches a reader in one of two ways, each audited
(``key.grant`` with ``kind=thread``): the coordinator who merges wraps the moved threads'
keys to the caseworkers and coordinators who can read the receiving case, or a
coordinator grants one thread explicitly (:func:`api.cases.access.grants.grant` with a thread).
Such a wrap has ``recipient_kind`` ``thread``: it opens that case's threads wherever they
are, never the case it belongs to (scoping only counts ``staff``/``lawyer`` wraps), so a
merge never makes anyone a reader of the duplicate itself. A lawyer never gets a thread
key from a merge: they see another submitter's thread only after an explicit grant, and
until then it is listed as "not shared with you".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth import repository as auth_repository
from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases.access import wraps
from api.cases.models import Case
from api.cases.threads.models import Submission
from api.cases.threads.repository import key_cases_of, roots_of
from api.core.errors import InvalidInput
from api.keys import repository as keys_repository
from api.keys.models import CaseKeyWrap
from api.keys.repository import HOLDER_KINDS, PERSONAL_KINDS, STAFF, THREAD
from api.keys.service import case_key_context
from crypto.errors import CryptoError
from crypto.keys import DataKey
from crypto.redaction import redacting
from crypto.sealed import unwrap_data_key

# Merges pass thread keys to these readers of the receiving case; never to lawyers.
MERGE_RECIPIENT_ROLES = (Role.COORDINATOR, Role.CASEWORKER)
NOT_SHARED = "not shared with you"


@redacting(lambda k: f"case={k.case_id}, keys=<{len(k.keys)} redacted>")
@dataclass
class Keyring:
    """The case keys one reader holds for one case's threads (own case key included)."""

    case_id: uuid.UUID
    keys: dict[uuid.UUID, DataKey] = field(default_factory=dict)

    def get(self, key_case_id: uuid.UUID) -> DataKey | None:
        return self.keys.get(key_case_id)


def labels(roots: list[Submission]) -> dict[uuid.UUID, str]:
    """``submission 1 (web, ru, received 2026-11-30)``: which submitter, in staff words."""
    return {r.id: f"submission {n} ({r.channel}, {r.language}, received "
                  f"{r.received_on.isoformat()})" for n, r in enumerate(roots, start=1)}


def keyring(session: Session, principal: Principal, case: Case, case_key: DataKey) -> Keyring:
    """Every thread key of ``case`` the caller holds; a key they lack is simply absent."""
    ring = Keyring(case.id, {case.id: case_key})
    for key_case_id in key_cases_of(session, case.id) - {case.id}:
        wrap = keys_repository.held_wrap(session, key_case_id, principal.user_id, HOLDER_KINDS)
        if wrap is None:
            continue
        try:
            ring.keys[key_case_id] = unwrap_data_key(
                principal.private_key(), wrap.wrapped_key,
                case_key_context(key_case_id, wrap.recipient_kind, wrap.recipient_id))
        except CryptoError:
            continue  # a wrap for an earlier key pair of this account opens nothing
    return ring


def thread_in(session: Session, case_id: uuid.UUID, thread_id: uuid.UUID) -> Submission:
    root = session.get(Submission, thread_id)
    if root is None or root.case_id != case_id or root.thread_id != root.id:
        raise InvalidInput("That is not a thread of this case; use the id of a thread "
                           "listed in the case's threads.")
    return root


def choose_thread(session: Session, case_id: uuid.UUID, thread_id: uuid.UUID | None
                  ) -> Submission:
    """The thread a staff message goes to: the one named, or the only one there is."""
    if thread_id is not None:
        return thread_in(session, case_id, thread_id)
    roots = roots_of(session, case_id)
    if len(roots) != 1:
        raise InvalidInput(
            f"This case has {len(roots)} threads (one per submitter); say which one the "
            "message is for with thread_id (see the case's threads).",
            details={"threads": [str(r.id) for r in roots]},
        )
    return roots[0]


def wrap_thread_key(
    session: Session, *, case: Case, key_case_id: uuid.UUID, key: DataKey, user: StaffUser,
    actor_id: uuid.UUID, reason: str, detail: dict[str, str] | None = None,
) -> CaseKeyWrap:
    """Wrap one thread key to one person (kind ``thread``), audited entry by entry."""
    wrap = wraps.wrap_to_staff(session, key_case_id, key, user, kind=THREAD, granted_by=actor_id)
    audit.record(session, action=actions.KEY_GRANT, actor_id=actor_id, case_id=case.id,
                 target=str(user.id),
                 details={"kind": THREAD, "key_case": str(key_case_id), "reason": reason,
                          **(detail or {})})
    return wrap


def share_with_readers(
    session: Session, *, ring: Keyring, key_case_ids: set[uuid.UUID], case: Case,
    actor_id: uuid.UUID, reason: str, detail: dict[str, str] | None = None,
    only: StaffUser | None = None,
) -> int:
    """Give the caseworkers and coordinators who read ``case`` (or just ``only``) the keys
    in ``key_case_ids`` they do not hold yet; lawyers get none (an explicit grant does)."""
    if only is not None:
        users = [only]
    else:
        users = [u for w in keys_repository.wraps_of_case(session, case.id, PERSONAL_KINDS)
                 if w.recipient_kind == STAFF
                 and (u := auth_repository.get_staff(session, w.recipient_id)) is not None]
    given = 0
    for user in users:
        if user.disabled_at is not None or user.role not in MERGE_RECIPIENT_ROLES:
            continue
        for key_case_id in sorted(key_case_ids):
            key = ring.get(key_case_id)
            if key is None or keys_repository.held_wrap(session, key_case_id, user.id,
                                                           HOLDER_KINDS) is not None:
                continue
            wrap_thread_key(session, case=case, key_case_id=key_case_id, key=key, user=user,
                            actor_id=actor_id, reason=reason, detail=detail)
            given += 1
    session.flush()
    return given


def drop_thread_keys(session: Session, case_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Delete a person's thread-key wraps for the threads of ``case_id`` (after a revoke)."""
    return keys_repository.delete_wraps_to(session, user_id, (THREAD,),
                                           key_cases_of(session, case_id) - {case_id})
