"""Merging duplicate cases and splitting a case, with the history kept and every thread whole.

A case holds one thread per submitter (:mod:`api.cases.threads.keyrings`): the submission a
receipt was issued for, its follow-up additions, their files and the messages with that submitter.
Merge and split move whole threads and never re-seal them: each row keeps the key of the
case it was first received in, the only key its submitter's receipt opens. So after a
merge or a split every receipt still sees exactly its own thread, and nobody else's.

Merge (``source`` into ``target``): every thread of the source moves to the target. The
coordinator merging must hold every key those threads are sealed under; the keys are
wrapped (kind ``thread``) to the caseworkers and coordinators who can read the target,
each wrap audited as ``key.grant`` naming the merge. Lawyers who can read the target get
nothing: another submitter's thread reaches them only by an explicit grant. The source
keeps its own metadata and events, becomes ``duplicate`` with ``merged_into_id`` set, and
a ``merged_into`` link records which submissions moved. Nothing is deleted. The source's
intake statements not yet confirmed by staff (persons, acts, consents its reports gave) are
copied into the target, without duplicating persons or acts already there
(:func:`api.cases.metadata.statements.carry_over`).

Split: the chosen submissions' threads (whole) move to a new case with a fresh key for its
own metadata and events, wrapped to the recovery key and to every staff member and lawyer
who could open the original, with a ``split_from`` link. The moved threads stay sealed
under their keys, so nobody's access to them changes. At least one thread stays behind.
:func:`split_plan` answers what a split would move, by the same checks, for a preview.

Everything that changes is checked before anything is written. Audited as ``case.changed``.

This module sits at the top of :mod:`api.cases`, not in the workflow: merge and split make
and unmake cases (a new case, its key and wraps; threads moving between cases), which is the
case itself; the workflow only records the resulting ``duplicate`` and ``triage`` states.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from api.audit import actions
from api.audit import service as audit
from api.auth import repository as auth_repository
from api.auth.principals import Principal
from api.cases.access import wraps
from api.cases.creation import Reader, create_case
from api.cases.metadata import statements
from api.cases.models import Case, CaseLink
from api.cases.service import open_case
from api.cases.threads import keyrings
from api.cases.threads import repository as threads_repository
from api.cases.threads.models import Submission
from api.cases.workflow import events, states
from api.cases.workflow.states import CaseState
from api.core.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from api.core.models import utcnow
from api.core.settings import Settings
from api.keys import repository as keys_repository
from api.keys.repository import PERSONAL_KINDS


def merge(
    session: Session, principal: Principal, target_id: uuid.UUID, source_id: uuid.UUID,
    settings: Settings, comment: str | None = None,
) -> Case:
    if target_id == source_id:
        raise InvalidInput("A case cannot be merged into itself.")
    # Lock in a fixed order so two opposite merges cannot deadlock.
    first, second = sorted([target_id, source_id])
    opened = {cid: open_case(session, principal, cid, for_update=True) for cid in (first, second)}
    target, target_key = opened[target_id]
    source, source_key = opened[source_id]
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("One of these cases was already merged into another case.")
    if source.state in states.FINAL_STATES or target.state in states.FINAL_STATES:
        raise Conflict("Only open cases can be merged; reopen the case first.")
    ring = keyrings.keyring(session, principal, source, source_key)
    needed = threads_repository.key_cases_of(session, source.id)
    if needed - set(ring.keys):
        raise Forbidden("You hold no key to some threads of the case being merged, so their "
                        "readers in the receiving case could not be given them. A coordinator "
                        "who can open every thread of that case must merge it.")
    subs = threads_repository.submissions_of(session, source.id)
    msgs = threads_repository.messages_of(session, source.id)
    files = sum(threads_repository.move_thread(session, root, target.id)
                for root in threads_repository.roots_of(session, source.id))
    session.flush()
    shared = keyrings.share_with_readers(
        session, ring=ring, key_case_ids=needed, case=target, actor_id=principal.user_id,
        reason="merge", detail={"merged_from": str(source.id)})
    now = utcnow()
    ids = ",".join(str(s.id) for s in subs)
    session.add(CaseLink(kind="merged_into", source_case_id=source.id, target_case_id=target.id,
                         submission_ids=ids, actor_id=principal.user_id, created_at=now))
    src_state = source.state
    source.state = CaseState.DUPLICATE.value
    source.state_changed_at = now
    source.merged_into_id = target.id
    events.changed(session, source, settings, kind=events.MERGE, actor_id=principal.user_id,
                   key=source_key, comment=comment, detail=f"merged_into={target.id}",
                   from_state=src_state, to_state=CaseState.DUPLICATE, now=now)
    events.changed(session, target, settings, kind=events.MERGE, actor_id=principal.user_id,
                   key=target_key, comment=comment,
                   detail=f"merged_from={source.id};submissions={len(subs)}", now=now)
    _urgency_union(target, source)
    # What the moved reports stated (and staff have not confirmed yet) goes with them, so
    # their victims and consents still count once the source is a duplicate.
    carried = statements.carry_over(session, source, source_key, target, target_key)
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=target.id, target=str(source.id),
                 details={"change": "merge", "submissions": len(subs), "files": files,
                          "messages": len(msgs), "thread_keys_shared": shared,
                          "statements_carried": carried})
    session.flush()
    return target


def _urgency_union(target: Case, source: Case) -> None:
    reasons = {r for r in (target.urgency_reasons + "," + source.urgency_reasons).split(",") if r}
    target.urgency_reasons = ",".join(sorted(reasons))
    target.urgent = bool(reasons)


@dataclass(frozen=True)
class SplitPlan:
    """What a split would do: the threads (their root submissions) that move, and those
    that stay. Ids and plaintext columns only, so a preview shows no sealed content."""

    moving: list[Submission]
    staying: list[Submission]


def _plan(session: Session, case: Case, submission_ids: list[uuid.UUID]) -> SplitPlan:
    wanted = set(submission_ids)
    if not wanted:
        raise InvalidInput("Choose at least one submitter's thread to move to the new case.")
    chosen = list(session.exec(select(Submission).where(
        Submission.case_id == case.id, col(Submission.id).in_(wanted))))
    if len(chosen) != len(wanted):
        raise InvalidInput("Some submission ids are not submissions of this case.")
    # A thread moves whole: choosing a follow-up addition moves its submitter's thread.
    moving = {s.thread_id for s in chosen}
    roots = threads_repository.roots_of(session, case.id)
    plan = SplitPlan([r for r in roots if r.id in moving],
                     [r for r in roots if r.id not in moving])
    if not plan.staying:
        raise InvalidInput("A split must leave at least one submitter's thread in the "
                           "original case.")
    return plan


def split_plan(
    session: Session, principal: Principal, case_id: uuid.UUID,
    submission_ids: list[uuid.UUID],
) -> SplitPlan:
    """What :func:`split` would move, checked by the same rules, changing nothing."""
    case, _key = open_case(session, principal, case_id)
    return _plan(session, case, submission_ids)


def split(
    session: Session, principal: Principal, case_id: uuid.UUID,
    submission_ids: list[uuid.UUID], settings: Settings, comment: str | None = None,
    *, if_match: int | None = None,
) -> Case:
    case, key = open_case(session, principal, case_id, for_update=True)
    if if_match is not None and if_match != case.version:
        raise PreconditionFailed(details={"current_version": case.version})
    roots = _plan(session, case, submission_ids).moving
    subs = [s for r in roots for s in threads_repository.thread_rows(session, r)[0]]
    now = utcnow()
    new, new_key = create_case(session, state=CaseState.TRIAGE, at=now, region=case.region,
                               received_on=min(s.received_on for s in subs),
                               priority=case.priority, priority_rank=case.priority_rank,
                               readers=_readers_like(session, case.id),
                               granted_by=principal.user_id)
    files = sum(threads_repository.move_thread(session, r, new.id) for r in roots)
    ids = ",".join(sorted(str(s.id) for s in subs))
    session.add(CaseLink(kind="split_from", source_case_id=new.id, target_case_id=case.id,
                         submission_ids=ids, actor_id=principal.user_id, created_at=now))
    events.changed(session, new, settings, kind=events.SPLIT, actor_id=principal.user_id,
                   key=new_key, comment=comment, detail=f"split_from={case.id}",
                   to_state=CaseState.TRIAGE.value, now=now)
    events.changed(session, case, settings, kind=events.SPLIT, actor_id=principal.user_id,
                   key=key, comment=comment,
                   detail=f"split_to={new.id};submissions={len(subs)}", now=now)
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(new.id),
                 details={"change": "split", "submissions": len(subs), "files": files})
    session.flush()
    return new


def _readers_like(session: Session, old_case: uuid.UUID) -> list[Reader]:
    """Whoever could open the old case (active accounts; approved readers, as for any
    wrap) gets the new case's key; the recovery wrap is made by create_case."""
    out: list[Reader] = []
    for wrap in keys_repository.wraps_of_case(session, old_case, PERSONAL_KINDS):
        user = auth_repository.get_staff(session, wrap.recipient_id)
        if user is None or user.disabled_at is not None:
            continue
        wraps.require_approved_reader(user, wrap.recipient_kind)
        out.append(Reader(wrap.recipient_kind, user.id, user.public_key))
    return out
