"""Bounded connections, uploads and disk behind Tor (issue 15), on SQLite and PostgreSQL.

Found over Tor: 400 idle tus PATCH connections used 816 file descriptors, and with a limit
of 1024 /healthz and submissions got connection resets; five concurrent 150 MB PATCHes
were all accepted and left the disk 507 MiB below the free-space floor. Here the same
attacks, scaled down with low caps so they are cheap, against ``dokaz serve`` as behind
Tor (tests/system/tor_deployment.py), each attacker a circuit of its own.

The disk test keeps its data directory on a tmpfs (/dev/shm) when there is one, so the
free space the test budgets moves only with what the service writes.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.core.settings import MiB
from api.ingress.inflight import MARGIN, patch_need
from tests.factories import create_recovery_key_text, sample_report
from tests.intake.helpers import PNG
from tests.quiet_disk import quiet_directory
from tests.system.live import deployment
from tests.system.tor.proxied import tor_header
from tests.system.tor_deployment import TorDeployment, tor_deployment

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}
CONNECTIONS, PER_CIRCUIT = 48, 6  # connections per process, and per circuit
UPLOADS, UPLOADS_PER_CIRCUIT = 12, 3  # upload bodies in flight, in all and per circuit
# Descriptors the server process may open: what these caps need (api.core.server.
# fd_headroom: connections, two per upload, the database pool twice, 64) and no more.
NOFILE = CONNECTIONS + 2 * UPLOADS + 2 * 10 + 64


def patch_head(path: str, length: int, offset: int = 0) -> bytes:
    return (f"PATCH {path} HTTP/1.1\r\nHost: example.onion\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def connect(port: int, circuit: int, data: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(tor_header(circuit) + data)
    return s


def answered(socks: list[socket.socket], wait: float) -> dict[socket.socket, bytes]:
    """What each socket that got an answer within ``wait`` seconds received, read until
    the server closed it (or a complete bodiless response)."""
    got: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pending = [s for s in socks if s not in got]
        ready, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
        for s in ready:
            got[s] = read_response(s)
    return got


def read_response(s: socket.socket) -> bytes:
    out = bytearray()
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := s.recv(65536):
            out += chunk
            if out.startswith(b"HTTP/1.1 204") and b"\r\n\r\n" in out:
                break
    return bytes(out)


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def create_uploads(tor: TorDeployment, n: int, length: int) -> list[str]:
    with tor.circuit(1) as client:
        paths = []
        for _ in range(n):
            r = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": str(length)})
            assert r.status_code == 201, r.text
            paths.append(r.headers["Location"])
        return paths


def offset(tor: TorDeployment, path: str) -> int:
    with tor.circuit(2) as client:
        r = client.head(path, headers=TUS)
        assert r.status_code == 200, r.text
        return int(r.headers["Upload-Offset"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TorDeployment]:
    with tor_deployment(
        request.param, tmp_path_factory.mktemp(f"res-{request.param}"),
        DOKAZ_MAX_CONNECTIONS=str(CONNECTIONS),
        DOKAZ_MAX_CONNECTIONS_PER_CLIENT=str(PER_CIRCUIT),
        DOKAZ_MAX_UPLOADS_IN_FLIGHT=str(UPLOADS),
        DOKAZ_MAX_UPLOADS_IN_FLIGHT_PER_CLIENT=str(UPLOADS_PER_CIRCUIT),
        # The idle bodies must outlast the test, not be stopped by the minimum rate.
        DOKAZ_BODY_RATE_WINDOW_SECONDS="600",
    ) as served:
        with Session(served.dep.engine) as s:
            create_recovery_key_text(s)
        # A low descriptor limit, as on a default systemd service: reaching it would
        # reset everybody's connections, so the caps must keep the process below it.
        resource.prlimit(served.api.proc.pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        yield served


def test_idle_uploads_from_many_circuits_leave_room_for_health_and_reports(
        tor: TorDeployment) -> None:
    pid, port = tor.api.proc.pid, tor.public_port
    attackers = list(range(100, 106))  # six circuits, four idle PATCHes each
    paths = iter(create_uploads(tor, 4 * len(attackers), MiB))
    by_circuit: dict[int, list[socket.socket]] = {}
    held: list[socket.socket] = []
    try:
        for circuit in attackers:
            for _ in range(4):
                s = connect(port, circuit, patch_head(next(paths), MiB) + PNG)
                by_circuit.setdefault(circuit, []).append(s)
                held.append(s)
                time.sleep(0.05)
        refused = answered(held, wait=5)
        idle = [s for s in held if s not in refused]
        # Everyone's slots are all taken, and no circuit has more than its own.
        assert len(idle) == UPLOADS, {s.fileno(): r[:60] for s, r in refused.items()}
        for circuit, socks in by_circuit.items():
            assert len([s for s in socks if s in idle]) <= UPLOADS_PER_CIRCUIT, circuit
        statuses = sorted(status(r) for r in refused.values())
        assert set(statuses) == {429, 503}, statuses
        for response in refused.values():
            assert b"connection: close" in response.lower()
            if status(response) == 429:
                assert b"already sending as many uploads" in response
            else:
                assert b"temporarily unavailable" in response

        # One circuit's connections beyond its cap are closed right after the header.
        first = attackers[0]
        mine = len([s for s in by_circuit[first] if s in idle])
        for _ in range(PER_CIRCUIT - mine):
            held.append(connect(port, first))
        time.sleep(0.3)
        over = connect(port, first)
        held.append(over)
        response = answered([over], wait=5).get(over, b"")
        assert status(response) == 503 and b"temporarily unavailable" in response

        # Another circuit is served: health, the form, a report without files.
        with tor.circuit(200) as visitor:
            assert visitor.get("/healthz").status_code == 200
            assert visitor.get("/report").status_code == 200
            sent = visitor.post("/api/v1/submissions", json=sample_report())
            assert sent.status_code == 201, sent.text
        with tor.staff() as staff:
            assert staff.get("/healthz").status_code == 200
        assert open_fds(pid) < NOFILE

        # Past the process's connection cap, new connections are refused and closed,
        # and the descriptors stay below the limit.
        crowd = [connect(port, 300 + i) for i in range(CONNECTIONS)]
        held += crowd
        busy = answered(crowd, wait=5)
        assert busy and all(status(r) == 503 for r in busy.values())
        assert open_fds(pid) < NOFILE
    finally:
        for s in held:
            s.close()
    # Every hold went with its connection: a new circuit uploads at once.
    time.sleep(1)
    path = create_uploads(tor, 1, len(PNG))[0]
    s = connect(port, 201, patch_head(path, len(PNG)) + PNG)
    try:
        assert status(answered([s], wait=30)[s]) == 204
    finally:
        s.close()
    with tor.circuit(202) as visitor:
        assert visitor.get("/healthz").status_code == 200


@pytest.fixture(params=["sqlite", "postgresql"])
def quiet_root(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    with quiet_directory("dokaz-disk-") as root:
        yield request.param, root


def test_concurrent_large_patches_never_cross_the_free_disk_floor(
        quiet_root: tuple[str, Path]) -> None:
    kind, root = quiet_root
    size, admitted = 8 * MiB, 3
    data = PNG + os.urandom(size - len(PNG))
    with deployment(kind, root) as dep:
        # Room above the floor for three whole-file PATCHes (the part, its padding and a
        # margin each) and a little more, not for four.
        room = admitted * (patch_need(size, 0, None) + MARGIN) + 2 * MiB
        floor = shutil.disk_usage(dep.data_dir).free - room
        tor = TorDeployment(dep, DOKAZ_MIN_FREE_DISK_BYTES=str(floor)).wait_ready()
        with Session(dep.engine) as session:
            create_recovery_key_text(session)
        paths = create_uploads(tor, 5, size)
        lowest = [shutil.disk_usage(dep.data_dir).free]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                lowest.append(shutil.disk_usage(dep.data_dir).free)
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        socks = [connect(tor.public_port, 400 + i, patch_head(p, size) + data[:64 * 1024])
                 for i, p in enumerate(paths)]
        try:
            refused = answered(socks, wait=5)
            assert len(refused) == len(paths) - admitted, refused
            for response in refused.values():
                assert status(response) == 503 and b"short of space" in response
            going = [s for s in socks if s not in refused]
            senders = [threading.Thread(target=s.sendall, args=(data[64 * 1024:],))
                       for s in going]
            for t in senders:
                t.start()
            for t in senders:
                t.join(120)
            answers = [read_response(s) for s in going]
            assert [status(r) for r in answers] == [204] * admitted, answers
        finally:
            done.set()
            watcher.join(5)
            for s in socks:
                s.close()
        assert min(lowest) >= floor, (min(lowest) - floor) / MiB
        offsets = sorted(offset(tor, p) for p in paths)
        assert offsets == [0] * (len(paths) - admitted) + [size] * admitted
        blobs = [b.name for b in dep.storage.iter_blobs()]
        # A finished upload is its parts (one PATCH each here); the refused ones wrote
        # nothing, and nothing was merged into a second copy.
        assert len([b for b in blobs if b.startswith("s/")]) == admitted
        assert not [b for b in blobs if b.startswith("f/")]
        with httpx.Client(base_url=tor.staff_url) as staff:
            assert staff.get("/healthz").status_code == 200
