"""Submission flows, shared by the JSON API and the server-rendered web form.

Building blocks (all reusable):

* :func:`receive_body` - the API's body: a JSON report (read within its limit and
  validated by :mod:`api.ingress.body`), or
* :func:`receive_multipart_submission` - a ``multipart/form-data`` stream with one
  ``submission`` JSON part followed by any number of ``files`` parts, encrypted as they
  arrive (:mod:`api.ingress.files`). The JSON part must come first so a bad report is
  refused before gigabytes are read, and the honeypot is known before any file is.
* :func:`submit` - stores a validated submission and its received files atomically and
  returns the receipt. The web form builds ``SubmissionIn`` from its HTML fields, streams
  its file parts into a :class:`~api.ingress.files.FileBatch` with
  :class:`~api.ingress.files.EncryptedFileSink`, then calls :func:`submit`.

Transactions: streaming never happens inside a database transaction (a slow upload would
hold SQLite's write lock or a PostgreSQL connection for hours). The receipt's Argon2id
runs before the transaction, bounded by ``max_concurrent_argon2``. Then one short
transaction (:func:`create_submission`, which only flushes) writes the case, key wraps,
receipt, submission and attachments; blobs were written before it and are deleted if it
does not commit (:mod:`api.storage.pending`). So an acknowledged receipt always means a
complete, readable submission, and a failed request leaves nothing visible.

Honeypot: a submission whose ``website`` field is filled in gets an ordinary-looking 201
with a receipt, a reference and file hashes, but nothing is stored: bots learn nothing
from the answer. A person who somehow filled it in loses the report, which the hidden,
labelled-"leave empty" field makes very unlikely.

Key wraps made at intake (threat model property 2): every staff member on intake duty,
the organisation recovery key, and for a lawyer's submission the lawyer (all made by
:func:`api.cases.creation.create_case`, the one owner of new cases), then the receipt
KEK. Without a recovery key intake is refused (503): a case that nobody could ever
recover must not be accepted.

What the report states (persons, acts, dates, places, consents) is written into the
case metadata as intake statements (:mod:`api.intake.statements`), in the same
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import anyio
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from api.auth.passwords import kdf_params
from api.cases.access.wraps import wrap_to
from api.cases.creation import Reader, create_case, new_reference
from api.cases.files.models import Attachment
from api.cases.metadata import statements as metadata_statements
from api.cases.models import Case
from api.cases.threads import contexts
from api.cases.threads.models import Submission
from api.cases.workflow.states import CaseState
from api.core.db import in_transaction
from api.core.errors import BadRequest, Conflict, Gone, PayloadTooLarge
from api.core.models import day_floor, utcnow
from api.core.settings import Settings
from api.ingress.argon2 import Priority, Ticket, run_argon2, start_argon2
from api.ingress.body import BodyKind, body_kind, parse_json_model, read_json_body
from api.ingress.files import (
    DiscardingFileSink,
    EncryptedFileSink,
    FileBatch,
    FileLimits,
    ReceivedFile,
)
from api.ingress.multipart import (
    MultipartLimits,
    PartInfo,
    PartSink,
    mb,
    parse_multipart,
)
from api.ingress.schemas import FileOut
from api.intake import coding, replays, repository, statements
from api.intake.models import Receipt
from api.intake.schemas import SCHEMA_VERSION, FollowupIn, SubmissionIn, SubmissionOut
from api.keys.repository import LAWYER, RECEIPT, STAFF
from api.keys.service import check_recovery_key
from api.storage.base import BlobStorage
from api.storage.pending import delete_on_rollback
from api.uploads.service import claim_upload, hand_over
from crypto import DataKey, SealedJSON, receipt_secrets
from crypto import Receipt as ReceiptCode


@dataclass
class IntakeContext:
    """Where a submission comes from and where its files go."""

    settings: Settings
    storage: BlobStorage
    channel: str = "api"  # "api", "web" or "lawyer"
    lawyer_id: uuid.UUID | None = None

    def file_limits(self) -> FileLimits:
        s = self.settings
        return FileLimits(s.max_file_bytes, s.max_files_per_submission,
                          frozenset(s.refused_file_types))

    def multipart_limits(self) -> MultipartLimits:
        s = self.settings
        return MultipartLimits(
            max_body_bytes=s.max_submission_bytes,
            max_parts=s.max_files_per_submission + 8,
        )


# ---- parsing ------------------------------------------------------------------------


class _JsonPartSink:
    def __init__(self, limit: int, done: Callable[[bytes], None]) -> None:
        self._buf = bytearray()
        self._limit = limit
        self._done = done

    async def write(self, data: bytes, /) -> None:
        self._buf += data
        if len(self._buf) > self._limit:
            raise PayloadTooLarge(
                f"The report is larger than the limit of {mb(self._limit)} for its text. "
                "Send long documents as files."
            )

    async def close(self) -> None:
        self._done(bytes(self._buf))

    def abort(self) -> None:
        self._buf = bytearray()


@dataclass
class ReceivedSubmission:
    data: Any  # SubmissionIn or FollowupIn
    batch: FileBatch
    discarded: list[DiscardingFileSink] = field(default_factory=list)

    @property
    def is_honeypot(self) -> bool:
        return bool(getattr(self.data, "website", ""))


class SubmissionFormHandler:
    """``submission`` (JSON, first) + ``files`` parts, for :func:`parse_multipart`."""

    def __init__(self, ctx: IntakeContext, model: type[BaseModel] = SubmissionIn) -> None:
        self.ctx = ctx
        self.model = model
        self.received = ReceivedSubmission(None, FileBatch(ctx.storage, ctx.file_limits()))

    def _set(self, raw: bytes) -> None:
        self.received.data = parse_json_model(raw, self.model)

    async def open_part(self, info: PartInfo, /) -> PartSink:
        if info.name == "submission":
            if self.received.data is not None:
                raise BadRequest("The form has more than one 'submission' part.")
            return _JsonPartSink(self.ctx.settings.max_json_bytes, self._set)
        if info.name in ("files", "file", "files[]"):
            if self.received.data is None:
                raise BadRequest(
                    "The 'submission' part must come before the 'files' parts. Nothing "
                    "was saved."
                )
            number = self.received.batch.count_new_file()
            if self.received.is_honeypot:
                sink = DiscardingFileSink(self.received.batch, info, number)
                self.received.discarded.append(sink)
                return sink
            return EncryptedFileSink(self.received.batch, info, number)
        raise BadRequest(
            "The form has a part this endpoint does not accept; send only 'submission' "
            "and 'files'."
        )


async def receive_multipart_submission(
    chunks: AsyncIterable[bytes], content_type: str | None, ctx: IntakeContext,
    model: type[BaseModel] = SubmissionIn,
) -> ReceivedSubmission:
    """Parse and encrypt a multipart submission; on any error every blob is deleted."""
    handler = SubmissionFormHandler(ctx, model)
    try:
        await parse_multipart(chunks, content_type, handler, ctx.multipart_limits())
        if handler.received.data is None:
            raise BadRequest("The form has no 'submission' part with the report.")
    except BaseException:
        with anyio.CancelScope(shield=True):
            await handler.received.batch.discard()
        raise
    return handler.received


async def receive_body(
    chunks: AsyncIterable[bytes], content_type: str | None, ctx: IntakeContext,
    model: type[BaseModel], unsupported: str,
) -> ReceivedSubmission:
    """A report or a follow-up addition as the API takes it: ``model`` as JSON alone, or
    multipart with the JSON part first and files after it (415 ``unsupported`` else)."""
    if body_kind(content_type, unsupported) is BodyKind.JSON:
        raw = await read_json_body(chunks, ctx.settings.max_json_bytes)
        return ReceivedSubmission(parse_json_model(raw, model),
                                  FileBatch(ctx.storage, ctx.file_limits()))
    return await receive_multipart_submission(chunks, content_type, ctx, model)


# ---- storing ------------------------------------------------------------------------


@dataclass
class PreparedReceipt:
    code: ReceiptCode
    verifier: bytes
    kek: bytes

    def __repr__(self) -> str:
        return "PreparedReceipt(<redacted>)"


def prepare_receipt(settings: Settings) -> PreparedReceipt:
    """A fresh receipt and its Argon2id verifier and KEK (blocking; run in a thread)."""
    code = ReceiptCode.generate()
    verifier, kek = receipt_secrets(code, params=kdf_params(settings))
    return PreparedReceipt(code, verifier.to_bytes(), kek)


def ensure_intake_configured(session: Session) -> None:
    """Refuse (503, saying what an administrator runs) before any byte is read, while no
    recovery key exists: a case created now would have no recovery wrap."""
    check_recovery_key(session)


def attach_files(
    session: Session, ctx: IntakeContext, case_id: uuid.UUID, case_key: DataKey,
    submission_id: uuid.UUID, files: list[ReceivedFile], upload_refs: list[str],
    now: datetime, key_case_id: uuid.UUID | None = None,
) -> list[FileOut]:
    """Attachment rows for streamed files and finished tus uploads, keys under ``case_key``,
    the key of ``key_case_id`` (the thread's key case; by default ``case_id``)."""
    key_case = key_case_id or case_id
    out: list[FileOut] = []
    rows: list[tuple[uuid.UUID, str | None, DataKey, dict[str, Any], int]] = [
        (f.attachment_id, f.blob_name, f.file_key, f.metadata(), f.ciphertext_size)
        for f in files
    ]
    for f in files:
        delete_on_rollback(session, ctx.storage, f.blob_name)
    if len(files) + len(upload_refs) > ctx.settings.max_files_per_submission:
        raise PayloadTooLarge(
            f"Too many files: at most {ctx.settings.max_files_per_submission} files can be "
            "sent with one submission."
        )
    claims = [claim_upload(session, ref, now) for ref in upload_refs]
    for claimed in claims:
        rows.append((claimed.attachment_id, claimed.blob_name, claimed.file_key,
                     dict(claimed.metadata), claimed.ciphertext_size))
    for attachment_id, blob_name, file_key, meta, ciphertext_size in rows:
        meta.setdefault("claimed_type", meta.pop("filetype", None))
        session.add(Attachment(
            id=attachment_id, case_id=case_id, submission_id=submission_id,
            key_case_id=key_case, blob_name=blob_name, ciphertext_size=ciphertext_size,
            created_at=day_floor(now),
            wrapped_file_key=contexts.wrap_file_key(case_key, key_case, attachment_id,
                                                    file_key),
            sealed_metadata=SealedJSON.seal(
                case_key, meta, contexts.attachment_metadata_context(key_case, attachment_id)
            ).ciphertext,
        ))
        out.append(FileOut(name=str(meta.get("filename") or ""), size=int(meta["size"]),
                           sha256=str(meta["sha256"]), type=str(meta["detected_type"])))
    session.flush()  # the attachment rows first: the uploads' parts move to them
    for claimed in claims:
        hand_over(session, claimed)
    return out


def create_submission(
    session: Session, ctx: IntakeContext, data: SubmissionIn, files: list[ReceivedFile],
    receipt: PreparedReceipt, now: datetime | None = None,
    replay: replays.ReplayKey | None = None,
) -> SubmissionOut:
    """Write a new case with its submission, files, receipt and key wraps (flush only).
    ``replay``: the submission's key, recorded first (:class:`replays.ReplayTaken` if
    another submission holds it)."""
    now = now or utcnow()
    if replay is not None:
        # First, so a concurrent replay waits on this row, not after a whole case.
        replays.claim(session, ctx.settings, replay, now)
    received_on: date = now.date()
    # Plaintext times are days only (threat model property 13): with an ISP's record of
    # who reached Tor when, an exact time would point at the submitter. The exact moment
    # is sealed in the payload (received_at) for staff who need it.
    day = day_floor(now)
    check_recovery_key(session)  # 503 before anything is written
    lawyer_key = None
    if ctx.lawyer_id is not None:
        lawyer_key = repository.lawyer_public_key(session, ctx.lawyer_id)
        if lawyer_key is None:
            raise BadRequest("Only an active lawyer account can submit on someone's behalf.")

    month, precision = coding.period_start(data)
    readers = [Reader(STAFF, user_id, public_key)
               for user_id, public_key in repository.intake_duty_recipients(session)]
    if ctx.lawyer_id is not None and lawyer_key is not None:
        readers.append(Reader(LAWYER, ctx.lawyer_id, lawyer_key))
    # create_case wraps the key to the recovery key and these readers.
    case, case_key = create_case(
        session, state=CaseState.NEW, received_on=received_on, at=day,
        region=data.where.region, urgency_reasons=coding.urgency_reasons(data, received_on),
        period_start_month=month, date_precision=precision, readers=readers,
    )
    # The submission is its own thread, sealed under this case's key for good; the receipt
    # is issued for it (and opens only this key).
    submission_id = uuid.uuid4()
    session.add(Submission(
        id=submission_id, case_id=case.id, thread_id=submission_id, key_case_id=case.id,
        received_on=received_on, channel=ctx.channel,
        submitter_role=data.reporter.role, categories=",".join(data.acts),
        language=data.language, consent_scopes=",".join(data.granted_scopes),
        is_followup=False, lawyer_id=ctx.lawyer_id, schema_version=SCHEMA_VERSION,
        payload=SealedJSON.seal(case_key, {**data.sealed_payload(),
                                           "received_at": now.isoformat()},
                                contexts.payload_context(case.id, submission_id)).ciphertext,
    ))
    session.flush()
    row = Receipt(case_id=case.id, submission_id=submission_id, lookup=receipt.code.lookup,
                  verifier=receipt.verifier, created_at=day)
    session.add(row)
    session.flush()
    wrap_to(session, case.id, case_key, kind=RECEIPT, recipient_id=row.id, kek=receipt.kek)
    out = attach_files(session, ctx, case.id, case_key, submission_id, files, data.uploads, now)
    metadata_statements.add(session, case, case_key, submission_id,
                            statements.of_submission(data), new_case=True)
    if replay is not None:
        replays.bind(session, replay, case.id)
    session.flush()
    return SubmissionOut(receipt=receipt.code.text, reference=case.reference, files=out)


def create_followup_submission(
    session: Session, ctx: IntakeContext, case: Case, thread: Submission, thread_key: DataKey,
    data: FollowupIn, files: list[ReceivedFile], now: datetime | None = None,
) -> list[FileOut]:
    """A follow-up Submission in the submitter's own thread (``thread``, the submission their
    receipt was issued for) on the case it is in now; sealed under the thread's key, so the
    submitter's receipt still opens it after a merge or split. The caller checked the case
    is open."""
    now = now or utcnow()
    submission_id = uuid.uuid4()
    key_case = thread.key_case_id
    session.add(Submission(
        id=submission_id, case_id=case.id, thread_id=thread.id, key_case_id=key_case,
        received_on=now.date(), channel=ctx.channel,
        submitter_role=thread.submitter_role, categories="",
        language=thread.language, consent_scopes="",
        is_followup=True, lawyer_id=None, schema_version=SCHEMA_VERSION,
        payload=SealedJSON.seal(thread_key, {**data.model_dump(mode="json", exclude={"uploads"}),
                                             "received_at": now.isoformat()},
                                contexts.payload_context(key_case, submission_id)).ciphertext,
    ))
    session.flush()
    out = attach_files(session, ctx, case.id, thread_key, submission_id, files, data.uploads,
                       now, key_case_id=key_case)
    if key_case == case.id:
        # The thread's key is the case's own, so the persons it names join the case's
        # metadata. After a merge or split the submitter holds only the key of the case
        # their thread was received in; their addition is then in the thread for staff.
        metadata_statements.add(session, case, thread_key, submission_id,
                                statements.of_followup(data))
    session.flush()
    return out


def honeypot_answer(received: ReceivedSubmission) -> SubmissionOut:
    """What a filled-in honeypot gets: plausible, and nothing behind it."""
    files = [FileOut(**s.out) for s in received.discarded if s.out is not None]
    return SubmissionOut(receipt=ReceiptCode.generate().text,
                         reference=new_reference(), files=files)


class Ahead(Protocol):
    """A receipt on its way: :meth:`hurry` raises it to ``priority`` and returns what to
    await (a :class:`Ticket`, or a receipt from the stock, ready)."""

    def hurry(self, priority: Priority) -> Awaitable[PreparedReceipt]: ...

    def cancel(self) -> None: ...


@dataclass
class _Ready:
    receipt: PreparedReceipt

    def hurry(self, priority: Priority) -> Awaitable[PreparedReceipt]:
        done: asyncio.Future[PreparedReceipt] = asyncio.get_running_loop().create_future()
        done.set_result(self.receipt)
        return done

    def cancel(self) -> None:
        pass


@dataclass
class _Stock:
    """Receipts hashed ahead for whoever submits next (``receipt_stock``), in this
    process's memory only: a small JSON submission (a tus upload's, above all) has no
    streaming time to hide its hash in, and would otherwise wait for a slot and a hash
    (seconds on a busy host). Refilled at :attr:`Priority.SPARE`, the lowest, one at a
    time; kept ``receipt_stock_seconds`` at most. A ready receipt names nothing until a
    submission stores its verifier."""

    ready: deque[tuple[float, PreparedReceipt]] = field(default_factory=deque)
    filling: Ticket[PreparedReceipt] | None = None

    def take(self, settings: Settings) -> PreparedReceipt | None:
        now = time.monotonic()
        while self.ready and self.ready[0][0] + settings.receipt_stock_seconds < now:
            self.ready.popleft()
        got = self.ready.popleft()[1] if self.ready else None
        self.refill(settings)
        return got

    def refill(self, settings: Settings) -> None:
        if self.filling is not None or len(self.ready) >= settings.receipt_stock:
            return
        self.filling = start_argon2(settings, prepare_receipt, settings,
                                    priority=Priority.SPARE)

        def stocked(task: asyncio.Task[PreparedReceipt]) -> None:
            self.filling = None
            if not task.cancelled() and task.exception() is None:
                self.ready.append((time.monotonic(), task.result()))
                self.refill(settings)

        self.filling.task.add_done_callback(stocked)


_STOCKS: dict[tuple[int, str], tuple[object, _Stock]] = {}


def receipt_stock(settings: Settings) -> _Stock:
    """This process's stock on the running loop (tests run several loops and profiles)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), settings.kdf_profile)
    entry = _STOCKS.get(key)
    if entry is None or entry[0] is not loop:
        entry = (loop, _Stock())
        _STOCKS[key] = entry
    return entry[1]


def _ahead(settings: Settings) -> Ahead:
    ready = receipt_stock(settings).take(settings) if settings.receipt_stock else None
    if ready is not None:
        return _Ready(ready)
    return start_argon2(settings, prepare_receipt, settings, priority=Priority.EARLY)


@contextlib.asynccontextmanager
async def receipt_ahead(settings: Settings) -> AsyncIterator[Ahead]:
    """The receipt, taken from the stock, or else its Argon2 started when the request
    begins at a low priority, so a body that streams for seconds (over Tor, minutes)
    finds its receipt ready at its last byte; :func:`submit` then raises it to a
    receipt's priority if it is still waiting. Withdrawn if the request ends without
    submitting. The receipt is random and names nothing until the submission's
    transaction stores its verifier."""
    ahead = _ahead(settings)
    try:
        yield ahead
    finally:
        ahead.cancel()


class ReceiptAhead:
    """:func:`receipt_ahead` for a request that knows only part-way through its body
    whether a receipt will be wanted (the web form: once its text fields are valid and
    its first file arrives): :meth:`start` then, :meth:`cancel` when the request ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ticket: Ahead | None = None

    def start(self) -> None:
        if self.ticket is None:
            self.ticket = _ahead(self.settings)

    def cancel(self) -> None:
        if self.ticket is not None:
            self.ticket.cancel()


class EarlierReportGone(Gone):
    code = "already_received_gone"
    default_message = (
        "A report was already sent with this form or key, and its case no longer exists. "
        "Nothing new was filed."
    )


class ReplayInProgress(Conflict):
    code = "already_receiving"
    default_message = (
        "A report with this form or key is being received right now. Wait a minute and "
        "send it again: it will then be answered, and nothing is filed twice."
    )


def already_received(earlier: replays.EarlierReport) -> SubmissionOut:
    """The answer to a replay: the case reference, never a receipt (none is stored)."""
    if earlier.reference is None:
        raise EarlierReportGone()
    return SubmissionOut(receipt=None, reference=earlier.reference, files=[],
                         already_received=True)


async def find_earlier(engine: Engine, replay: replays.ReplayKey
                       ) -> replays.EarlierReport | None:
    return await in_transaction(engine, lambda s: replays.find(s, replay, utcnow()))


def replay_key(settings: Settings, scope: str, key: str | None,
               received: ReceivedSubmission | None = None) -> replays.ReplayKey | None:
    """The replay key of a submission sent under ``key`` (None: no key). With
    ``received``, a later submission under the key must carry the same report."""
    if key is None:
        return None
    body = None
    if received is not None:
        body = replays.fingerprint(received.data, [f.sha256 for f in received.batch.files])
    return replays.derive(settings, scope, key, body)


async def submit(engine: Engine, ctx: IntakeContext, received: ReceivedSubmission,
                 early: Ahead | None = None, replay: replays.ReplayKey | None = None
                 ) -> SubmissionOut:
    """Store a received submission in one transaction, or delete its blobs and re-raise.
    ``early``: its receipt, started while the body streamed (:func:`receipt_ahead`).
    ``replay``: its key (:mod:`api.intake.replays`); a report already filed under it is
    answered with :func:`already_received` and nothing is stored."""
    try:
        if replay is not None and not received.is_honeypot:
            earlier = await find_earlier(engine, replay)
            if earlier is not None:
                await received.batch.discard()
                return already_received(earlier)
        if early is not None:
            # Shielded: a request cancelled here must not cancel a hash that has begun
            # (receipt_ahead withdraws it if it has not).
            receipt = await asyncio.shield(early.hurry(Priority.RECEIPT))
        else:
            receipt = await run_argon2(ctx.settings, prepare_receipt, ctx.settings,
                                       priority=Priority.RECEIPT)
        if received.is_honeypot:
            return honeypot_answer(received)
        files = list(received.batch.files)
        # Shielded: once the transaction runs, a cancelled request must not delete the
        # blobs of a submission that is about to be (or was) committed.
        with anyio.CancelScope(shield=True):
            try:
                out = await in_transaction(
                    engine, lambda s: create_submission(s, ctx, received.data, files,
                                                        receipt, replay=replay)
                )
            except replays.ReplayTaken:
                # A concurrent submission under the same key committed first.
                assert replay is not None
                earlier = await find_earlier(engine, replay)
                if earlier is None:
                    raise ReplayInProgress() from None
                await received.batch.discard()
                return already_received(earlier)
        return out
    except BaseException:
        with anyio.CancelScope(shield=True):
            await received.batch.discard()
        raise
