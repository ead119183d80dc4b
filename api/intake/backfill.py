"""Carrying cases received before intake statements forward (``dokaz intake
backfill-statements``).

Migration 0014 cannot read the reports of existing cases: they are sealed, and a migration
holds no key. This command can: with the organisation's offline recovery key it opens each
case that has no intake statement yet, reads its reports (every thread now in the case,
sealed under the key of the case each was received in), and writes what they state exactly
as intake does today (:mod:`api.intake.statements`), report by report in the order they
were received. Safe to run again: a case that has intake statements is skipped, and within
a case the statements' own rules keep persons and acts from being duplicated. A report that
no longer reads as the current schema is counted and left for a caseworker.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.cases.access.recovery import case_keys_with_recovery_key
from api.cases.metadata import statements as metadata_statements
from api.cases.threads import contexts
from api.cases.threads import repository as threads_repository
from api.intake import statements
from api.intake.schemas import FollowupIn, SubmissionIn
from crypto.errors import CryptoError


@dataclass(frozen=True)
class BackfillResult:
    cases: int  # cases given statements
    reports: int  # reports read into them
    unreadable: int  # reports left for a caseworker (no key, or an older shape)
    without_key: int  # cases with no recovery wrap


def backfill(session: Session, recovery_text: str,
             case_ids: Sequence[uuid.UUID] | None = None) -> BackfillResult:
    keys = case_keys_with_recovery_key(session, recovery_text)
    cases = metadata_statements.cases_without_statements(
        session, None if case_ids is None else list(case_ids))
    done = reports = unreadable = without_key = 0
    for case in cases:
        key = keys.get(case.id)
        if key is None:
            without_key += 1
            continue
        read = 0
        # Reports first, additions after them: a follow-up's persons match the report's.
        subs = sorted(threads_repository.submissions_of(session, case.id),
                      key=lambda s: (s.is_followup, s.received_on))
        for sub in subs:
            thread_key = keys.get(sub.key_case_id)
            try:
                if thread_key is None:
                    raise CryptoError("no key")
                payload = dict(contexts.open_payload(thread_key, sub))
                payload.pop("received_at", None)
                stated = (statements.of_followup(FollowupIn.model_validate(payload))
                          if sub.is_followup
                          else statements.of_submission(SubmissionIn.model_validate(payload)))
            except (CryptoError, ValidationError, TypeError, ValueError):
                unreadable += 1
                continue
            metadata_statements.add(session, case, key, sub.id, stated)
            read += 1
        if read:
            done += 1
            reports += read
            audit.record(session, action=actions.CASE_CHANGED, actor_id=None,
                         actor_kind="cli", case_id=case.id, target=str(case.id),
                         details={"change": "intake_statements_backfill", "reports": read})
        session.flush()
    return BackfillResult(done, reports, unreadable, without_key)
