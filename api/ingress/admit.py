"""The admission table: what every public door checks before its body is read.

Each public route that takes a body is one :class:`Door`; :data:`POLICIES` says, for
each, which guards run and in what order (the order is behaviour: it decides which
refusal a doubly-bad request gets, and that a refused request costs nothing). A route
takes its admission as a FastAPI dependency::

    Admitted = Annotated[Admission[None], Depends(admission(Door.UPLOAD_PATCH))]

and reads its body only through :meth:`Admission.stream` (the body deadline, and the
progress that keeps its upload slots and disk reservation alive and re-checks the disk).
What a request holds (:class:`api.ingress.inflight.Held`) is given back when the request
ends, however it ends: the dependency releases it after the route, and a refusal inside
:func:`admit` releases what the earlier steps took.

The route-side checks that need a feature's knowledge (a lawyer's token, a follow-up
session, the upload a tus PATCH names) are handed in as ``authorize`` and run where the
table puts :attr:`Step.AUTHORIZE`, so the order stays declared here too.

Doors of the HTML pages keep a refusal on the admission (``refusal``) instead of raising
it, so the page can explain it in the person's language; :meth:`Admission.stream` and
:meth:`Admission.check` raise it, so a page that forgets to look cannot read the body.
"""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, cast, overload, runtime_checkable

from fastapi import Request

from api.core.db import in_transaction
from api.core.dependencies import app_engine, app_settings
from api.core.errors import DokazError, PayloadTooLarge
from api.core.settings import MiB, Settings
from api.ingress import guards, origin
from api.ingress.body import media_type
from api.ingress.guards import Guards
from api.ingress.inflight import SLOT_SECONDS, Held, body_need, patch_need
from api.ingress.multipart import mb
from api.keys.service import check_recovery_key
from api.storage.dependencies import app_storage

A = TypeVar("A")

# The content type of tus bytes (a PATCH, or a creation that carries the first bytes).
TUS_BYTES = "application/offset+octet-stream"


class Door(enum.Enum):
    """The public routes that take a body, named by method and path."""

    SUBMISSION = "POST /api/v1/submissions"  # a report, JSON or multipart with files
    UPLOAD_CREATE = "POST /api/v1/uploads"  # tus creation (no body; declares a length)
    UPLOAD_PATCH = "PATCH /api/v1/uploads/{token}"  # tus bytes
    FOLLOWUP_SESSION = "POST /api/v1/followup/session"  # receipt sign-in (Argon2id)
    FOLLOWUP_MESSAGE = "POST /api/v1/followup/messages"
    FOLLOWUP_ADDITION = "POST /api/v1/followup/additions"  # text and files, JSON or multipart
    WEB_REPORT = "POST /report"  # the report form
    WEB_FOLLOWUP = "POST /followup"  # receipt sign-in and messages from the pages
    WEB_FOLLOWUP_FILES = "POST /followup/files"


class Step(enum.Enum):
    HEADERS = "header bytes within max_header_bytes (431)"
    SAME_SITE = "a page form posted from this site, by Sec-Fetch-Site and Origin (403)"
    TUS = "Tus-Resumable: 1.0.0 (412)"
    AUTHORIZE = "the route's own credential check, at this point"
    INTAKE_RATE = "the global intake rate (503), then the client's submissions (429)"
    CLIENT_RATE = "the client's submissions (429)"
    UPLOAD_RATE = "the uploads the client started (429)"
    SIZE = ("the declared length within max_submission_bytes, or a tus Upload-Length within "
            "max_file_bytes (413)")
    UPLOADS = ("an upload slot while a body that may carry files streams (a tus PATCH, "
               "multipart): the client's (429), everyone's (503)")
    DISK = ("the bytes the body can leave on disk reserved above the free-space floor "
            "(503), re-checked while they arrive")
    RECOVERY_KEY = "an organisation recovery key exists (503)"


class Declared(enum.Enum):
    """Which header says how many bytes are coming (for the size and disk guards)."""

    CONTENT_LENGTH = "content-length"
    UPLOAD_LENGTH = "upload-length"  # tus creation: the whole file, sent later by PATCH
    # A tus PATCH: the bytes it may still send (Content-Length, at most what the upload
    # lacks) and, if it may complete the upload, the filler of its last part; read from
    # what the door's AUTHORIZE hook returned (a TusProgress).
    TUS_PATCH = "tus-patch"


@runtime_checkable
class TusProgress(Protocol):
    """Where a tus upload stands (``api.uploads`` plans a PATCH with one of these)."""

    @property
    def offset(self) -> int: ...

    @property
    def length(self) -> int: ...


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]
    declared: Declared = Declared.CONTENT_LENGTH
    # The route reads the body itself through Admission.stream (with the body deadline);
    # False where FastAPI parses a small JSON model before the route runs.
    streams: bool = True
    # An HTML page: refusals are kept for the page to render (see the module docstring).
    page: bool = False

    def __post_init__(self) -> None:
        # A tus creation's length is read (and bounded) at SIZE; the disk check needs it.
        if self.declared is Declared.UPLOAD_LENGTH and Step.DISK in self.steps and (
                Step.SIZE not in self.steps
                or self.steps.index(Step.SIZE) > self.steps.index(Step.DISK)):
            raise ValueError("an Upload-Length door must check SIZE before DISK")
        # A PATCH's length is known only from its upload, which AUTHORIZE reads.
        if self.declared is Declared.TUS_PATCH and (
                Step.AUTHORIZE not in self.steps or Step.DISK not in self.steps
                or self.steps.index(Step.AUTHORIZE) > self.steps.index(Step.DISK)):
            raise ValueError("a tus PATCH door must AUTHORIZE (read its upload) before DISK")
        # Slots before the disk: a client over its slots must not reserve disk first.
        if Step.UPLOADS in self.steps and Step.DISK in self.steps \
                and self.steps.index(Step.UPLOADS) > self.steps.index(Step.DISK):
            raise ValueError("UPLOADS goes before DISK")


HEADERS, TUS, AUTHORIZE, UPLOADS, DISK = (Step.HEADERS, Step.TUS, Step.AUTHORIZE,
                                          Step.UPLOADS, Step.DISK)
SAME_SITE = Step.SAME_SITE

POLICIES: dict[Door, Policy] = {
    # The lawyer's token is checked after the cheap guards (a flood of bad tokens is rate
    # limited), the recovery key last: with no recovery key nothing is accepted.
    Door.SUBMISSION: Policy((HEADERS, Step.INTAKE_RATE, Step.SIZE, UPLOADS, DISK,
                             AUTHORIZE, Step.RECOVERY_KEY)),
    # The recovery key is checked in the creating transaction (api.uploads.service).
    # An Upload-Length over the file limit is 413 before the disk is even looked at; the
    # disk must have room for the file (as parts, padded) beside every reservation. A
    # creation without bytes reserves nothing (each PATCH reserves its own); one that
    # carries the first bytes (tus creation-with-upload) holds a slot and reserves them
    # as a PATCH would.
    Door.UPLOAD_CREATE: Policy((HEADERS, TUS, Step.UPLOAD_RATE, Step.SIZE, UPLOADS, DISK),
                               declared=Declared.UPLOAD_LENGTH),
    # A PATCH is bounded by its upload's declared length while it arrives
    # (api.uploads.service.receive_segment). AUTHORIZE is the route's reading of the
    # upload (404, 409 for a wrong offset), which says how much this PATCH may bring.
    Door.UPLOAD_PATCH: Policy((HEADERS, TUS, AUTHORIZE, UPLOADS, DISK),
                              declared=Declared.TUS_PATCH),
    # Wrong receipts are limited per client in the service: only failures count.
    Door.FOLLOWUP_SESSION: Policy((HEADERS,), streams=False),
    Door.FOLLOWUP_MESSAGE: Policy((HEADERS,), streams=False),
    # The session is checked first: an ended session costs no submission.
    Door.FOLLOWUP_ADDITION: Policy((HEADERS, AUTHORIZE, Step.CLIENT_RATE, UPLOADS, DISK)),
    # Pages: a post from another site is refused before any budget is spent on it. The
    # recovery key is checked by the page after the text arrived, so the person gets
    # their text back (api.web.router).
    Door.WEB_REPORT: Policy((HEADERS, SAME_SITE, Step.INTAKE_RATE, UPLOADS, DISK), page=True),
    # A small urlencoded form (api.web.receive.read_small_form bounds it).
    Door.WEB_FOLLOWUP: Policy((HEADERS, SAME_SITE), page=True),
    Door.WEB_FOLLOWUP_FILES: Policy((HEADERS, SAME_SITE, UPLOADS, DISK), page=True),
}


@dataclass
class Admission(Generic[A]):
    """A request let in through its door, with what the route needs next."""

    door: Door
    settings: Settings
    guards: Guards
    client: str | None  # the client's tag for rate limits (guards.client_tag); None: none
    content_type: str | None
    content_length: int | None
    declared_length: int | None  # by Content-Length or, for a tus creation, Upload-Length
    authorized: A  # what the route's authorize hook returned (None without one)
    refusal: DokazError | None = None  # page doors only
    held: Held | None = None  # upload slots and disk reservation while the body streams
    _request: Request | None = field(default=None, repr=False)

    def check(self) -> None:
        """Raise the refusal a page door kept, if any."""
        if self.refusal is not None:
            raise self.refusal

    def stream(self) -> AsyncIterator[bytes]:
        """The body, with the deadline for the whole of it (``request_body_timeout_seconds``)."""
        self.check()
        if not POLICIES[self.door].streams or self._request is None:
            raise RuntimeError(f"{self.door.value}: the admission table does not stream it")
        chunks = guards.timed_stream(self._request, self.settings)
        return chunks if self.held is None else _reporting(chunks, self.held)

    def release(self) -> None:
        """Give back the upload slots and the disk reservation (safe to call twice)."""
        if self.held is not None:
            self.held.release()


async def _reporting(chunks: AsyncIterator[bytes], held: Held) -> AsyncIterator[bytes]:
    """``chunks``, reporting them to ``held``: it renews the slots and the reservation and
    stops the body (503) if the disk has filled below the floor meanwhile. Once the last
    byte is in, the upload slots go back (the reservation stays until the request ends).

    A slot's silence is the client's only while the server waits for bytes: when the
    route starts reading, and whenever it comes back after a second or more of its own
    work between chunks, the slot's clock restarts (:meth:`Held.reading`)."""
    iterator = chunks.__aiter__()
    held.reading()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            break
        held.progress(len(chunk))
        handed = time.monotonic()
        yield chunk
        if time.monotonic() - handed >= SLOT_SECONDS:
            held.reading()
    held.body_received()


async def admit(request: Request, door: Door,
                authorize: Callable[[Request], Awaitable[A]] | None = None) -> Admission[A]:
    """Run ``door``'s guards in the table's order; raise (or, for a page, keep) a refusal."""
    policy = POLICIES[door]
    length = guards.content_length(request)
    admission: Admission[A] = Admission(
        door=door, settings=app_settings(request), guards=guards.guards_for(request),
        client=guards.client_tag(request), content_type=request.headers.get("content-type"),
        content_length=length, declared_length=length, authorized=cast(A, None),
        _request=request,
    )
    try:
        await _run_steps(request, policy, admission, authorize)
    except DokazError as exc:
        admission.release()  # what earlier steps took: the body will not be read
        if not policy.page:
            raise
        admission.refusal = exc
    except BaseException:
        admission.release()
        raise
    return admission


async def _run_steps(request: Request, policy: Policy, admission: Admission[A],
                     authorize: Callable[[Request], Awaitable[A]] | None) -> None:
    settings = admission.settings
    for step in policy.steps:
        if step is Step.HEADERS:
            guards.check_headers(request, settings)
        elif step is Step.SAME_SITE:
            origin.check_same_site(request.headers)
        elif step is Step.TUS:
            guards.require_tus(request)
        elif step is Step.AUTHORIZE:
            assert authorize is not None  # admission() checks it against the table
            admission.authorized = await authorize(request)
        elif step is Step.INTAKE_RATE:
            guards.check_intake_rate(admission.guards, admission.client)
        elif step is Step.CLIENT_RATE:
            guards.check_rate(admission.guards.per_client, admission.client)
        elif step is Step.UPLOAD_RATE:
            guards.check_rate(admission.guards.uploads_per_client, admission.client,
                              "Too many uploads started in a short time; please wait a "
                              "little.")
        elif step is Step.SIZE:
            if policy.declared is Declared.UPLOAD_LENGTH:
                admission.declared_length = guards.upload_length(request)
                guards.check_file_size(settings, admission.declared_length)
            else:
                _check_size(settings, admission.declared_length)
        elif step is Step.UPLOADS:
            if _carries_files(policy, admission.content_type):
                admission.held = admission.held or Held(admission.guards.inflight,
                                                        settings)
                admission.held.take_slots(
                    admission.client, reclaimable=policy.declared is Declared.TUS_PATCH)
        elif step is Step.DISK:
            _reserve(request, policy, admission)
        elif step is Step.RECOVERY_KEY:
            await in_transaction(app_engine(request), check_recovery_key)


def _carries_files(policy: Policy, content_type: str | None) -> bool:
    if policy.declared is Declared.UPLOAD_LENGTH:  # a tus creation: bytes only with this type
        return media_type(content_type) == TUS_BYTES
    return policy.declared is Declared.TUS_PATCH \
        or media_type(content_type) == "multipart/form-data"


def _reserve(request: Request, policy: Policy, admission: Admission[A]) -> None:
    """The DISK step: reserve what the body can leave on disk (see api.ingress.inflight)."""
    settings, storage = admission.settings, app_storage(request)
    inflight = admission.guards.inflight
    if policy.declared is Declared.UPLOAD_LENGTH:
        # Its file (its parts, padded) must fit now; the first bytes, if the creation
        # carries them, are reserved like a PATCH's.
        length = admission.declared_length or 0
        inflight.check_room(settings, storage, patch_need(length, 0, None))
        if not _carries_files(policy, admission.content_type):
            return
        need = patch_need(length, 0, admission.content_length)
        admission.held = admission.held or Held(inflight, settings)
        admission.held.reserve(storage, need)
        return
    if policy.declared is Declared.TUS_PATCH:
        progress = admission.authorized
        if not isinstance(progress, TusProgress):
            raise TypeError(f"{admission.door.value}: AUTHORIZE must return a TusProgress")
        need = patch_need(progress.length, progress.offset, admission.content_length)
    else:
        # Without a declared length the body reserves a first stretch and more as it
        # arrives (api.ingress.inflight.Held.renew).
        declared = admission.declared_length
        need = body_need(settings, declared if declared is not None else 16 * MiB)
    admission.held = admission.held or Held(inflight, settings)
    admission.held.reserve(storage, need)


def _check_size(settings: Settings, declared: int | None) -> None:
    limit = settings.max_submission_bytes
    if declared is not None and declared > limit:
        raise PayloadTooLarge(
            f"The upload is larger than the limit of {mb(limit)} for one submission. Nothing "
            "was saved; send fewer or smaller files, or use resumable uploads."
        )


class Admit(Generic[A]):
    """The FastAPI dependency of one door (see :func:`admission`)."""

    def __init__(self, door: Door,
                 authorize: Callable[[Request], Awaitable[A]] | None = None) -> None:
        if (Step.AUTHORIZE in POLICIES[door].steps) != (authorize is not None):
            raise ValueError(f"{door.value}: an authorize hook goes with Step.AUTHORIZE")
        self.door = door
        self.authorize = authorize

    async def __call__(self, request: Request) -> AsyncIterator[Admission[A]]:
        # A dependency with yield: what the admission holds is released once the route
        # is done with the body, whether it returned, raised or was cancelled.
        admission = await admit(request, self.door, self.authorize)
        try:
            yield admission
        finally:
            admission.release()


@overload
def admission(door: Door) -> Admit[None]: ...


@overload
def admission(door: Door, authorize: Callable[[Request], Awaitable[A]]) -> Admit[A]: ...


def admission(door: Door, authorize: Callable[[Request], Awaitable[A]] | None = None
              ) -> Admit[A] | Admit[None]:
    """The dependency that admits a request through ``door`` (``Depends(admission(...))``)."""
    return Admit(door, authorize)
