"""A tus upload through a real ``dokaz serve`` (uvicorn with api/core/server.py's protocol,
SQLite with the engine's idle keeper connection): the bytes that arrive in many reads,
handed to the app as the parser made them or joined, are exactly the file's bytes."""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.core import migrations
from api.core.db import make_engine
from api.core.settings import Settings
from api.keys.service import create_recovery_key
from api.uploads import capabilities, service
from tests.foundation.serve import wait_healthy

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.mark.slow
def test_patches_through_the_served_protocol_keep_every_byte(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    env = dict(os.environ, DOKAZ_DATA_DIR=str(data_dir), DOKAZ_MIN_FREE_DISK_BYTES="0")
    env.pop("DOKAZ_DATABASE_URL", None)
    settings = Settings(data_dir=data_dir, database_url=None, min_free_disk_bytes=0)
    migrations.upgrade(settings)
    engine = make_engine(settings)
    with Session(engine) as s:
        create_recovery_key(s)
        s.commit()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env["DOKAZ_PORT"] = str(port)
    log = (tmp_path / "log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    # Uneven sizes: pieces of a read, bodies spanning several records and batches.
    data = os.urandom(3 * 1024 * 1024 + 12345)
    cuts = [0, 70_001, 1_300_000, len(data)]
    try:
        wait_healthy(proc, base, log=tmp_path / "log")
        with httpx.Client(base_url=base, timeout=60) as client:
            made = client.post("/api/v1/uploads",
                               headers={**TUS, "Upload-Length": str(len(data))})
            assert made.status_code == 201, made.text
            location = made.headers["Location"]
            for start, end in itertools.pairwise(cuts):
                sent = client.patch(location, content=data[start:end], headers={
                    **TUS, "Upload-Offset": str(start),
                    "Content-Type": "application/offset+octet-stream"})
                assert sent.status_code == 204, sent.text
                assert sent.headers["Upload-Offset"] == str(end)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    cap = capabilities.UploadCapability.parse(location.rsplit("/", 1)[1])
    with Session(engine) as s:
        upload = service.load_upload(s, cap)
        assert cap is not None and upload.state == service.COMPLETE
        meta = capabilities.open_metadata(cap.key(), upload.id, upload.sealed_metadata)
    engine.dispose()
    assert meta["size"] == len(data)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
