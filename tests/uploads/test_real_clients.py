"""tus conformance with real clients against a real server: tus-js-client 4 (from npm, run
by Node) and tuspy (PyPI), each in its own process, against uvicorn serving the app on
both database engines. Each: create and upload, be killed (SIGKILL) half-way and resume
from the offset the server reports, an empty file, a file whose content is not its type;
tuspy also with the checksum extension (sha1 on every PATCH).

tus-js-client is installed once into a cache folder (the ``node_dir`` fixture of
tests/uploads/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.intake.helpers import PNG, report
from tests.web.conftest import LiveServer, intake_ready, live_server

__all__ = ["intake_ready", "live_server"]

pytestmark = pytest.mark.slow

# One upload per run. Args: endpoint, file, chunk size, upload URL to resume or "-",
# file type, delay in ms before each request (so a test can kill it half-way).
# Prints one JSON line per event: the upload URL, each PATCH's offset, the outcome.
JS_CLIENT = r"""
const tus = await import('tus-js-client');
const fs = await import('node:fs');
const [endpoint, file, chunk, resume, filetype, delay] = process.argv.slice(2);
const Upload = tus.Upload || tus.default.Upload;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const data = fs.readFileSync(file);
const up = new Upload(data, {
  endpoint, chunkSize: Number(chunk), retryDelays: null, storeFingerprintForResuming: false,
  uploadUrl: resume === '-' ? null : resume,
  metadata: { filename: 'client-file', filetype },
  onUploadUrlAvailable() { say({ url: up.url }); },
  async onBeforeRequest(req) {
    if (req.getMethod() === 'PATCH') say({ patch: Number(req.getHeader('Upload-Offset')) });
    if (Number(delay)) await new Promise((r) => setTimeout(r, Number(delay)));
  },
  onError(err) {
    const res = err.originalResponse;
    say({ error: String(err.message || err), status: res ? res.getStatus() : null,
          body: res ? res.getBody() : null });
    process.exit(0);
  },
  onSuccess() { say({ done: up.url }); },
});
up.start();
"""

PY_CLIENT = r"""
import json, sys, time
from tusclient import client
from tusclient.exceptions import TusCommunicationError
endpoint, path, chunk, resume, filetype, delay = sys.argv[1:]
say = lambda **o: print(json.dumps(o), flush=True)
up = client.TusClient(endpoint).uploader(
    file_path=path, chunk_size=int(chunk), upload_checksum=True, retries=0,
    url=None if resume == "-" else resume,
    metadata={"filename": "client-file", "filetype": filetype})
try:
    if up.url is None:
        up.set_url(up.create_url())
        up.offset = 0
    say(url=up.url)
    while up.offset < up.get_file_size():
        say(patch=up.offset)
        time.sleep(int(delay) / 1000)
        up.upload_chunk()
    say(done=up.url)
except TusCommunicationError as err:
    body = err.response_content.decode() if err.response_content else None
    say(error=str(err), status=err.status_code, body=body)
"""


@pytest.fixture(params=["tus-js-client", "tuspy"])
def run_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """``start(endpoint, data, chunk, resume, filetype, delay_ms)``: the client's process,
    its events read with :func:`events`."""
    procs: list[subprocess.Popen[str]] = []
    made: list[Path] = []
    if request.param == "tus-js-client":
        where: Path = request.getfixturevalue("node_dir")
        script = where / f"client-{os.getpid()}.mjs"  # beside node_modules; per worker
        script.write_text(JS_CLIENT)
        made.append(script)
        command = ["node", str(script)]
    else:
        script = tmp_path / "client.py"
        script.write_text(PY_CLIENT)
        command = [sys.executable, str(script)]

    def start(endpoint: str, data: bytes, chunk: int, resume: str | None = None,
              filetype: str = "application/octet-stream",
              delay_ms: int = 0) -> subprocess.Popen[str]:
        path = tmp_path / f"file{len(procs)}"
        path.write_bytes(data)
        proc = subprocess.Popen([*command, endpoint, str(path), str(chunk), resume or "-",
                                 filetype, str(delay_ms)],
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    start.name = request.param  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    for path in made:
        path.unlink(missing_ok=True)


def events(proc: subprocess.Popen[str], until: str, count: int = 1) -> list[dict[str, Any]]:
    """The client's events up to the ``count``-th one that has ``until`` (or its end)."""
    assert proc.stdout is not None
    seen: list[dict[str, Any]] = []
    while True:
        line = proc.stdout.readline()
        if not line:
            return seen
        event = json.loads(line)
        seen.append(event)
        if until in event:
            count -= 1
            if count == 0:
                return seen


def finish(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The client's outcome (``done`` or ``error``) and every event before it."""
    got = events(proc, "done") + events(proc, "error")
    proc.wait(60)
    outcome = [e for e in got if "done" in e or "error" in e]
    assert outcome, got
    return outcome[-1], got


def offset_and_length(url: str) -> tuple[int, int] | int:
    r = httpx.head(url, headers={"Tus-Resumable": "1.0.0"})
    if r.status_code != 200:
        return r.status_code
    return int(r.headers["Upload-Offset"]), int(r.headers["Upload-Length"])


def attach(server: LiveServer, url: str) -> dict[str, Any]:
    r = httpx.post(f"{server.url}/api/v1/submissions", json=report(uploads=[url]), timeout=60)
    assert r.status_code == 201, r.text
    files: list[dict[str, Any]] = r.json()["files"]
    return files[0]


def endpoint(server: LiveServer) -> str:
    return f"{server.url}/api/v1/uploads"


def test_upload_killed_half_way_resumes_and_is_reported(live_server: LiveServer,
                                                        run_client: Any) -> None:
    data = PNG + os.urandom(2 * 1024 * 1024)
    chunk = 128 * 1024
    proc = run_client(endpoint(live_server), data, chunk, filetype="image/png", delay_ms=150)
    got = events(proc, "patch", 4)  # three PATCHes answered, the fourth about to go
    url = got[0]["url"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    kept, length = offset_and_length(url)  # type: ignore[misc]
    assert 3 * chunk <= kept < length == len(data)

    again = run_client(endpoint(live_server), data, chunk, resume=url, filetype="image/png")
    got = events(again, "patch")
    assert got[-1]["patch"] == kept  # it asked where to go on, and went on from there
    assert finish(again)[0] == {"done": url}
    assert offset_and_length(url) == (len(data), len(data))
    assert attach(live_server, url) == {"name": "client-file", "size": len(data),
                                        "type": "image/png",
                                        "sha256": hashlib.sha256(data).hexdigest()}


def test_an_empty_file(live_server: LiveServer, run_client: Any) -> None:
    proc = run_client(endpoint(live_server), b"", 65536, filetype="text/plain")
    outcome, _ = finish(proc)
    assert "done" in outcome, outcome
    assert offset_and_length(outcome["done"]) == (0, 0)
    assert attach(live_server, outcome["done"])["size"] == 0


def test_a_file_that_is_not_its_type_is_refused_at_once(live_server: LiveServer,
                                                        run_client: Any) -> None:
    data = b"MZ\x90\x00" + os.urandom(8 * 1024 * 1024)  # a program, called a PNG
    started = time.monotonic()
    proc = run_client(endpoint(live_server), data, len(data), filetype="image/png")
    outcome, got = finish(proc)
    assert outcome["status"] == 415, outcome
    message = json.loads(outcome["body"])["error"]["message"]
    assert "application/x-msdownload" in message and "deleted" in message
    assert time.monotonic() - started < 60
    assert offset_and_length(got[0]["url"]) == 404  # nothing of it is kept
