"""``dokaz serve --workers 2`` with a staff port, as behind Tor, on PostgreSQL.

The parent binds both ports once and runs uvicorn's supervisor; each worker process
serves both surfaces on the inherited sockets (api/core/server.py ``serve_workers``).
Seen from outside only, through /proc (nothing new is exposed for the test): both ports
answer; two worker processes hold both listening sockets and both take connections;
killing one leaves the service answering and the supervisor starts another; SIGTERM
stops everything and the command exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tests.factories import create_recovery_key_text
from tests.system.live import deployment
from tests.system.tor.proxied import exchange, request, tor_header
from tests.system.tor_deployment import TorDeployment
from tests.system.traffic import Submitter

pytestmark = pytest.mark.slow

WORKERS = 2
LISTEN, ESTABLISHED = "0A", "01"  # socket states in /proc/net/tcp


@pytest.fixture
def served(tmp_path: Path) -> Iterator[TorDeployment]:
    with deployment("postgresql", tmp_path) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        yield TorDeployment(dep, DOKAZ_WORKERS=str(WORKERS)).wait_ready()


def socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (any process)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def holders(pids: list[int], inodes: set[str]) -> set[int]:
    """Which of ``pids`` hold an open descriptor on one of the sockets ``inodes``."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    held = set()
    for pid in pids:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                if os.readlink(fd.path) in wanted:
                    held.add(pid)
                    break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return held


def workers_of(served: TorDeployment) -> set[int]:
    """The parent's children that hold both listening sockets: its worker processes (not
    multiprocessing's resource tracker)."""
    kids = children(served.api.proc.pid)
    public = holders(kids, socket_inodes(served.public_port, LISTEN))
    staff = holders(kids, socket_inodes(served.staff_port, LISTEN))
    return public & staff


def wait_for_workers(served: TorDeployment, n: int, timeout: float = 90) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers_of(served)
        if len(found) == n and both_answer(served):
            return found
        time.sleep(0.2)
    raise AssertionError(f"not {n} workers: {workers_of(served)}\n{served.api.tail()}")


def both_answer(served: TorDeployment) -> bool:
    try:
        public = exchange(served.public_port, tor_header(7) + request("GET", "/healthz"),
                          timeout=5)
        staff = httpx.get(served.staff_url + "/healthz", timeout=5)
    except (OSError, httpx.HTTPError):
        return False
    return public.startswith(b"HTTP/1.1 200") and staff.status_code == 200


def connection_owners(served: TorDeployment, workers: set[int], tries: int = 60
                      ) -> set[int]:
    """Open public connections one by one and keep them open (a PROXY header and half a
    request), until every worker has accepted one or ``tries`` are open; return the
    workers seen holding an accepted connection."""
    seen: set[int] = set()
    with ExitStack() as stack:
        for circuit in range(tries):
            conn = stack.enter_context(socket.create_connection(
                ("127.0.0.1", served.public_port), timeout=5))
            conn.sendall(tor_header(500 + circuit) + b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.05)
            seen = holders(list(workers), socket_inodes(served.public_port, ESTABLISHED))
            if seen == workers:
                break
    return seen


def test_two_workers_serve_both_ports_survive_a_death_and_stop_on_sigterm(
        served: TorDeployment) -> None:
    workers = wait_for_workers(served, WORKERS)
    assert served.api.proc.pid not in workers
    # Connections are spread over both processes (each accepts from the shared socket).
    assert connection_owners(served, workers) == workers

    with served.circuit(1) as public, served.staff() as staff:
        sent = Submitter(str(public.base_url).rstrip("/"), file_sizes=(2048,)).send(public)
        assert sent.acknowledged, sent.error
        assert staff.get("/api/v1/auth/me").status_code == 401  # the staff surface
        assert public.get("/api/v1/cases").status_code == 404  # not on the public port

        # One worker dies: the other keeps answering on both ports, at once.
        dead = min(workers)
        os.kill(dead, signal.SIGKILL)
        for _ in range(10):
            assert public.get("/healthz").status_code == 200
            assert staff.get("/healthz").status_code == 200
        assert Submitter(str(public.base_url).rstrip("/"), file_sizes=(2048,)
                         ).send(public).acknowledged
    # The supervisor starts another in its place.
    replaced = wait_for_workers(served, WORKERS)
    assert dead not in replaced and len(replaced & workers) == 1

    proc = served.api.proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, served.api.tail()
    for pid in replaced:
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text()
    for port in (served.public_port, served.staff_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
