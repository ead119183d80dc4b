"""The PROXY protocol v1 parser (api.core.proxy_protocol): vectors from the specification's
examples, the header Tor writes, and the ways a header can be wrong."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.core.proxy_protocol import (
    MAX_HEADER_BYTES,
    ProxyHeader,
    ProxyHeaderError,
    client_identity,
    parse_header,
)

# What tor 0.4.9 wrote on the private network of tests/system/tor (circuit 39), and the
# example of tor(1) for HiddenServiceExportCircuitID.
TOR_HEADER = b"PROXY TCP6 fc00:dead:beef:4dad::0:27 ::1 39 80\r\n"
TOR_MANUAL_HEADER = b"PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n"


def parsed(data: bytes) -> ProxyHeader:
    header = parse_header(data)
    assert header is not None
    return header


def test_tor_header_names_its_circuit() -> None:
    header = parsed(TOR_HEADER + b"GET / HTTP/1.1\r\n")
    assert header.protocol == "TCP6"
    assert header.length == len(TOR_HEADER)
    assert header.source == ipaddress.IPv6Address("fc00:dead:beef:4dad::27")
    assert header.destination == ipaddress.IPv6Address("::1")
    assert (header.source_port, header.destination_port) == (39, 80)
    assert header.tor_circuit_id == 39
    assert client_identity(header) == "circuit:39"


def test_tor_manual_example_is_the_largest_circuit_id() -> None:
    header = parsed(TOR_MANUAL_HEADER)
    assert header.tor_circuit_id == 4294967295
    assert client_identity(header) == "circuit:4294967295"


def test_circuit_id_is_the_low_32_bits() -> None:
    # (0xAA << 24) + (0xBB << 16) + (0xCC << 8) + 0xDD, as tor(1) puts it
    header = parsed(b"PROXY TCP6 fc00:dead:beef:4dad::aabb:ccdd ::1 52445 80\r\n")
    assert header.tor_circuit_id == 0xAABBCCDD


@pytest.mark.parametrize("line, protocol, source, sport, dport", [
    (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", "TCP4",
     "255.255.255.255", 65535, 65535),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "TCP4", "192.168.0.1", 56324, 443),
    (b"PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", "TCP4", "0.0.0.0", 0, 0),  # noqa: S104
    (b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
     b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", "TCP6",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535),
    (b"PROXY TCP6 2001:DB8::1 ::1 1 2\r\n", "TCP6", "2001:db8::1", 1, 2),
])
def test_tcp_headers(line: bytes, protocol: str, source: str, sport: int, dport: int) -> None:
    header = parsed(line)
    assert header.protocol == protocol
    assert header.length == len(line)
    assert str(header.source) == source
    assert (header.source_port, header.destination_port) == (sport, dport)
    assert header.tor_circuit_id is None
    assert client_identity(header) == f"address:{source}"


def test_longest_tcp6_header_is_104_bytes() -> None:
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    line = f"PROXY TCP6 {full} {full} 65535 65535\r\n".encode()
    assert len(line) == 104
    assert parsed(line).length == 104


@pytest.mark.parametrize("line", [
    b"PROXY UNKNOWN\r\n",
    b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",  # 107 bytes, the worst case
    b"PROXY UNKNOWN whatever the proxy likes\r\n",
])
def test_unknown_has_no_identity(line: bytes) -> None:
    assert len(line) <= MAX_HEADER_BYTES
    header = parsed(line)
    assert header.protocol == "UNKNOWN"
    assert header.length == len(line)
    assert header.source is None
    assert client_identity(header) is None


@pytest.mark.parametrize("prefix", [
    b"", b"P", b"PROXY", b"PROXY ", b"PROXY TCP6 fc00:dead:beef:4dad::0:27",
    TOR_HEADER[:-1],  # everything but the LF
])
def test_an_unfinished_header_needs_more(prefix: bytes) -> None:
    assert parse_header(prefix) is None


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # no header at all: refused at the first byte
    b"G",
    b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c",  # the v2 binary signature
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # LF without CR
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r2\r\n",  # a stray CR
    b"PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n",
    b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",  # two spaces
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",  # trailing space
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",  # a field missing
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",  # a field too many
    b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY \r\n",
    b"PROXY\r\n",
    b"PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",  # leading zero (octal confusion)
    b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",  # the address of the other family
    b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
    b"PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n",  # IPv4 inside TCP6
    b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",  # a zone index
    b"PROXY TCP6 fc00:dead:beef:4dad:::27 ::1 1 2\r\n",
    b"PROXY TCP6 12345::1 ::1 1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",  # leading zero
    b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \xff\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n",  # a non-ASCII digit
    b"PROXY UNKNOWN" + b" " * 100,  # no CRLF within 107 bytes
    b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n",  # 108 bytes with its CRLF
])
def test_invalid_headers_are_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse_header(data)


def test_a_header_is_at_most_107_bytes() -> None:
    line = b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n"
    assert len(line) == MAX_HEADER_BYTES
    assert parsed(line).length == MAX_HEADER_BYTES
    with pytest.raises(ProxyHeaderError):
        parse_header(line[:-2] + b"x\r\n")


def test_the_clients_bytes_are_not_part_of_the_header() -> None:
    body = b"GET /healthz HTTP/1.1\r\nHost: example.onion\r\n\r\n"
    data = TOR_HEADER + body
    header = parsed(data)
    assert data[header.length:] == body


@given(st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 65535))
def test_any_tor_circuit_round_trips(circuit: int, sport: int, dport: int) -> None:
    source = ipaddress.IPv6Address(int(ipaddress.IPv6Address("fc00:dead:beef:4dad::")) | circuit)
    header = parsed(f"PROXY TCP6 {source} ::1 {sport} {dport}\r\n".encode())
    assert header.tor_circuit_id == circuit
    assert client_identity(header) == f"circuit:{circuit}"


@given(st.binary(max_size=120))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        header = parse_header(data)
    except ProxyHeaderError:
        return
    if header is not None:
        assert 15 <= header.length <= MAX_HEADER_BYTES
        assert data[header.length - 2:header.length] == b"\r\n"


@given(st.binary(max_size=120))
def test_feeding_bytes_one_at_a_time_agrees_with_all_at_once(data: bytes) -> None:
    data = TOR_HEADER[: len(data) % len(TOR_HEADER)] + data
    try:
        whole: ProxyHeader | str | None = parse_header(data)
    except ProxyHeaderError:
        whole = "error"
    step: ProxyHeader | str | None = None
    for n in range(1, len(data) + 1):
        try:
            step = parse_header(data[:n])
        except ProxyHeaderError:
            step = "error"
            break
        if step is not None:
            break
    assert step == whole
