"""``dokaz serve --workers 2`` with a staff port, as behind Tor, on PostgreSQL.

The parent binds both ports once and starts two process groups, each its own uvicorn
supervisor (api/core/server.py ``serve_groups``): two public workers and one staff
worker (``DOKAZ_STAFF_WORKERS``), each serving only its own surface on its inherited
socket. Seen from outside only, through /proc (nothing new is exposed for the test): both
ports answer, each only its own routes; the public workers hold only the public socket
and the staff worker only the staff one, under different supervisors; killing a worker
of one group restarts it there and leaves the other group's processes untouched; SIGTERM
stops everything and the command exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tests.factories import create_recovery_key_text
from tests.system.live import LiveApi, deployment
from tests.system.tor.proxied import exchange, request, tor_header
from tests.system.tor_deployment import TorDeployment
from tests.system.traffic import Submitter

pytestmark = pytest.mark.slow

WORKERS, STAFF_WORKERS = 2, 1
LISTEN, ESTABLISHED = "0A", "01"  # socket states in /proc/net/tcp


@pytest.fixture
def served(tmp_path: Path) -> Iterator[TorDeployment]:
    with deployment("postgresql", tmp_path) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        yield TorDeployment(dep, DOKAZ_WORKERS=str(WORKERS),
                            DOKAZ_STAFF_WORKERS=str(STAFF_WORKERS), DOKAZ_LOG_LEVEL="INFO"
                            ).wait_ready()


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


def workers_of(api: LiveApi, ports: list[int]) -> set[int]:
    """The children of ``api`` that hold every listening socket of ``ports``: its worker
    processes (not multiprocessing's resource tracker)."""
    kids = children(api.proc.pid)
    found = set(kids)
    for port in ports:
        found &= holders(kids, socket_inodes(port, LISTEN))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def group_workers(api: LiveApi, port: int) -> set[int]:
    """The worker processes serving ``port``: grandchildren of ``api`` (the children of a
    group's supervisor) that hold its listening socket."""
    grandchildren = [g for kid in children(api.proc.pid) for g in children(kid)]
    return holders(grandchildren, socket_inodes(port, LISTEN))


def wait_for_groups(served: TorDeployment, timeout: float = 120) -> tuple[set[int], set[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        public = group_workers(served.api, served.public_port)
        staff = group_workers(served.api, served.staff_port)
        if len(public) == WORKERS and len(staff) == STAFF_WORKERS and both_answer(served):
            return public, staff
        time.sleep(0.2)
    raise AssertionError(f"not {WORKERS} + {STAFF_WORKERS} workers:\n{served.api.tail()}")


def eventually(check: Callable[[], bool], what: str, api: LiveApi, timeout: float = 90
               ) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n{api.tail()}"
        time.sleep(0.2)


def startups_logged(api: LiveApi) -> int:
    """uvicorn's "startup complete" lines in our own log format: written by workers only
    once they configured dokaz's logging (and its client-identity filter)."""
    return api.log.read_text().count("INFO    uvicorn.error: Application startup complete.")


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


def test_public_and_staff_groups_serve_their_own_ports_and_restart_alone(
        served: TorDeployment) -> None:
    public_workers, staff_workers = wait_for_groups(served)
    # Two groups, each under its own supervisor (a child of `dokaz serve`), neither
    # holding the other's socket: staff processes never see an intake request.
    assert not public_workers & staff_workers
    public_supervisors = {parent_of(pid) for pid in public_workers}
    staff_supervisors = {parent_of(pid) for pid in staff_workers}
    assert len(public_supervisors) == len(staff_supervisors) == 1
    assert public_supervisors != staff_supervisors
    assert not holders(list(public_workers), socket_inodes(served.staff_port, LISTEN))
    assert not holders(list(staff_workers), socket_inodes(served.public_port, LISTEN))
    assert served.api.proc.pid not in public_workers | staff_workers
    # Under contention the scheduler serves the staff processes first (DOKAZ_PUBLIC_NICE).
    base = nice_of(served.api.proc.pid)
    assert {nice_of(pid) for pid in staff_workers} == {base}
    assert {nice_of(pid) for pid in public_workers} == {min(19, base + 5)}
    # One server (one surface) in each worker, logging in our format.
    eventually(lambda: startups_logged(served.api) == WORKERS + STAFF_WORKERS,
               "workers starting", served.api)
    # Public connections are spread over both public processes.
    assert connection_owners(served, public_workers) == public_workers

    with served.circuit(1) as public, served.staff() as staff:
        sent = Submitter(str(public.base_url).rstrip("/"), file_sizes=(2048,)).send(public)
        assert sent.acknowledged, sent.error
        assert staff.get("/api/v1/auth/me").status_code == 401  # the staff surface
        assert public.get("/api/v1/cases").status_code == 404  # not on the public port
        assert public.get("/api/v1/auth/me").status_code == 404
        assert staff.get("/about").status_code == 404  # the form is not on the staff port

    # A public worker dies: its group starts another; the staff worker is untouched and
    # answers all along.
    dead = min(public_workers)
    os.kill(dead, signal.SIGKILL)
    for circuit in range(10):
        with served.circuit(10 + circuit) as public, served.staff() as staff:
            assert public.get("/healthz").status_code == 200
            assert staff.get("/healthz").status_code == 200
    replaced, staff_now = wait_for_groups(served)
    assert dead not in replaced and len(replaced & public_workers) == 1
    assert staff_now == staff_workers
    eventually(lambda: startups_logged(served.api) == WORKERS + STAFF_WORKERS + 1,
               "the new public worker", served.api)

    # The staff worker dies: the staff group replaces it; the public workers stay.
    os.kill(min(staff_workers), signal.SIGKILL)
    with served.circuit(30) as public:
        assert Submitter(str(public.base_url).rstrip("/"), file_sizes=(2048,)
                         ).send(public).acknowledged
    public_now, new_staff = wait_for_groups(served)
    assert public_now == replaced and not new_staff & staff_workers
    assert {parent_of(pid) for pid in new_staff} == staff_supervisors

    proc = served.api.proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, served.api.tail()
    for pid in public_now | new_staff | public_supervisors | staff_supervisors:
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text()
    for port in (served.public_port, served.staff_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_two_workers_on_one_port(tmp_path: Path) -> None:
    """Without a staff port the same supervisor runs: one port, one app per worker."""
    with deployment("postgresql", tmp_path) as dep:
        api = dep.start_api(DOKAZ_WORKERS=str(WORKERS), DOKAZ_LOG_LEVEL="INFO")
        eventually(lambda: len(workers_of(api, [api.port])) == WORKERS
                   and startups_logged(api) == WORKERS, "two workers", api)
        assert httpx.get(api.url + "/api/v1/cases").status_code == 401  # staff routes too
        assert httpx.get(api.url + "/about").status_code == 200
        api.proc.send_signal(signal.SIGTERM)
        assert api.proc.wait(timeout=60) == 0, api.tail()
        assert startups_logged(api) == WORKERS
