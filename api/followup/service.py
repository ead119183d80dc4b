"""Follow-up by receipt: a submitter's way back to their case.

Flow: ``POST /api/v1/followup/session`` with the receipt. The 40-bit lookup part finds
the receipt row; the secret part is checked with Argon2id under the row's own salt
(:mod:`crypto.receipts`), which also yields the KEK that unwraps the case key from the
receipt's ``case_key_wrap``. The case key is then kept only sealed under the new
session token (:mod:`api.followup.tokens`) for ``followup_token_minutes``.

Throttling wrong receipts (threat model: "more than a few guesses per hour"):

* per receipt, in the database so it holds across processes and restarts: after
  ``receipt_attempts_per_hour`` failures the receipt is locked for at least an hour, until
  the next 00:00 UTC after that hour (``receipt.failed_attempts``/``locked_until``, kept at
  day precision so the row does not date a submitter's attempt, threat model property 13;
  the counter is written in its own transaction so the 401's rollback does not undo it);
* per client (``client_tag``; in memory, or in Redis for Tor circuits): the same number
  of failures per hour, whatever lookups they name, so guessing across many receipts is
  slow too.

Both counts are taken *before* Argon2 runs, atomically (the receipt row under its lock,
the client's window under its own), and given back when the receipt is good: concurrent
guesses cannot all run Argon2 against a limit they would each pass alone.

An unknown lookup costs the same Argon2id as a known one, so timing does not reveal
which lookups exist. Malformed receipts (wrong length, letters outside the alphabet)
are a 400 and not counted: they cannot be a guess at a real secret.

What a submitter sees is coarse: received / in progress / waiting for your answer (the case
needs information and our last message to this thread is unanswered) / closed, and the
messages of their own thread (the submission the receipt was issued for, wherever merges
and splits put it).
Closed cases (closed, rejected, spam, duplicate, merged or shredded) refuse new messages
and additions with 409 and a message saying so.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from api.auth.passwords import kdf_params
from api.cases import repository as cases_repository
from api.cases.models import Case
from api.cases.threads import contexts
from api.cases.threads import repository as threads_repository
from api.cases.threads.models import CaseMessage, Submission
from api.cases.workflow.states import FINAL_STATES, CaseState
from api.core.db import in_transaction
from api.core.errors import BadRequest, Conflict, RateLimited, Unauthorized
from api.core.models import day_ceil, day_floor, utcnow
from api.core.settings import Settings
from api.followup import repository, tokens
from api.followup.models import FollowupSession
from api.followup.schemas import (
    AdditionOut,
    CoarseStatus,
    MessageOut,
    SessionOut,
    StatusOut,
)
from api.ingress.argon2 import Priority, run_argon2
from api.ingress.guards import Guards
from api.intake import repository as intake_repository
from api.intake.service import IntakeContext, ReceivedSubmission, create_followup_submission
from api.keys import repository as keys_repository
from api.keys.repository import RECEIPT
from api.keys.service import case_key_context
from crypto import DataKey, FormatError, ReceiptVerifier, parse_receipt, verify_receipt
from crypto.errors import CryptoError
from crypto.receipts import SALT_SIZE
from crypto.redaction import REDACTED, redacting
from crypto.sealed import unwrap_data_key_symmetric

LOCK_DURATION = timedelta(hours=1)

WRONG_RECEIPT = (
    "That receipt is not right. Check it and try again; after a few wrong tries you will "
    "have to wait an hour."
)
TOO_MANY = (
    "Too many wrong receipts were tried. For your safety, please wait before trying again."
)


class WrongReceipt(Unauthorized):
    code = "wrong_receipt"
    default_message = WRONG_RECEIPT


class CaseClosed(Conflict):
    code = "case_closed"
    default_message = (
        "This case is closed, so it cannot take new messages or information. If something "
        "new has happened, please send a new report."
    )


def coarse_status(case: Case, question_to_you: bool = False) -> CoarseStatus:
    """``question_to_you``: the thread's last message is from staff. In ``needs_info``
    that is the question the case waits for; a merged case may wait on another
    submitter's answer, so the state alone does not say it is this submitter's turn."""
    if is_closed(case):
        return "closed"
    if case.state == CaseState.NEEDS_INFO and question_to_you:
        return "waiting_for_you"
    return "received" if case.state == CaseState.NEW else "in_progress"


def is_closed(case: Case) -> bool:
    return (case.state in FINAL_STATES or case.merged_into_id is not None
            or case.shredded_at is not None)


# ---- opening a session ---------------------------------------------------------------


@dataclass
class _Found:
    receipt_id: uuid.UUID
    case_id: uuid.UUID
    verifier: bytes


def _reserve(session: Session, settings: Settings, lookup: str, now: datetime
             ) -> _Found | None:
    """Count this attempt against the receipt *before* Argon2 runs, under the row's lock.

    Checking and counting in one locked step means concurrent guesses cannot all slip
    past the limit: the attempt that fills it locks the receipt, and the rest are refused
    without any Argon2. A good receipt gives its attempt back (:func:`_open` clears the
    count and the lock).
    """
    row = intake_repository.receipt_by_lookup(session, lookup, for_update=True)
    if row is None:
        return None
    if row.locked_until is not None and row.locked_until > now:
        raise RateLimited(int((row.locked_until - now).total_seconds()) + 1, TOO_MANY)
    row.failed_attempts += 1
    if row.failed_attempts >= settings.receipt_attempts_per_hour:
        row.failed_attempts = 0
        row.locked_until = day_ceil(now + LOCK_DURATION)
    session.add(row)
    session.flush()
    return _Found(row.id, row.case_id, row.verifier)


def _open(session: Session, settings: Settings, found: _Found, kek: bytes, now: datetime
          ) -> SessionOut:
    # The receipt's wrap stays on the case it was issued in (the key of its thread); the
    # thread itself may have moved to another case by a merge or split since.
    wrap = keys_repository.wrap_of(session, found.case_id, RECEIPT, found.receipt_id)
    receipt = intake_repository.receipt_by_id(session, found.receipt_id)
    thread = (threads_repository.submission(session, receipt.submission_id)
              if receipt is not None else None)
    case = cases_repository.case_of_thread(session, thread) if thread is not None else None
    if case is None or wrap is None or receipt is None:
        # Crypto-shredded: the receipt may still verify, but nothing is left to open.
        raise WrongReceipt()
    case_key = unwrap_data_key_symmetric(
        kek, wrap.wrapped_key, case_key_context(found.case_id, RECEIPT, found.receipt_id)
    )
    receipt.failed_attempts = 0
    receipt.locked_until = None
    session.add(receipt)
    repository.delete_expired_sessions(session, now)
    token = tokens.new_token()
    session_id = uuid.uuid4()
    expires = now + timedelta(minutes=settings.followup_token_minutes)
    # The exact expiry travels sealed under the token; the row's times are days only.
    session.add(FollowupSession(
        id=session_id, token_hash=tokens.token_hash(token), case_id=found.case_id,
        receipt_id=found.receipt_id,
        sealed_case_key=tokens.seal_case_key(case_key, token, session_id, expires),
        expires_at=day_ceil(expires), created_at=day_floor(now),
    ))
    session.flush()
    return SessionOut(token=token, expires_at=expires, reference=case.reference)


async def start_session(engine: Engine, settings: Settings, guards: Guards,
                        client: str | None, receipt_text: str) -> SessionOut:
    try:
        code = parse_receipt(receipt_text)
    except FormatError:
        raise BadRequest(
            "A receipt has 32 letters and digits in 8 groups, like XXXX-XXXX-...; check "
            "that you copied all of it."
        ) from None
    # The client's attempt is reserved before Argon2 too, atomically, and given back if
    # the receipt is good: a burst of concurrent guesses cannot outrun the count.
    failures = guards.receipt_failures_per_client
    if client is not None:
        wait = failures.hit(client)
        if wait:
            raise RateLimited(wait, TOO_MANY)
    now = utcnow()
    try:
        found = await in_transaction(engine, lambda s: _reserve(s, settings, code.lookup, now))
    except RateLimited:
        if client is not None:
            failures.give_back(client)  # a locked receipt was not a guess of this client's
        raise
    verifier = (
        ReceiptVerifier.from_bytes(found.verifier) if found is not None
        else ReceiptVerifier(salt=secrets.token_bytes(SALT_SIZE), params=kdf_params(settings),
                             verifier=secrets.token_bytes(32))
    )
    kek = await run_argon2(settings, verify_receipt, code, verifier,
                           priority=Priority.CHECK)
    if kek is None or found is None:
        raise WrongReceipt()  # both counts were taken before Argon2 and stay taken
    opened = await in_transaction(engine, lambda s: _open(s, settings, found, kek, now))
    if client is not None:
        failures.give_back(client)
    return opened


# ---- using a session -------------------------------------------------------------------


@redacting(lambda a: f"thread={a.thread_id}, key={REDACTED}")
@dataclass
class FollowupAccess:
    """A follow-up session: the submitter's own thread and the key that seals it.

    ``thread_id`` is the submission the receipt was issued for; everything a submitter
    sees or sends is scoped to it, never to the whole case (threat model property 11):
    after a merge the case holds other people's threads, which this key does not open
    and this session never lists.
    """

    session_id: uuid.UUID
    thread_id: uuid.UUID
    key_case_id: uuid.UUID
    case_key: DataKey


def authenticate(session: Session, token: str | None, now: datetime | None = None
                 ) -> FollowupAccess:
    again = " Open a new one with your receipt."
    if not token or not token.startswith(tokens.PREFIX) or len(token) > 100:
        raise Unauthorized("This needs a follow-up session token." + again,
                           headers={"WWW-Authenticate": "Bearer"})
    now = now or utcnow()
    ended = Unauthorized("This follow-up session has ended." + again,
                         headers={"WWW-Authenticate": "Bearer"})
    row = repository.session_by_token_hash(session, tokens.token_hash(token))
    receipt = intake_repository.receipt_by_id(session, row.receipt_id) if row is not None else None
    if row is None or receipt is None or row.expires_at <= now:
        raise ended
    try:
        case_key, expires = tokens.open_case_key(row.sealed_case_key, token, row.id)
    except CryptoError:
        raise ended from None
    if expires <= now:
        raise ended
    return FollowupAccess(row.id, receipt.submission_id, receipt.case_id, case_key)


def _thread(session: Session, access: FollowupAccess) -> Submission:
    thread = threads_repository.submission(session, access.thread_id)
    if thread is None:
        raise Unauthorized("This case no longer exists.")
    return thread


def _case(session: Session, access: FollowupAccess) -> Case:
    # The case the thread is in now (it follows merges and splits).
    case = cases_repository.case_of_thread(session, _thread(session, access))
    if case is None:
        raise Unauthorized("This case no longer exists.")
    return case


def require_open(session: Session, access: FollowupAccess) -> Case:
    case = _case(session, access)
    if is_closed(case):
        raise CaseClosed()
    return case


def status(session: Session, access: FollowupAccess) -> StatusOut:
    case = _case(session, access)
    unread = threads_repository.unread_to_submitter(session, access.thread_id)
    thread = threads_repository.thread_messages(session, access.thread_id)
    question = bool(thread) and thread[-1].direction == "to_submitter"
    return StatusOut(reference=case.reference, status=coarse_status(case, question),
                     received_on=case.received_on, accepts_input=not is_closed(case),
                     unread_messages=unread)


def list_messages(session: Session, access: FollowupAccess, now: datetime | None = None
                  ) -> list[MessageOut]:
    """This thread's messages only, oldest first; staff replies become read."""
    now = day_floor(now or utcnow())  # read_at at day precision (property 13)
    out: list[MessageOut] = []
    for msg in threads_repository.thread_messages(session, access.thread_id):
        if msg.key_case_id != access.key_case_id:
            # Only rows of a merge made before threads existed (re-sealed under another
            # case's key); this receipt cannot open them and must not fail on them.
            continue
        text = contexts.open_message(access.case_key, msg.key_case_id, msg.id, msg.body)
        to_you = msg.direction == "to_submitter"
        if to_you and msg.read_at is None:
            msg.read_at = now
            session.add(msg)
        out.append(MessageOut(id=msg.id, direction="to_you" if to_you else "from_you",
                              text=text, created_at=msg.created_at))
    session.flush()
    return out


def send_message(session: Session, access: FollowupAccess, text: str,
                 now: datetime | None = None) -> MessageOut:
    case = require_open(session, access)
    now = day_floor(now or utcnow())  # property 13: the message's day, not its moment
    message_id = uuid.uuid4()
    session.add(CaseMessage(
        id=message_id, case_id=case.id, submission_id=access.thread_id,
        key_case_id=access.key_case_id, direction="from_submitter", author_id=None,
        body=contexts.seal_message(access.case_key, access.key_case_id, message_id, text),
        created_at=now, seq=threads_repository.next_message_seq(session, case.id),
    ))
    session.flush()
    return MessageOut(id=message_id, direction="from_you", text=text, created_at=now)


async def add_information(engine: Engine, ctx: IntakeContext, access: FollowupAccess,
                          received: ReceivedSubmission) -> AdditionOut:
    """Store a follow-up submission (text and/or files) or delete its blobs and re-raise."""
    files = list(received.batch.files)
    try:
        if not files and not received.data.uploads and not received.data.narrative \
                and not received.data.persons:
            raise BadRequest("The addition is empty: send some text or at least one file.")

        def work(session: Session) -> AdditionOut:
            case = require_open(session, access)
            out = create_followup_submission(session, ctx, case, _thread(session, access),
                                             access.case_key, received.data, files)
            return AdditionOut(files=out)

        with anyio.CancelScope(shield=True):
            result = await in_transaction(engine, work)
        return result
    except BaseException:
        with anyio.CancelScope(shield=True):
            await received.batch.discard()
        raise
