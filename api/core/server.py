"""How ``dokaz serve`` listens: the HTTP protocols (uvicorn's httptools protocol plus a
header timeout, and the same behind a PROXY protocol header), the uvicorn options every
port gets, :func:`serve_together`, which runs the public and the staff surface
(api/core/surfaces.py) as two servers on one event loop, and :func:`serve_workers`,
which runs that in several processes on sockets bound once (uvicorn's supervisor).

uvicorn has no limit on how long a client may take to send its request headers: a
client trickling one byte a second ("slowloris") holds a connection, and enough of them
exhaust the server. This protocol starts a timer when a connection opens and whenever a
new request begins, and closes the connection if the headers are not complete within
``DOKAZ_HEADER_TIMEOUT_SECONDS``. The same protocol caps the size of the request line and
headers at ``DOKAZ_MAX_HEADER_BYTES`` (uvicorn's own cap applies only to its h11 protocol),
answering 431. Bodies are not affected: a slow upload over Tor may take
hours and is bounded by ``DOKAZ_REQUEST_BODY_TIMEOUT_SECONDS`` in the intake guards.

With ``DOKAZ_CLIENT_IDENTITY=proxy-protocol`` :class:`ProxyHeaderProtocol` is used: every
connection must open with a PROXY protocol v1 header (Tor's onion service writes one with
``HiddenServiceExportCircuitID haproxy``). The header is read and consumed before the HTTP
parser sees a byte; a connection whose first bytes are not a valid header, or that does
not complete it within the header timeout, is closed without a response (whoever sends
no header is not the proxy, and owes nothing an answer). The identity the header names is
put in each request's scope for :mod:`api.core.privacy`, which turns it into the client tag.

Open connections are capped here, where they are made, because each costs a file
descriptor (two with an upload open) and a process that runs out of them resets
everybody's connections, /healthz included. ``DOKAZ_MAX_CONNECTIONS`` counts every
connection of the process (all its listeners); one beyond it is answered 503 and closed
at once. On a PROXY-protocol port ``DOKAZ_MAX_CONNECTIONS_PER_CLIENT`` caps the
connections of one identity the header names (a Tor circuit): one beyond it is answered
503 and closed right after its header, so one circuit cannot take the connections of all
the others. Both counts are per process and in memory only (a circuit id never leaves
it); across processes tor's ``HiddenServiceMaxStreams`` bounds a circuit's streams before
they reach us (docs/deployment-tor.md). uvicorn's ``limit_concurrency`` is not used: it
still accepts and keeps every connection (their descriptors with them) and answers 503
to every request beyond the limit, health checks too, so it bounds neither the
descriptors nor leaves room for /healthz. The upload caps (api/ingress/inflight.py) sit
below these, which is the headroom: idle uploads cannot take every connection.
:func:`raise_fd_limit` lifts the process's soft descriptor limit to what the caps need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from api.core.logging import configure_logging, uvicorn_log_config
from api.core.memory import tune_malloc
from api.core.privacy import PROXY_IDENTITY_SCOPE_KEY
from api.core.proxy_protocol import ProxyHeaderError, client_identity, parse_header
from api.core.settings import ClientIdentitySetting, Settings, get_settings

logger = logging.getLogger("uvicorn.error")

_MESSAGE = b"The request headers are larger than this server accepts."
log = logging.getLogger("dokaz.server")

_BUSY_MESSAGE = (b"The service is temporarily unavailable: it has as many connections as it "
                 b"can hold. Please try again in a little while.")
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 10\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_BUSY_MESSAGE)).encode() + b"\r\n\r\n" + _BUSY_MESSAGE
)
_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\n\r\n" + _MESSAGE
)


class _HeadersTooLargeError(Exception):
    pass


class _OpenConnections:
    """This process's open connections, all listeners together, and per PROXY identity
    (memory only: the identities are dropped with their last connection)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_client: dict[str, int] = {}

    def add_client(self, identity: str) -> int:
        self.per_client[identity] = self.per_client.get(identity, 0) + 1
        return self.per_client[identity]

    def drop_client(self, identity: str) -> None:
        left = self.per_client.get(identity, 1) - 1
        if left > 0:
            self.per_client[identity] = left
        else:
            self.per_client.pop(identity, None)


OPEN = _OpenConnections()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout_seconds
        self._max_header_bytes = settings.max_header_bytes
        self._max_connections = settings.max_connections
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_too_large = False
        self._counted = False

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        OPEN.total += 1
        self._counted = True
        if OPEN.total > self._max_connections:
            self._refuse_busy()
            return
        self._arm_header_timer()

    def _refuse_busy(self) -> None:
        """Answer 503 before reading anything and close: the descriptor is freed at once,
        and a person sees "temporarily unavailable" rather than a reset."""
        self._disarm_header_timer()
        self.transport.write(_BUSY)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused (or being closed): nothing more of it is parsed
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self._counted:
            self._counted = False
            OPEN.total -= 1
        super().connection_lost(exc)

    # Header bytes are counted as the parser hands them over (the request line's URL and
    # each name and value), so the cap is exact whatever the reads look like, and a body
    # that arrives in the same read as the headers is never mistaken for them.
    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._max_header_bytes:
            self._headers_too_large = True
            raise _HeadersTooLargeError  # httptools aborts the parse; see send_400_response

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not self._headers_too_large:
            super().send_400_response(msg)
            return
        self._disarm_header_timer()
        self.transport.write(_HEADERS_TOO_LARGE)
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        # uvicorn appends every piece of a body to a bytearray and copies that into a new
        # bytes object for the app: two copies (and, for the 64-256 KiB pieces of an
        # upload, two fresh memory mappings, api/core/memory.py) of every byte. A piece
        # that arrives while nothing is waiting is handed on as the parser made it
        # (``bytes(b)`` of a bytes object is the object itself); a second piece before the
        # app reads joins it as before. Measured on a 512 MiB tus upload
        # (bench/tus_peers.py): server system CPU 1.4 -> 1.0 s.
        cycle = self.cycle
        if cycle.body or type(body) is not bytes:
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.body = body  # type: ignore[assignment]
        if len(body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()


class ProxyHeaderProtocol(HeaderTimeoutProtocol):
    """:class:`HeaderTimeoutProtocol` behind a PROXY protocol v1 header.

    The header timer armed when the connection opens covers the PROXY header and the
    first request's headers together: Tor writes the PROXY line and the client's bytes
    at once, so a connection still short of either after the timeout is not a client.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proxy_buffer: bytes | None = b""  # None once the header has been read
        self._proxy_identity: str | None = None
        self._max_per_client = get_settings().max_connections_per_client
        self._client_counted: str | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client_counted is not None:
            OPEN.drop_client(self._client_counted)
            self._client_counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._proxy_buffer is None:
            super().data_received(data)
            return
        if self.transport.is_closing():
            return  # refused already: nothing of this connection reaches the parser
        buffered = self._proxy_buffer + data
        try:
            header = parse_header(buffered)
        except ProxyHeaderError:
            self._proxy_buffer = b""
            self._disarm_header_timer()
            self.transport.close()
            return
        if header is None:
            self._proxy_buffer = buffered  # at most 106 bytes: parse_header refuses more
            return
        self._proxy_buffer = None
        self._proxy_identity = client_identity(header)
        if self._proxy_identity is not None:
            self._client_counted = self._proxy_identity
            if OPEN.add_client(self._proxy_identity) > self._max_per_client:
                self._refuse_busy()  # one circuit may not hold everybody's connections
                return
        # uvicorn copies self.client into every scope; the real peer (the proxy) is of no
        # use to anyone, and the identity travels under its own key.
        self.client = None
        rest = buffered[header.length:]
        if rest:
            super().data_received(rest)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[PROXY_IDENTITY_SCOPE_KEY] = self._proxy_identity  # type: ignore[literal-required]


def http_protocol(identity: ClientIdentitySetting) -> type[HttpToolsProtocol]:
    """The protocol class ``dokaz serve`` hands uvicorn for a port whose clients are told
    apart by ``identity`` (:func:`api.core.surfaces.client_identity_for` of its surface:
    the PROXY header is required on the public port only)."""
    if identity == "proxy-protocol":
        return ProxyHeaderProtocol
    return HeaderTimeoutProtocol


def fd_headroom(settings: Settings) -> int:
    """File descriptors one process may need at its caps: a connection each, a blob file
    for each upload (two at the most), the database pool and its
    overflow, and some for the listeners, Redis, logs and the interpreter."""
    return (settings.max_connections + 2 * settings.max_uploads_in_flight
            + 2 * settings.database_pool_size + 64)


def raise_fd_limit(settings: Settings) -> None:
    """Lift the soft ``RLIMIT_NOFILE`` to :func:`fd_headroom` (up to the hard limit; a
    process may do that itself), and say so when the hard limit is lower: then raise
    ``LimitNOFILE`` (systemd) or ``ulimits: nofile`` (Docker), or lower the caps."""
    need = fd_headroom(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    new = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    if new < need:
        log.warning("the file-descriptor limit (%d) is below the %d the connection and "
                    "upload caps need; raise LimitNOFILE or lower DOKAZ_MAX_CONNECTIONS",
                    new, need)


def uvicorn_options(settings: Settings, identity: ClientIdentitySetting) -> dict[str, Any]:
    """What every listener of ``dokaz serve`` runs with, whichever surface it serves."""
    # Before any listener accepts: the caps are only as good as the descriptors behind them.
    raise_fd_limit(settings)
    return {
        "log_config": uvicorn_log_config(),
        "access_log": False,  # uvicorn's access log prints client addresses
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "server_header": False,
        "http": http_protocol(identity),  # uvicorn alone lets a slowloris hold a connection
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": 10,
    }


@dataclass(frozen=True)
class Listener:
    """One port of ``dokaz serve`` and the app (one surface) it serves."""

    app: Callable[..., Any]  # an ASGI app (this module stays free of the web framework)
    host: str
    port: int
    identity: ClientIdentitySetting


class _OneOfSeveral(uvicorn.Server):
    # uvicorn's own handlers would each replace the previous server's, so a signal would
    # stop one server and leave the others serving: _Together handles them for all.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Together:
    """A uvicorn server per listener on one event loop (see :func:`serve_together`)."""

    def __init__(self, settings: Settings, listeners: list[Listener]) -> None:
        # Every serving process, alone or a worker, comes through here.
        tune_malloc(settings)
        self.servers = [
            _OneOfSeveral(_config(settings, listener.app, listener.host, listener.port,
                                  listener.identity))
            for listener in listeners
        ]

    @property
    def started(self) -> bool:
        return all(server.started for server in self.servers)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until SIGINT or SIGTERM; ``sockets`` (one per listener, in order) are
        inherited from a supervisor, else each server binds its own port."""
        captured: list[int] = []

        def stop(signum: int, frame: FrameType | None) -> None:
            captured.append(signum)
            for server in self.servers:
                server.handle_exit(signum, frame)

        async def serve() -> None:
            await asyncio.gather(*(
                server.serve(sockets=None if sockets is None else [sockets[i]])
                for i, server in enumerate(self.servers)))

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            asyncio.run(serve())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        # As uvicorn does: once shut down gracefully, end the way the signal asks.
        for signum in reversed(captured):
            signal.raise_signal(signum)


def _config(settings: Settings, app: Callable[..., Any] | str, host: str, port: int,
            identity: ClientIdentitySetting, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, **uvicorn_options(settings, identity),
                          **extra)


def serve_together(settings: Settings, listeners: list[Listener]) -> None:
    """Run a uvicorn server per listener on one event loop, until SIGINT or SIGTERM stops
    them all (each finishing its requests, as uvicorn alone does)."""
    _Together(settings, listeners).run()


# ---- several processes ---------------------------------------------------------------
#
# uvicorn's supervisor (uvicorn.supervisors.Multiprocess) binds nothing itself: it hands
# the sockets bound once in the parent to every worker process it starts, pings each,
# replaces one that dies or hangs, and on SIGINT/SIGTERM stops them all with SIGTERM and
# waits. Its workers run one uvicorn server on all sockets, which cannot be two surfaces
# (each port has its own app and its own protocol class), and they leave our logging
# unconfigured; so only the worker is ours: :class:`_SurfacesWorker` configures logging
# and runs :class:`_Together` on the inherited sockets (one port or two). The
# supervisor's loop, health checks and signal handling are uvicorn's own.

ListenersOf = Callable[[], AbstractContextManager[list[Listener]]]


class _Surfaces:
    """What a worker process runs in place of uvicorn's one server: the listeners made
    in the worker (apps, engine and services are per process), served on ``sockets``."""

    def __init__(self, settings: Settings, listeners_of: ListenersOf) -> None:
        self.settings = settings
        self.listeners_of = listeners_of
        self.together: _Together | None = None

    @property
    def started(self) -> bool:  # answered to the supervisor's health check
        return self.together is not None and self.together.started

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # A spawned worker starts with Python's logging unconfigured: without ours its
        # records would skip the client-identity filter and the coarse times.
        configure_logging(self.settings.log_level, self.settings.log_format)
        with contextlib.ExitStack() as stack:
            try:
                listeners = stack.enter_context(self.listeners_of())
            except Exception:
                # As uvicorn does for an app it cannot load: every restart would fail the
                # same way, so the supervisor stops instead of restarting in a loop.
                logger.exception("A worker could not make its apps.")
                sys.exit(STARTUP_FAILURE)
            self.together = _Together(self.settings, listeners)
            self.together.run(sockets)


class _SurfacesWorker(Process):
    """uvicorn's worker process (its pipe for health checks, its start and stop), serving
    every listener. Pickled into the spawned child, so everything it holds is picklable:
    the settings and a module-level function that makes the listeners."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket],
                 surfaces: _Surfaces) -> None:
        self.surfaces = surfaces
        super().__init__(config, sockets)

    @property
    def server(self) -> Any:  # uvicorn's Process asks it for run() and started only
        return self.surfaces


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, starting :class:`_SurfacesWorker` processes. The methods that
    make workers (start, replace the dead, SIGHUP, SIGTTIN) are uvicorn 0.54's own, with
    the worker class swapped; the loop, health checks and signals are inherited."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket],
                 surfaces: _Surfaces) -> None:
        super().__init__(config, sockets)
        self.surfaces = surfaces
        self.failed = False  # stopped because a worker could not start, not by a signal

    def _worker(self) -> _SurfacesWorker:
        return _SurfacesWorker(self.config, self.sockets, self.surfaces)

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = self._worker()
            process.start()
            self.processes.append(process)

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # dead, or hung: uvicorn's own rule
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It would fail the same way on every restart (the app, a socket).
                logger.error("Worker process [%s] failed to start; stopping.", process.pid)
                self.failed = True
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.warning("Worker process [%s] died; starting another.", process.pid)
            self.processes[idx] = self._worker()
            self.processes[idx].start()

    def restart_all(self) -> None:  # SIGHUP: each worker replaced once its successor serves
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._worker()
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck,
                                        self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error("Worker process [%s] was not ready in time; keeping [%s].",
                                 new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def handle_ttin(self) -> None:  # one worker more (SIGTTOU, one fewer, is uvicorn's own)
        self.processes_num += 1
        process = self._worker()
        process.start()
        self.processes.append(process)


def serve_workers(settings: Settings, addresses: list[tuple[str, int, ClientIdentitySetting]],
                  listeners_of: ListenersOf, workers: int) -> None:
    """Bind ``addresses`` once here, then run ``workers`` processes that each serve every
    surface on those sockets (the kernel spreads connections over them), restart one that
    dies and stop all on SIGINT or SIGTERM, each finishing its requests.

    ``listeners_of`` runs in each worker and yields its listeners, in the order of
    ``addresses``; it must be picklable (a module-level function, or a partial of one).
    """
    configs = [_config(settings, "api.app:create_app", host, port, identity, workers=workers,
                       timeout_worker_healthcheck=settings.worker_healthcheck_seconds)
               for host, port, identity in addresses]
    sockets = [config.bind_socket() for config in configs]
    # The supervisor reads only workers and the health-check timeout from its config; the
    # app named there is never loaded (each worker makes its own through listeners_of).
    try:
        _Supervisor(configs[0], sockets, _Surfaces(settings, listeners_of)).run()
    finally:
        for sock in sockets:
            sock.close()


# ---- separate process groups ---------------------------------------------------------
#
# With a staff port, the staff surface runs in processes of its own: an intake surge
# (Argon2 receipts, stream encryption, uploads) then loads only the public workers'
# event loops and thread pools, and a caseworker's request never queues behind them.
# Each group is one uvicorn supervisor (:class:`_Supervisor`, as above) in a process of
# its own, with its own sockets, worker count, restarts and health checks; this parent
# binds every socket once, starts the groups, passes SIGINT, SIGTERM and SIGHUP on to
# them, and stops the others if one group's supervisor ends by itself (a worker that
# cannot start, or the supervisor killed), so the command never runs half a service.


@dataclass(frozen=True)
class Group:
    """One process group of ``dokaz serve``: ``workers`` processes serving ``addresses``
    with the listeners ``listeners_of`` makes (picklable, as for :func:`serve_workers`)."""

    name: str
    addresses: list[tuple[str, int, ClientIdentitySetting]]
    listeners_of: ListenersOf
    workers: int
    nice: int = 0  # how far below `dokaz serve` the group's processes run (Linux nice)


def _group_configs(settings: Settings, group: Group) -> list[uvicorn.Config]:
    return [_config(settings, "api.app:create_app", host, port, identity,
                    workers=group.workers,
                    timeout_worker_healthcheck=settings.worker_healthcheck_seconds)
            for host, port, identity in group.addresses]


def _run_group(settings: Settings, group: Group, sockets: list[socket.socket]) -> None:
    """A group's supervisor, in a spawned process of its own (module level: picklable)."""
    configure_logging(settings.log_level, settings.log_format)
    if group.nice > 0:
        # Before any worker starts: they inherit it, and so do their replacements.
        os.nice(group.nice)
    supervisor = _Supervisor(_group_configs(settings, group)[0], sockets,
                             _Surfaces(settings, group.listeners_of))
    log.info("starting the %s group: %d worker(s)", group.name, group.workers)
    supervisor.run()
    sys.exit(STARTUP_FAILURE if supervisor.failed else 0)


def serve_groups(settings: Settings, groups: list[Group]) -> int:
    """Run each of ``groups`` under its own supervisor process until SIGINT or SIGTERM
    (or until one group ends by itself); the exit code: 0 when stopped by a signal."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    bound = [[config.bind_socket() for config in _group_configs(settings, group)]
             for group in groups]
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    supervisors = []
    code = 0
    try:
        for group, sockets in zip(groups, bound, strict=True):
            process = spawn.Process(target=_run_group, args=(settings, group, sockets),
                                    name=f"dokaz-{group.name}")
            process.start()
            supervisors.append(process)
        stopping = False
        while True:
            while received:
                signum = received.pop(0)
                stopping = stopping or signum != signal.SIGHUP
                for process in supervisors:  # SIGHUP: each group restarts its workers
                    if process.pid is not None and process.exitcode is None:
                        os.kill(process.pid, signum)
            ended = [p for p in supervisors if p.exitcode is not None]
            if len(ended) == len(supervisors):
                break
            if ended and not stopping:
                stopping = True
                code = next(p.exitcode or 1 for p in ended)
                log.error("the %s group ended by itself (exit %s); stopping the others",
                          ended[0].name, ended[0].exitcode)
                for process in supervisors:
                    if process.exitcode is None and process.pid is not None:
                        os.kill(process.pid, signal.SIGTERM)
            time.sleep(0.2)
        if not code:
            code = next((p.exitcode for p in supervisors if p.exitcode), 0) or 0
    finally:
        for process in supervisors:
            if process.exitcode is None:
                process.terminate()
            process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sockets in bound:
            for sock in sockets:
                sock.close()
    return code
