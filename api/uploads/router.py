"""``/api/v1/uploads``: resumable uploads, tus 1.0 (core, creation, creation-with-upload,
termination, expiration, checksum). See :mod:`api.uploads.service` for the storage model and
:mod:`api.uploads.capabilities` for the capability URL.

Every response carries ``Tus-Resumable: 1.0.0`` (:mod:`api.uploads.protocol` adds it,
errors included, and honours ``X-HTTP-Method-Override`` and the operator's CORS origins);
errors use the common JSON error shape with the status codes tus prescribes (409 offset
mismatch, 412 unsupported version, 415 wrong content type, 460 checksum mismatch, 404/410
unknown or expired, 501 for concatenation, which is not offered).

An empty file (``Upload-Length: 0``) is complete at its creation: tus clients send no
PATCH for it, so the creation stores its one (all-filler) part there and then.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import Engine
from sqlmodel import Session

from api.core.db import in_read_transaction, in_transaction
from api.core.dependencies import Config, DbEngine, app_engine, app_settings
from api.core.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    error_responses,
)
from api.ingress.admit import TUS_BYTES, Admission, Door, admission
from api.ingress.body import media_type
from api.ingress.files import TypeMismatch
from api.ingress.guards import (
    TUS_VERSION,
    ConcatenationNotOffered,
    TusVersionUnsupported,
    int_header,
    require_tus,
)
from api.storage.base import BlobStorage
from api.storage.dependencies import Storage, app_storage
from api.uploads import service
from api.uploads.capabilities import UploadCapability
from api.uploads.checksum import ALGORITHMS, Checksum, ChecksumMismatch
from api.uploads.dependencies import UploadLeases

EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
PREFIX = "/api/v1/uploads"

router = APIRouter(prefix=PREFIX, tags=["uploads"])



@dataclass(frozen=True)
class PatchStart:
    """A PATCH's headers read and its upload planned: what the door's AUTHORIZE step
    hands the route, and (offset, length) for the door's disk reservation."""

    plan: service.PatchPlan
    cap: UploadCapability | None
    checksum: Checksum | None

    @property
    def offset(self) -> int:
        return self.plan.offset

    @property
    def length(self) -> int:
        return self.plan.length


async def start_patch(request: Request) -> PatchStart:
    """The PATCH door's AUTHORIZE step: its content type, offset and checksum headers
    and the upload they name (404, 409 for a wrong offset), before any slot or disk is
    held for it."""
    if media_type(request.headers.get("content-type")) != TUS_BYTES:
        raise UnsupportedMediaType("PATCH bodies must be application/offset+octet-stream.")
    offset = int_header(request, "upload-offset")
    checksum = Checksum.parse(request.headers.get("upload-checksum"))
    cap = UploadCapability.parse(request.path_params["token"])
    settings = app_settings(request)
    plan = await in_read_transaction(app_engine(request),
                                     lambda s: service.plan_patch(s, settings, cap, offset))
    return PatchStart(plan, cap, checksum)


CreateAdmitted = Annotated[Admission[None], Depends(admission(Door.UPLOAD_CREATE))]
PatchAdmitted = Annotated[Admission[PatchStart],
                          Depends(admission(Door.UPLOAD_PATCH, start_patch))]


def _tus_headers(**extra: str) -> dict[str, str]:
    # Tus-Resumable is added to every response by api.uploads.protocol.
    return {"Cache-Control": "no-store", **extra}


def _expires(expires_at: datetime) -> str:
    return format_datetime(expires_at, usegmt=True)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing


_ERRORS = (BadRequest, NotFound, Conflict, TusVersionUnsupported, PayloadTooLarge,
           UnsupportedMediaType, ChecksumMismatch, RateLimited, ServiceUnavailable)


@router.options("", status_code=204, summary="tus capabilities")
def options(settings: Config) -> Response:
    return Response(status_code=204, headers=_tus_headers(
        **{"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
           "Tus-Max-Size": str(settings.max_file_bytes),
           "Tus-Checksum-Algorithm": ",".join(ALGORITHMS)}))


@router.post("", status_code=201, summary="Create an upload (tus creation, creation-with-upload)",
             responses=error_responses(*_ERRORS, ConcatenationNotOffered))
async def create(admitted: CreateAdmitted, request: Request) -> Response:
    # The app's parts read here, not as three more dependencies: FastAPI's resolving of
    # each was 3 % of a small file's creation-with-upload (the public port's most
    # frequent request; callgrind, bench/tus_peers.py's 64 KiB files).
    settings, engine, storage = app_settings(request), app_engine(request), app_storage(request)
    length = admitted.declared_length
    assert length is not None  # the door's disk guard read Upload-Length
    metadata = service.parse_metadata(request.headers.get("upload-metadata"))
    with_bytes = media_type(request.headers.get("content-type")) == TUS_BYTES
    if admitted.content_length and not with_bytes:
        raise BadRequest("Send the file's bytes with PATCH after creating the upload, or in "
                         "this request as application/offset+octet-stream.")
    checksum = Checksum.parse(request.headers.get("upload-checksum")) if with_bytes else None
    segment, plan = None, None
    if with_bytes or length == 0:
        # creation-with-upload: the first bytes are a PATCH at offset 0, stored with the
        # row in one transaction (one request and one commit fewer for a small file). An
        # empty file is complete here: its clients never send a PATCH.
        upload, cap, plan = service.new_upload_with_bytes(settings, length, metadata)
        body = admitted.stream() if with_bytes else _nothing()
        segment = await service.receive_segment(plan, body, storage, checksum)
    else:
        upload, cap = service.new_upload(settings, length, metadata)

    def work(session: Session) -> int:
        if plan is None or segment is None:
            service.add_upload(session, upload)
            return 0
        return service.commit_segment(session, storage, plan, segment, new=upload)

    with anyio.CancelScope(shield=True):  # the client may be gone; keep what arrived
        try:
            new_offset = await in_transaction(engine, work)
        except BaseException:
            if segment is not None:
                await anyio.to_thread.run_sync(segment.discard, storage)
            raise
    headers = {"Location": f"{PREFIX}/{cap.token}",
               "Upload-Expires": _expires(upload.expires_at)}
    if plan is not None:
        headers["Upload-Offset"] = str(new_offset)
    return Response(status_code=201, headers=_tus_headers(**headers))


@router.head("/{token}", summary="Current offset (tus core)",
             responses=error_responses(NotFound, Conflict, TusVersionUnsupported))
async def head(request: Request, token: str, engine: DbEngine) -> Response:
    require_tus(request)
    cap = UploadCapability.parse(token)

    def work(session: Session) -> dict[str, str]:
        upload = service.look_up(session, cap)
        assert cap is not None  # look_up raised UploadNotFound otherwise
        length, offset = service.progress(upload, cap)
        return {"Upload-Offset": str(offset), "Upload-Length": str(length),
                "Upload-Expires": _expires(upload.expires_at)}

    values = await in_read_transaction(engine, work)
    return Response(status_code=200, headers=_tus_headers(**values))


@router.patch("/{token}", status_code=204, summary="Append bytes (tus core, checksum)",
              responses=error_responses(*_ERRORS))
async def patch(admitted: PatchAdmitted, token: str, storage: Storage, engine: DbEngine,
                leases: UploadLeases) -> Response:
    plan, cap, checksum = (admitted.authorized.plan, admitted.authorized.cap,
                           admitted.authorized.checksum)
    offset = plan.offset
    # One PATCH at a time per upload: a second one (a retry while the first still streams,
    # or a hostile client) would only race the first for the same offset.
    name = f"upload:{plan.cap.upload_id}"
    held = leases.acquire(name)
    if held is None:
        raise Conflict("Another PATCH to this upload is still in progress. Wait for it to "
                       "finish or fail, then ask for the offset with HEAD and go on from there.")
    try:
        return await _receive(plan, offset, storage, engine, checksum, cap,
                              renewing(admitted.stream(), lambda: leases.renew(name, held),
                                       leases.ttl / 4))
    finally:
        leases.release(name, held)


async def renewing(chunks: AsyncIterator[bytes], renew: Callable[[], None],
                   every: float) -> AsyncIterator[bytes]:
    """``chunks``, renewing the upload's hold while bytes keep arriving, at most once
    every ``every`` seconds: with Redis a renewal is a round trip on the event loop, and
    per chunk (64-256 KiB) it was one per few hundred microseconds of upload."""
    renewed = time.monotonic()
    async for chunk in chunks:
        now = time.monotonic()
        if now - renewed >= every:
            renew()
            renewed = now
        yield chunk


async def _receive(plan: service.PatchPlan, offset: int,
                   storage: BlobStorage, engine: Engine, checksum: Checksum | None,
                   cap: UploadCapability | None, chunks: AsyncIterator[bytes]) -> Response:
    try:
        segment = await service.receive_segment(plan, chunks, storage, checksum)
    except TypeMismatch:
        # The first bytes are not what the client said: the whole upload goes.
        with anyio.CancelScope(shield=True):
            await in_transaction(engine, lambda s: _delete(s, storage, cap))
        raise
    expires = _expires(plan.expires_at)
    if segment is None:
        return Response(status_code=204, headers=_tus_headers(
            **{"Upload-Offset": str(offset), "Upload-Expires": expires}))
    with anyio.CancelScope(shield=True):  # the client may be gone; keep what arrived
        try:
            new_offset = await in_transaction(
                engine, lambda s: service.commit_segment(s, storage, plan, segment))
        except BaseException:
            await anyio.to_thread.run_sync(segment.discard, storage)
            raise
    return Response(status_code=204, headers=_tus_headers(
        **{"Upload-Offset": str(new_offset), "Upload-Expires": expires}))


def _delete(session: Session, storage: BlobStorage, cap: UploadCapability | None
            ) -> None:
    service.delete_upload(session, storage, service.load_upload(session, cap))


@router.delete("/{token}", status_code=204, summary="Delete an upload (tus termination)",
               responses=error_responses(NotFound, TusVersionUnsupported))
async def delete(request: Request, token: str, storage: Storage, engine: DbEngine
                 ) -> Response:
    require_tus(request)
    cap = UploadCapability.parse(token)
    await in_transaction(engine, lambda s: _delete(s, storage, cap))
    return Response(status_code=204, headers=_tus_headers())
