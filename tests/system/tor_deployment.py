"""The deployment the README documents behind Tor, without Tor: ``dokaz serve`` with
``DOKAZ_CLIENT_IDENTITY=proxy-protocol`` on the public port and a staff port beside it,
and clients that each speak as one Tor circuit.

* :class:`TorDeployment` - one such ``dokaz serve`` process on a :class:`Deployment`
  (SQLite or PostgreSQL): :attr:`public_port` wants a PROXY header on every connection,
  :attr:`staff_port` is plain HTTP (the staff onion service sends no header);
* :class:`CircuitTransport` - an httpx transport that writes the PROXY line tor writes
  for its circuit at the start of every connection it opens, so every httpx-based helper
  (tests/system/traffic.py) works per circuit; :func:`circuit_client` - an ``httpx.Client``
  on the public port as one circuit;
* :class:`AsyncCircuitTransport` - the same for ``httpx.AsyncClient``, so one event loop can
  drive many circuits at once (bench/abuse.py).

Raw-socket clients for what httpx cannot send (no header, a broken one) are in
tests/system/tor/proxied.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpcore
import httpx

from tests.system.live import Deployment, LiveApi, deployment, free_port
from tests.system.tor.proxied import tor_header, wait_ready


class _HeaderFirstBackend(httpcore.SyncBackend):
    """Opens TCP connections as tor's onion service does: the PROXY line goes first."""

    def __init__(self, header: bytes) -> None:
        self._header = header

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        stream.write(self._header, timeout)
        return stream


class CircuitTransport(httpx.HTTPTransport):
    """Every connection this transport opens (keep-alive reuses them) starts with the
    PROXY header of ``circuit``: to the server, all its requests are that one circuit."""

    def __init__(self, circuit: int) -> None:
        super().__init__()
        self.circuit = circuit
        # httpx takes no network backend of its own; its pool is httpcore's, which does.
        self._pool = httpcore.ConnectionPool(network_backend=_HeaderFirstBackend(
            tor_header(circuit)))


class _AsyncHeaderFirstBackend(httpcore.AnyIOBackend):
    """The async twin of :class:`_HeaderFirstBackend`."""

    def __init__(self, header: bytes) -> None:
        self._header = header

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        await stream.write(self._header, timeout)
        return stream


class AsyncCircuitTransport(httpx.AsyncHTTPTransport):
    """:class:`CircuitTransport` for ``httpx.AsyncClient``."""

    def __init__(self, circuit: int) -> None:
        # verify=False only spares loading the CA bundle (~0.1 s of CPU, which would stall
        # an event loop opening many circuits) for a pool that is replaced at once: the
        # pool below speaks plain HTTP to the loopback, as tor does.
        super().__init__(verify=False)
        self.circuit = circuit
        self._pool = httpcore.AsyncConnectionPool(network_backend=_AsyncHeaderFirstBackend(
            tor_header(circuit)))


def circuit_client(port: int, circuit: int, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}",
                        transport=CircuitTransport(circuit), timeout=timeout)


class TorDeployment:
    """``dokaz serve`` as behind two onion services: public port (PROXY protocol) and
    staff port (plain), one process, on ``dep``."""

    def __init__(self, dep: Deployment, **env: str) -> None:
        self.dep = dep
        self.public_port, self.staff_port = free_port(), free_port()
        self.api = LiveApi(dep.env(DOKAZ_CLIENT_IDENTITY="proxy-protocol",
                                   DOKAZ_STAFF_PORT=str(self.staff_port), **env),
                           dep.root / f"api-{len(dep.apis)}.log", self.public_port)
        dep.apis.append(self.api)
        self.staff_url = f"http://127.0.0.1:{self.staff_port}"

    def wait_ready(self, timeout: float = 60) -> TorDeployment:
        wait_ready(self.api, timeout)  # the public port, through a header
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.staff_url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"staff port did not start:\n{self.api.tail()}")

    def circuit(self, circuit: int) -> httpx.Client:
        """A client on the public port speaking as Tor circuit ``circuit``."""
        return circuit_client(self.public_port, circuit)

    def staff(self) -> httpx.Client:
        return httpx.Client(base_url=self.staff_url, timeout=60)


@contextlib.contextmanager
def tor_deployment(kind: str, root: Path, **env: str) -> Iterator[TorDeployment]:
    """A fresh installation (``kind``: sqlite or postgresql) served as behind Tor."""
    with deployment(kind, root) as dep:
        yield TorDeployment(dep, **env).wait_ready()
