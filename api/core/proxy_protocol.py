"""The PROXY protocol, version 1 (HAProxy's text header), as a pure parser.

A proxy that speaks it writes one line before the client's first byte::

    PROXY TCP4 <src> <dst> <sport> <dport>\\r\\n
    PROXY TCP6 <src> <dst> <sport> <dport>\\r\\n
    PROXY UNKNOWN[ anything]\\r\\n

Tor's onion service sends it with ``HiddenServiceExportCircuitID haproxy``, always as
TCP6 from ``fc00:dead:beef:4dad::/64`` whose low 32 bits are the circuit's global
identifier (tor(1), that option). :func:`parse_header` takes the bytes received so far and
says "need more", "this header, N bytes long" or raises; :func:`client_identity` turns a
header into the identity per-client limits may be keyed on. Nothing here does I/O: the
connection protocol (:mod:`api.core.server`) feeds it bytes.

The parser is strict, as the specification asks of a receiver: v1 only (the v2 binary
signature is refused), at most 107 bytes including CRLF, exactly one space between
fields, CRLF and no other CR or LF, addresses in the canonical form of the announced
family (no leading zeros, no IPv4 inside TCP6, no zone index), decimal ports 0-65535
without leading zeros.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

MAX_HEADER_BYTES = 107  # "PROXY UNKNOWN <39> <39> 65535 65535\r\n", the spec's worst case
_PREFIX = b"PROXY "
_PORT = re.compile(rb"0|[1-9][0-9]{0,4}")
_IPV4 = re.compile(rb"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")
_IPV6 = re.compile(rb"[0-9A-Fa-f:]{2,39}")

# Tor's source prefix for exported circuit ids (RFC 4193 unique-local space).
TOR_CIRCUIT_NETWORK = ipaddress.IPv6Network("fc00:dead:beef:4dad::/64")

Protocol = Literal["TCP4", "TCP6", "UNKNOWN"]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyHeaderError(ValueError):
    """The bytes are not a valid PROXY protocol v1 header; the connection must close."""


@dataclass(frozen=True)
class ProxyHeader:
    protocol: Protocol
    length: int  # bytes the header occupies, CRLF included; what follows is the client's
    source: Address | None = None  # None for UNKNOWN
    destination: Address | None = None
    source_port: int | None = None
    destination_port: int | None = None

    @property
    def tor_circuit_id(self) -> int | None:
        """The circuit's global identifier if Tor wrote this header, else None."""
        if isinstance(self.source, ipaddress.IPv6Address) and self.source in TOR_CIRCUIT_NETWORK:
            return int(self.source) & 0xFFFFFFFF
        return None


def parse_header(data: bytes) -> ProxyHeader | None:
    """Parse the header at the start of ``data``.

    Returns None while ``data`` is a valid beginning of a header that is not finished
    yet, the header once its CRLF has arrived (``length`` tells where the client's bytes
    start), and raises :class:`ProxyHeaderError` as soon as the bytes cannot become one.
    """
    head = data[:MAX_HEADER_BYTES]
    if not (head.startswith(_PREFIX) or _PREFIX.startswith(head)):
        raise ProxyHeaderError("not a PROXY protocol v1 header")
    end = head.find(b"\r\n")
    if end < 0:
        if b"\n" in head or b"\r" in head[:-1]:
            raise ProxyHeaderError("a line break other than CRLF")
        if len(data) >= MAX_HEADER_BYTES:
            raise ProxyHeaderError(f"no CRLF within {MAX_HEADER_BYTES} bytes")
        return None
    line = head[:end]
    if b"\r" in line or b"\n" in line:
        raise ProxyHeaderError("a line break other than CRLF")
    return _parse_line(line, end + 2)


def _parse_line(line: bytes, length: int) -> ProxyHeader:
    fields = line.split(b" ")
    if fields[0] != b"PROXY" or len(fields) < 2:
        raise ProxyHeaderError("not a PROXY protocol v1 header")
    if fields[1] == b"UNKNOWN":
        # The spec: a receiver ignores whatever follows UNKNOWN up to the CRLF.
        return ProxyHeader("UNKNOWN", length)
    if fields[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("unknown protocol family")
    if len(fields) != 6:
        raise ProxyHeaderError("a TCP4/TCP6 header has exactly five fields after PROXY")
    protocol: Protocol = "TCP4" if fields[1] == b"TCP4" else "TCP6"
    return ProxyHeader(protocol, length,
                       source=_address(protocol, fields[2]),
                       destination=_address(protocol, fields[3]),
                       source_port=_port(fields[4]), destination_port=_port(fields[5]))


def _address(protocol: Protocol, raw: bytes) -> Address:
    pattern = _IPV4 if protocol == "TCP4" else _IPV6
    if not pattern.fullmatch(raw):
        raise ProxyHeaderError(f"not a {protocol} address")
    try:
        if protocol == "TCP4":
            return ipaddress.IPv4Address(raw.decode("ascii"))
        return ipaddress.IPv6Address(raw.decode("ascii"))
    except ValueError as exc:
        raise ProxyHeaderError(f"not a {protocol} address") from exc


def _port(raw: bytes) -> int:
    if not _PORT.fullmatch(raw) or int(raw) > 65535:
        raise ProxyHeaderError("not a port number")
    return int(raw)


def client_identity(header: ProxyHeader) -> str | None:
    """What per-client limits may be keyed on, before it is HMACed into a client tag:

    * ``circuit:<id>`` for a header from Tor: one Tor circuit (Tor Browser uses one per
      site and identity, so one visitor; a new identity is a new circuit);
    * ``address:<source>`` for any other TCP4/TCP6 header (a load balancer forwarding the
      real client address);
    * None for UNKNOWN: the proxy does not know the client, so there is no identity and
      no per-client limit may apply (keying them on a shared value would let one client
      shut out everyone behind the same proxy).
    """
    circuit = header.tor_circuit_id
    if circuit is not None:
        return f"circuit:{circuit}"
    if header.source is None:
        return None
    return f"address:{header.source}"
