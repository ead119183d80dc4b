"""Clean copies cannot take the server down: limits before decoding, a capped child.

The limit checks are tested on :func:`api.cases.files.derivatives.strip` itself (they run before
anything is decoded, so a 169-megapixel image costs nothing here); the caps on the child
process through :func:`api.cases.files.clean_copy.make` and the clean-copy service, which start
the real child.
"""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session, select

from api.cases.files import attachments, clean_copy, derivatives
from api.cases.files.models import Attachment
from api.core.errors import InvalidInput, ServiceUnavailable
from api.core.settings import MiB, Settings
from api.storage import get_storage
from tests.cases.factory import Staff, make_case
from tests.cases.files.hostile_files import flat_png, lying_count_pdf, many_page_pdf

LIMITS = derivatives.Limits(max_bytes=64 * MiB, max_pixels=50_000_000, max_frames=10,
                            max_pages=100)


def _refused(data: bytes, media_type: str, limits: derivatives.Limits = LIMITS
             ) -> derivatives.Refused:
    with pytest.raises(derivatives.Refused) as exc:
        derivatives.strip(data, media_type, limits)
    return exc.value


# ---- limits checked before decoding (in this process, nothing is decoded) ----------------


def test_pixel_limit_is_read_from_the_header() -> None:
    bomb = flat_png(13000, 13000)  # 169 megapixels in about half a megabyte
    assert len(bomb) < 1 * MiB
    refused = _refused(bomb, "image/png")
    assert refused.reason == "pixels"
    assert refused.details == {"pixels": 169_000_000, "limit": 50_000_000}
    # Between 1x and 2x the limit Pillow only warns: that is a refusal too.
    refused = _refused(flat_png(8000, 8000), "image/png")
    assert refused.details == {"pixels": 64_000_000, "limit": 50_000_000}


def test_pixel_limit_boundary_and_metadata_removed() -> None:
    limits = derivatives.Limits(max_bytes=MiB, max_pixels=40 * 30, max_frames=1, max_pages=1)
    clean, removed = derivatives.strip(flat_png(40, 30, text=b"Author\x00Canary Name"),
                                       "image/png", limits)
    assert removed == ["Author"] and b"Canary" not in clean
    with Image.open(io.BytesIO(clean)) as img:
        assert img.size == (40, 30) and img.getpixel((39, 29)) == (127, 127, 127)
    assert _refused(flat_png(41, 30), "image/png", limits).details == {
        "pixels": 1230, "limit": 1200}


def test_orientation_applied_and_exif_dropped() -> None:
    img = Image.new("RGB", (32, 24), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated by 90 degrees
    exif[0x0110] = "CanaryCam"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    clean, removed = derivatives.strip(buf.getvalue(), "image/jpeg", LIMITS)
    assert "exif" in removed and b"CanaryCam" not in clean
    with Image.open(io.BytesIO(clean)) as out:
        assert out.size == (24, 32) and not out.getexif()


def test_only_the_detected_type_is_decoded() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    assert _refused(gif.getvalue(), "image/png").reason == "unreadable_image"


def test_frame_count_of_animated_images() -> None:
    frames = [Image.new("RGB", (8, 8), (i * 20, 0, 0)) for i in range(12)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    refused = _refused(buf.getvalue(), "image/gif")
    assert refused.reason == "frames" and refused.details == {"frames": 12, "limit": 10}
    # Under the limit: only the first frame is kept.
    clean, _ = derivatives.strip(buf.getvalue(), "image/gif",
                                 derivatives.Limits(MiB, 1000, 12, 1))
    with Image.open(io.BytesIO(clean)) as img:
        assert getattr(img, "n_frames", 1) == 1


def test_pdf_page_limit_before_pages_are_parsed() -> None:
    refused = _refused(many_page_pdf(300), "application/pdf")
    assert refused.reason == "pages" and refused.details == {"pages": 300, "limit": 100}
    # The page tree claims 100000 pages but holds one: refused on the claim, which shows
    # the count is taken before the pages are walked (walking them would find one).
    refused = _refused(lying_count_pdf(100_000), "application/pdf")
    assert refused.details == {"pages": 100_000, "limit": 100}
    clean, removed = derivatives.strip(many_page_pdf(100), "application/pdf", LIMITS)
    assert removed == ["xmp"] and len(PdfReader(io.BytesIO(clean)).pages) == 100


def test_input_size_limit() -> None:
    limits = derivatives.Limits(max_bytes=1000, max_pixels=10**9, max_frames=1, max_pages=1)
    refused = _refused(flat_png(2000, 2000) + b"\0" * 1000, "image/png", limits)
    assert refused.reason == "too_large" and refused.details == {"limit": 1000}


# ---- the capped child --------------------------------------------------------------------


def _settings(**values: object) -> Settings:
    return Settings.model_validate({"kdf_profile": "fast-insecure-for-tests", **values})


def _make(data: bytes, media_type: str, settings: Settings) -> tuple[bytes, list[str]]:
    out = bytearray()
    removed = clean_copy.make([data[i:i + 65536] for i in range(0, len(data), 65536)],
                              media_type, settings, out.extend)
    return bytes(out), removed


def test_child_memory_cap_refuses_an_image_under_the_pixel_limit() -> None:
    # 81 megapixels decode to 324 MiB (RGB is held as 4 bytes a pixel): under the pixel
    # limit, over the child's 256 MiB address space.
    settings = _settings(clean_copy_max_pixels=100_000_000,
                         clean_copy_memory_bytes=256 * MiB)
    with pytest.raises(InvalidInput) as exc:
        _make(flat_png(9000, 9000), "image/png", settings)
    assert exc.value.details["reason"] == "memory"
    assert "more memory" in exc.value.message and "256 MiB" in exc.value.message
    # The same child size cleans a normal image.
    clean, _ = _make(flat_png(300, 200), "image/png", settings)
    with Image.open(io.BytesIO(clean)) as img:
        assert img.size == (300, 200)


def test_child_wall_timeout() -> None:
    settings = _settings(clean_copy_timeout_seconds=0.3)
    start = time.monotonic()
    with pytest.raises(InvalidInput) as exc:
        _make(flat_png(7000, 7000), "image/png", settings)  # seconds of decode and encode
    assert exc.value.details["reason"] == "time" and "longer than allowed" in exc.value.message
    assert time.monotonic() - start < 5


def test_child_damaged_file_and_refusal_messages() -> None:
    settings = _settings()
    with pytest.raises(InvalidInput) as exc:
        _make(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png", settings)
    assert exc.value.status_code == 422
    assert exc.value.message.startswith("The file could not be processed")
    with pytest.raises(InvalidInput) as exc:
        _make(flat_png(13000, 13000), "image/png", settings)
    assert exc.value.message.startswith(
        "This image is too large to make a clean copy: 169 megapixels, limit 50.")


def test_concurrent_children_are_bounded() -> None:
    settings = _settings(clean_copy_max_concurrent=1, clean_copy_queue_seconds=0.2)
    slot = clean_copy._slot(1)
    assert slot.acquire(timeout=5)
    try:
        with pytest.raises(ServiceUnavailable) as exc:
            _make(flat_png(10, 10), "image/png", settings)
        assert exc.value.status_code == 503 and exc.value.headers["Retry-After"]
    finally:
        slot.release()
    assert _make(flat_png(10, 10), "image/png", settings)[0]


def test_child_can_write_no_file(tmp_path: Path) -> None:
    # The caps the child sets on itself: a file it opens stays empty (RLIMIT_FSIZE 0).
    target = tmp_path / "plaintext"
    caps = json.dumps({"memory_bytes": 256 * MiB, "cpu_seconds": 5,
                       "limits": LIMITS.as_json()})
    code = ("import json, os, sys\n"
            "from api.cases.files import clean_child\n"
            "clean_child._cap_self(json.loads(sys.argv[1]))\n"
            "fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT)\n"
            "try:\n    os.write(fd, b'testimony')\n"
            "except OSError as exc:\n    print(exc.errno)\n")
    done = subprocess.run([sys.executable, "-c", code, caps, str(target)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(errno.EFBIG)
    assert target.stat().st_size == 0


def test_child_gets_no_server_settings() -> None:
    env = clean_copy._child_env()
    assert set(env) == {"PATH", "PYTHONPATH", "LC_ALL"}
    assert "DOKAZ" not in " ".join(clean_copy._child_command(_settings()))


# ---- through the service, on both engines ------------------------------------------------


def _store_state(session: Session, settings: Settings) -> tuple[int, list[str]]:
    rows = len(session.exec(select(Attachment)).all())
    return rows, sorted(b.name for b in get_storage(settings).iter_blobs())


@pytest.mark.parametrize("case", ["pixels", "memory"])
def test_refused_clean_copy_leaves_nothing(session: Session, settings: Settings,
                                           staff: Staff, case: str) -> None:
    if case == "pixels":
        bomb, settings = flat_png(13000, 13000), settings
        expected = "This image is too large to make a clean copy: 169 megapixels, limit 50."
    else:
        bomb = flat_png(9000, 9000)
        settings = settings.model_copy(update={"clean_copy_max_pixels": 100_000_000,
                                               "clean_copy_memory_bytes": 256 * MiB})
        expected = "This file needs more memory to process than a clean copy may use"
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("bomb.png", "image/png", bomb)])
    session.commit()
    before = _store_state(session, settings)
    with pytest.raises(InvalidInput) as exc:
        attachments.make_derivative(session, staff.p("cw"), made.id, made.attachments[0],
                                    settings)
    session.rollback()
    assert exc.value.status_code == 422 and exc.value.message.startswith(expected)
    assert _store_state(session, settings) == before  # no row, no blob of a partial copy
    original = b"".join(attachments.download(session, staff.p("cw"), made.id,
                                             made.attachments[0], settings).chunks)
    assert original == bomb
