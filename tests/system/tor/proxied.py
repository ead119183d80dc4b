"""Clients that speak to ``dokaz serve`` as Tor's onion service does: a PROXY protocol
v1 header naming a circuit, then HTTP, over a plain socket (no Tor involved).

* :func:`tor_header` - the exact line tor writes with ``HiddenServiceExportCircuitID
  haproxy`` for one circuit id;
* :func:`request` and :func:`exchange` - raw HTTP/1.1 bytes, sent in chunks, read until
  the server closes; :func:`status` - the status code of a response;
* :func:`wait_ready` - wait for a ``LiveApi`` that only accepts proxied connections.
"""

from __future__ import annotations

import socket
import time

from tests.system.live import LiveApi


def tor_header(circuit: int, sport: int | None = None, dport: int = 80) -> bytes:
    """The line Tor's onion service writes for ``circuit``, byte for byte: tor 0.4.9 formats
    the source as ``fc00:dead:beef:4dad::<high 16 bits>:<low 16 bits>`` in hex and uses the
    low 16 bits as the source port (seen on the private network of network.py)."""
    source = f"fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x}"
    return f"PROXY TCP6 {source} ::1 {circuit & 0xFFFF if sport is None else sport} {dport}\r\n"\
        .encode()


def request(method: str, path: str, body: bytes = b"", close: bool = True,
            **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: example.onion",
             f"Content-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, *chunks: bytes, pause: float = 0.0, timeout: float = 15) -> bytes:
    """Send ``chunks`` (``pause`` seconds apart), then read until the server closes."""
    out = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        try:
            while data := s.recv(65536):
                out += data
        except ConnectionResetError:
            pass
    return bytes(out)


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def wait_ready(api: LiveApi, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert api.proc.poll() is None, api.tail()
        try:
            if exchange(api.port, tor_header(1) + request("GET", "/healthz"),
                        timeout=2).startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"API did not start:\n{api.tail()}")
