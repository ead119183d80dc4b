"""Streamed downloads, tamper detection, and metadata-stripped derivatives."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from PIL import Image
from sqlmodel import Session

from api.cases.files import attachments, derivatives
from api.cases.files.models import Attachment
from api.core.errors import Conflict
from api.core.settings import Settings
from api.storage import get_storage
from crypto.stream import ciphertext_size
from tests.cases.factory import Staff, jpeg_with_gps, make_case

LIMITS = derivatives.Limits(max_bytes=1 << 20, max_pixels=1_000_000, max_frames=10,
                            max_pages=10)


def test_stream_round_trip_and_tamper(session: Session, settings: Settings,
                                      staff: Staff) -> None:
    data = bytes(range(256)) * 1000  # several 64 KiB records
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("report ü.pdf", "application/pdf", data)])
    dl = attachments.download(session, staff.p("cw"), made.id, made.attachments[0], settings)
    headers = dl.headers()
    assert headers["Content-Disposition"].startswith('attachment; filename="dokaz-')
    assert "filename*=UTF-8''report%20%C3%BC.pdf" in headers["Content-Disposition"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"".join(dl.chunks) == data
    session.rollback()

    # Flip one byte in the third record: the stream starts, then stops with an error.
    att = session.get(Attachment, made.attachments[0])
    assert att is not None
    path = get_storage(settings)._path(att.blob_name)  # type: ignore[attr-defined]
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    raw[25 + 2 * (64 * 1024 + 16) + 5] ^= 1
    _write(path, raw)
    dl = attachments.download(session, staff.p("cw"), made.id, made.attachments[0], settings)
    got = bytearray()
    with pytest.raises(Exception) as exc:
        for chunk in dl.chunks:
            got += chunk
    assert "authentication" in str(exc.value)
    assert len(got) == 2 * 64 * 1024  # only authenticated records came out
    session.rollback()
    # A damaged first record is refused before any byte is sent.
    raw[30] ^= 1
    _write(path, raw)
    with pytest.raises(attachments.IntegrityFailure):
        attachments.download(session, staff.p("cw"), made.id, made.attachments[0], settings)


def _write(path: str, data: bytearray) -> None:
    with open(path, "wb") as f:
        f.write(data)


def test_jpeg_derivative_drops_exif_gps(session: Session, settings: Settings,
                                        staff: Staff) -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the fixture really carries GPS
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("protest.jpg", "image/jpeg", original)])
    blob_before = _blob(session, settings, made.attachments[0])
    att, meta = attachments.make_derivative(session, staff.p("cw"), made.id,
                                            made.attachments[0], settings)
    session.commit()
    assert att.kind == "derivative" and att.derived_from_id == made.attachments[0]
    assert meta["derived_from_sha256"] and "exif" in meta["removed"]
    assert meta["filename"] == "protest-clean.jpg"
    clean = b"".join(attachments.download(session, staff.p("cw"), made.id, att.id,
                                          settings).chunks)
    with Image.open(io.BytesIO(clean)) as img:
        assert not img.getexif() and "exif" not in img.info and "comment" not in img.info
        assert img.size == (32, 24)
    assert b"CanaryCam" not in clean and b"canary comment" not in clean
    # The original is untouched, byte for byte, and still decrypts to the same file.
    assert _blob(session, settings, made.attachments[0]) == blob_before
    assert b"".join(attachments.download(session, staff.p("cw"), made.id,
                                         made.attachments[0], settings).chunks) == original
    with pytest.raises(Conflict):  # copies are made from originals only
        attachments.make_derivative(session, staff.p("cw"), made.id, att.id, settings)


def _blob(session: Session, settings: Settings, att_id: object) -> bytes:
    att = session.get(Attachment, att_id)
    assert att is not None
    assert att.blob_name is not None
    with get_storage(settings).open_reader(att.blob_name) as f:
        return f.read()


def test_pdf_and_office_stripping() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_metadata({"/Author": "Canary Author", "/Creator": "CanaryWriter"})
    buf = io.BytesIO()
    writer.write(buf)
    clean, removed = derivatives.strip(buf.getvalue(), "application/pdf", LIMITS)
    assert "info" in removed and b"Canary" not in clean
    assert len(PdfReader(io.BytesIO(clean)).pages) == 1

    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/core.xml", "<cp:coreProperties><dc:creator>Canary Author"
                                        "</dc:creator></cp:coreProperties>")
        z.writestr("word/document.xml", "<w:document>text</w:document>")
    media = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    clean, removed = derivatives.strip(docx.getvalue(), media, LIMITS)
    assert removed == ["docProps/core.xml"]
    with zipfile.ZipFile(io.BytesIO(clean)) as z:
        assert b"Canary" not in z.read("docProps/core.xml")
        assert z.read("word/document.xml") == b"<w:document>text</w:document>"
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with pytest.raises(derivatives.Refused) as refused:
        derivatives.strip(b"x", "video/mp4", LIMITS)
    assert refused.value.reason == "unsupported"


def test_padded_blobs_and_exact_downloads(session: Session, settings: Settings,
                                          staff: Staff) -> None:
    # 1030 and 1080 bytes share a Padmé bucket: their blobs have one size, while each
    # download is exactly the original with its exact Content-Length.
    files = [(f"f{n}.bin", "application/octet-stream", bytes([7]) * n) for n in (1030, 1080)]
    made = make_case(session, settings, wrap_to=[staff.cw], files=files)
    sizes = set()
    for att_id, (_, _, data) in zip(made.attachments, files, strict=True):
        blob = _blob(session, settings, att_id)
        att = session.get(Attachment, att_id)
        assert att is not None and blob[:5] == b"DKZF\x02"
        assert len(blob) == att.ciphertext_size
        sizes.add(att.ciphertext_size)
        dl = attachments.download(session, staff.p("cw"), made.id, att_id, settings)
        assert dl.headers()["Content-Length"] == str(len(data))
        assert b"".join(dl.chunks) == data
    assert len(sizes) == 1


def test_clean_copy_is_padded_too(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("protest.jpg", "image/jpeg", jpeg_with_gps())])
    att, meta = attachments.make_derivative(session, staff.p("cw"), made.id,
                                            made.attachments[0], settings)
    session.commit()
    blob = _blob(session, settings, att.id)
    assert blob[:5] == b"DKZF\x02"
    assert len(blob) == att.ciphertext_size == ciphertext_size(meta["size"])
    dl = attachments.download(session, staff.p("cw"), made.id, att.id, settings)
    clean = b"".join(dl.chunks)
    assert len(clean) == meta["size"] and dl.size == meta["size"]
    assert hashlib.sha256(clean).hexdigest() == meta["sha256"]
