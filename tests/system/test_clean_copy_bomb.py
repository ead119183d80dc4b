"""A decompression bomb sent as testimony cannot take the API server down.

On a real ``python -m api serve``: a 169-megapixel PNG of about half a megabyte is
submitted through the public API, then a caseworker asks for its clean copy. Before the
child process and the header checks, that request raised the server from about 200 MiB to
2.5 GiB and held it for 12.7 s. Now it must get a clear 422 quickly, the server's peak
resident memory (VmHWM, the high-water mark over its whole life) must stay under 300 MiB,
the store must be unchanged, and a normal JPEG in the same submission must still get its
clean copy. The same again with the pixel limit raised above the image, so the header
check lets it through: then the child decodes it, hits its own memory cap, and the answer
is still a 422 while the server's memory stays where it was.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlmodel import Session

from api.auth.roles import Role
from tests.cases.factory import jpeg_with_gps
from tests.cases.files.hostile_files import flat_png
from tests.factories import create_recovery_key_text, create_staff, sample_report
from tests.system.live import deployment, mint_token, store_snapshot
from tests.system.traffic import multipart_body

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
PEAK_RSS_LIMIT = 300 * MiB
MESSAGES = {
    "pixels": "This image is too large to make a clean copy: 169 megapixels, limit 50.",
    "memory": "This file needs more memory to process than a clean copy may use (1024 MiB)",
}


@pytest.mark.parametrize(("kind", "stopped_by"), [
    ("sqlite", "pixels"), ("postgresql", "pixels"), ("sqlite", "memory")])
def test_bomb_png_clean_copy_is_refused_and_server_memory_stays_low(
        kind: str, stopped_by: str, tmp_path: Path) -> None:
    bomb = flat_png(13000, 13000)
    assert len(bomb) < 600 * 1024
    with deployment(kind, tmp_path) as dep:
        with Session(dep.engine, expire_on_commit=False) as s:
            create_recovery_key_text(s)
            cw = create_staff(s, Role.CASEWORKER, on_intake_duty=True)
        # 169 MP decode to 676 MiB (4 bytes a pixel), twice that while copied: over 1 GiB.
        if stopped_by == "memory":
            dep.env_overrides.update({"DOKAZ_CLEAN_COPY_MAX_PIXELS": "200000000",
                                      "DOKAZ_CLEAN_COPY_MEMORY_BYTES": str(1024 * MiB)})
        api = dep.start_api()
        staff = {"Authorization": f"Bearer {mint_token(dep.engine, dep.settings, cw)}"}
        with httpx.Client(base_url=api.url, timeout=120) as client:
            ctype, body = multipart_body(
                [("submission", json.dumps(sample_report()))],
                [("files", "bomb.png", bomb), ("files", "photo.jpg", jpeg_with_gps())])
            sent = client.post("/api/v1/submissions", content=body,
                               headers={"Content-Type": ctype})
            assert sent.status_code == 201, sent.text
            case_id = client.get("/api/v1/cases", headers=staff).json()["items"][0]["id"]
            case = client.get(f"/api/v1/cases/{case_id}", headers=staff).json()
            by_name = {a["metadata"]["filename"]: a["id"] for a in case["attachments"]}
            url = f"/api/v1/cases/{case_id}/attachments"
            before = store_snapshot(dep.engine, dep.settings)

            start = time.monotonic()
            r = client.post(f"{url}/{by_name['bomb.png']}/derivatives", headers=staff)
            took = time.monotonic() - start
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["message"].startswith(MESSAGES[stopped_by])
            assert error["details"]["reason"] == stopped_by
            assert took < 10, took
            peak = api.peak_rss_bytes()
            assert 0 < peak < PEAK_RSS_LIMIT, f"API peak RSS {peak / MiB:.0f} MiB"
            assert store_snapshot(dep.engine, dep.settings) == before
            assert api.proc.poll() is None

            # The original is untouched and the server still makes normal clean copies.
            dl = client.get(f"{url}/{by_name['bomb.png']}", headers=staff)
            assert dl.status_code == 200 and dl.content == bomb
            made = client.post(f"{url}/{by_name['photo.jpg']}/derivatives", headers=staff)
            assert made.status_code == 201, made.text
            clean = client.get(f"{url}/{made.json()['id']}", headers=staff).content
            with Image.open(io.BytesIO(clean)) as img:
                assert not img.getexif() and img.size == (32, 24)
            assert api.peak_rss_bytes() < PEAK_RSS_LIMIT
