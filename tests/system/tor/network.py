"""A private Tor network on loopback, built from this file alone, for system tests.

:func:`tor_network` writes one torrc per node into a temporary directory, makes the
directory authorities' keys (``tor-gencert`` for the v3 authority identity and signing
keys, ``tor --list-fingerprint`` for each relay identity), starts every ``tor`` process
in the foreground, waits until the onion service answers through the client's SOCKS port
and yields a :class:`TorNetwork` (onion address, SOCKS port). On exit it stops every
process and removes the directory.

The layout follows what an onion-service circuit needs and nothing more: three
authorities that are also relays, three more relays (a client path of three hops, the
rendezvous point and an introduction point must all be distinct nodes, and a relay
never builds a path through itself), one onion service and one client. No node is an
exit: onion-service traffic never leaves the network. ``TestingTorNetwork 1`` lets the
nodes use 127.0.0.1 and short voting intervals; nothing here reaches the internet.

The onion service is configured as the deployment guide says for production
(``HiddenServiceExportCircuitID haproxy``, ``HiddenServicePoWDefensesEnabled 1``), so a
test sees exactly the PROXY header a real deployment would. With ``staff_port`` the same
tor also runs the staff onion service of docs/deployment-tor.md: client authorisation by
an x25519 key in ``authorized_clients/``, whose private half only the client node holds
(``ClientOnionAuthDir``); an "outsider" client without it shows the service is closed to
everyone else.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

AUTHORITIES = 3
RELAYS = 3
BOOT_TIMEOUT_SECONDS = 150.0  # about 25-70 s on the CI machines; more means broken

# Options every node shares. AssumeReachable uploads a relay's descriptor without its
# reachability self-test, and the TestingDirAuthVote* options make authorities vote the
# Guard and HSDir flags for every relay instead of after observed uptime; with them a
# network this small is usable after one or two consensus rounds.
_COMMON = """\
TestingTorNetwork 1
DataDirectory {dir}
Nickname {nick}
Address 127.0.0.1
ShutdownWaitLength 0
Log notice file {dir}/notice.log
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
V3AuthNIntervalsValid 2
ClientUseIPv6 0
ConnLimit 64
{authorities}
"""

_RELAY = """\
SocksPort 0
ORPort 127.0.0.1:{orport}
DirPort 127.0.0.1:{dirport}
ExitRelay 0
ExitPolicy reject *:*
ContactInfo {nick}@example.invalid
"""

# Voting every 10 s (5 s for the first round): VoteDelay + DistDelay must stay below the
# interval, and the interval must divide 30 minutes.
_AUTHORITY = """\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
V3AuthVotingInterval 10
TestingV3AuthInitialVoteDelay 2
V3AuthVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthDistDelay 2
"""

_ONION_SERVICE = """\
SocksPort 0
HiddenServiceDir {dir}/onion
HiddenServicePort 80 127.0.0.1:{target_port}
HiddenServiceExportCircuitID haproxy
HiddenServicePoWDefensesEnabled 1
"""

_STAFF_SERVICE = """\
HiddenServiceDir {dir}/staff
HiddenServicePort 80 127.0.0.1:{staff_port}
"""

_CLIENT = """\
SocksPort 127.0.0.1:{socks_port}
"""


class TorNetworkError(AssertionError):
    """The network did not come up; the message carries the tail of every node's log."""


@dataclass
class Node:
    nick: str
    dir: Path
    torrc: str = ""
    proc: subprocess.Popen[bytes] | None = None
    stderr: IO[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.dir / "notice.log"

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = ["(no log)"]
        return f"--- {self.nick} ({self.log})\n" + "\n".join(text)


@dataclass
class TorNetwork:
    onion: str  # "<56 base32 characters>.onion"
    socks_port: int
    root: Path
    nodes: list[Node] = field(default_factory=list)
    staff_onion: str | None = None  # only the client at socks_port holds its key
    outsider_socks_port: int | None = None  # a client without the staff key

    def proxy_url(self, circuit: str) -> str:
        """A SOCKS5 proxy URL whose username picks the circuit: with ``IsolateSOCKSAuth``
        (Tor's default) streams with different credentials never share a circuit."""
        return f"socks5://{circuit}:x@127.0.0.1:{self.socks_port}"

    def logs(self) -> str:
        return "\n".join(node.tail() for node in self.nodes)


def tor_available() -> bool:
    return shutil.which("tor") is not None and shutil.which("tor-gencert") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(cmd: list[str], stdin: bytes = b"") -> str:
    done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise TorNetworkError(f"{' '.join(cmd)} failed ({done.returncode}):\n"
                              + done.stderr.decode(errors="replace")
                              + done.stdout.decode(errors="replace"))
    return done.stdout.decode()


def _authority_keys(node: Node, dirport: int) -> str:
    """Make the v3 authority keys in the node's keys/ directory; return the v3 identity
    (the fingerprint of the authority identity key, from its certificate)."""
    keys = node.dir / "keys"
    keys.mkdir(parents=True, mode=0o700)
    _run(["tor-gencert", "--create-identity-key", "--passphrase-fd", "0", "-m", "12",
          "-a", f"127.0.0.1:{dirport}",
          "-i", str(keys / "authority_identity_key"),
          "-s", str(keys / "authority_signing_key"),
          "-c", str(keys / "authority_certificate")], stdin=b"\n")
    for line in (keys / "authority_certificate").read_text().splitlines():
        if line.startswith("fingerprint "):
            return line.split()[1]
    raise TorNetworkError(f"no fingerprint in {keys / 'authority_certificate'}")


def _relay_fingerprint(node: Node) -> str:
    """Create the node's relay identity key and return its fingerprint (tor prints it and
    exits). The DirAuthority given is a placeholder that keeps the public network's
    authorities out of this one-off configuration; nothing is contacted."""
    out = _run(["tor", "--ignore-missing-torrc", "-f", "/dev/null", "--quiet",
                "--list-fingerprint", "--DataDirectory", str(node.dir),
                "--Nickname", node.nick, "--ORPort", "1",
                "--DirAuthority", "placeholder 127.0.0.1:1 " + "f" * 40])
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == node.nick:
            return parts[1].replace(" ", "")
    raise TorNetworkError(f"tor --list-fingerprint printed no fingerprint for {node.nick}: {out}")


def x25519_keypair() -> tuple[str, str]:
    """(private, public) x25519 key in the form tor's client authorisation files take:
    base32 of the 32 raw key bytes, without padding."""
    key = X25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return (base64.b32encode(private).decode().rstrip("="),
            base64.b32encode(public).decode().rstrip("="))


def _socks5_connect(port: int, host: str, dest_port: int, username: str,
                    timeout: float) -> bool:
    """True if Tor's client connects a stream to ``host:dest_port`` (a SOCKS5 CONNECT
    reply of success): for an onion service that means the rendezvous worked and the
    service's tor reached its target port."""
    user = username.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"\x05\x01\x02")  # version 5, one method: username/password
        if s.recv(2) != b"\x05\x02":
            return False
        s.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01x")
        if s.recv(2) != b"\x01\x00":
            return False
        name = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name
                  + struct.pack("!H", dest_port))
        reply = s.recv(10)
        return len(reply) >= 2 and reply[1] == 0


def _check_running(net: TorNetwork) -> None:
    for node in net.nodes:
        if node.proc is not None and node.proc.poll() is not None:
            raise TorNetworkError(f"tor node {node.nick} exited ({node.proc.returncode})"
                                  f"\n{net.logs()}")


def _wait_reachable(net: TorNetwork, onion: str, socks_port: int, deadline: float) -> None:
    attempt = 0
    while time.monotonic() < deadline:
        _check_running(net)
        attempt += 1
        with contextlib.suppress(OSError):
            # A fresh username per try: a failed circuit is not reused for the next one.
            if _socks5_connect(socks_port, onion, 80, f"probe{attempt}",
                               timeout=max(1.0, min(30.0, deadline - time.monotonic()))):
                return
        time.sleep(1)
    raise TorNetworkError(f"{onion} was not reachable through the client at port "
                          f"{socks_port} in time\n{net.logs()}")


def socks5_reaches(socks_port: int, onion: str, username: str, timeout: float = 60) -> bool:
    """One attempt to open a stream to ``onion:80`` through a client's SOCKS port."""
    try:
        return _socks5_connect(socks_port, onion, 80, username, timeout)
    except OSError:
        return False


def _wait_for_file(path: Path, net: TorNetwork, deadline: float) -> str:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            text = path.read_text().strip()
            if text:
                return text
        time.sleep(0.2)
    raise TorNetworkError(f"{path} did not appear\n{net.logs()}")


def _start(node: Node) -> None:
    torrc = node.dir / "torrc"
    torrc.write_text(node.torrc)
    node.stderr = open(node.dir / "stderr.log", "wb")  # noqa: SIM115 (closed in _stop)
    node.proc = subprocess.Popen(
        ["tor", "--ignore-missing-torrc", "--defaults-torrc", "/dev/null", "-f", str(torrc)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=node.stderr)


def _stop(nodes: list[Node]) -> None:
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.terminate()
    for node in nodes:
        if node.proc is None:
            continue
        try:
            node.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait(timeout=10)
    for node in nodes:
        if node.stderr is not None:
            node.stderr.close()


@contextlib.contextmanager
def tor_network(target_port: int, *, staff_port: int | None = None,
                timeout: float = BOOT_TIMEOUT_SECONDS,
                keep_dir: bool = False) -> Iterator[TorNetwork]:
    """A running private Tor network whose onion service forwards port 80 to
    ``127.0.0.1:target_port`` (and, with ``staff_port``, a client-authorised staff onion
    service to ``127.0.0.1:staff_port``). Something should listen there before the network
    is up: reachability is proven by a stream that the service's tor connects to."""
    root = Path(tempfile.mkdtemp(prefix="dokaz-tor-"))
    nodes: list[Node] = []
    try:
        deadline = time.monotonic() + timeout
        auth_lines: list[str] = []
        relays: list[tuple[Node, int, int]] = []
        for i in range(AUTHORITIES + RELAYS):
            kind = "auth" if i < AUTHORITIES else "relay"
            node = Node(f"{kind}{i:02d}", root / f"{kind}{i:02d}")
            node.dir.mkdir(mode=0o700)
            orport, dirport = free_port(), free_port()
            if i < AUTHORITIES:
                v3ident = _authority_keys(node, dirport)
                fingerprint = _relay_fingerprint(node)
                auth_lines.append(f"DirAuthority {node.nick} orport={orport} no-v2 "
                                  f"v3ident={v3ident} 127.0.0.1:{dirport} {fingerprint}")
            relays.append((node, orport, dirport))
            nodes.append(node)
        authorities = "\n".join(auth_lines)

        for i, (node, orport, dirport) in enumerate(relays):
            node.torrc = (_COMMON.format(dir=node.dir, nick=node.nick, authorities=authorities)
                          + _RELAY.format(orport=orport, dirport=dirport, nick=node.nick)
                          + (_AUTHORITY if i < AUTHORITIES else ""))

        service = Node("onion", root / "onion")
        service.dir.mkdir(mode=0o700)
        service.torrc = (_COMMON.format(dir=service.dir, nick="onion", authorities=authorities)
                         + _ONION_SERVICE.format(dir=service.dir, target_port=target_port))
        client = Node("client", root / "client")
        client.dir.mkdir(mode=0o700)
        socks_port = free_port()
        client.torrc = (_COMMON.format(dir=client.dir, nick="client", authorities=authorities)
                        + _CLIENT.format(socks_port=socks_port))
        clients = [client]
        staff_private, outsider_port = "", 0
        if staff_port is not None:
            service.torrc += _STAFF_SERVICE.format(dir=service.dir, staff_port=staff_port)
            # The service side: one ".auth" file per authorised client (tor(1), CLIENT
            # AUTHORIZATION); with at least one loaded, nobody else can reach the service.
            staff_private, staff_public = x25519_keypair()
            authorized = service.dir / "staff" / "authorized_clients"
            authorized.mkdir(parents=True, mode=0o700)
            (service.dir / "staff").chmod(0o700)
            (authorized / "caseworker.auth").write_text(f"descriptor:x25519:{staff_public}\n")
            client.torrc += f"ClientOnionAuthDir {client.dir}/onion-auth\n"
            outsider = Node("outsider", root / "outsider")
            outsider.dir.mkdir(mode=0o700)
            outsider_port = free_port()
            outsider.torrc = (_COMMON.format(dir=outsider.dir, nick="outsider",
                                             authorities=authorities)
                              + _CLIENT.format(socks_port=outsider_port))
            clients.append(outsider)

        nodes.append(service)
        for node in nodes:
            _start(node)
        net = TorNetwork("", socks_port, root, nodes)
        net.onion = _wait_for_file(service.dir / "onion" / "hostname", net, deadline)
        if staff_port is not None:
            net.staff_onion = _wait_for_file(service.dir / "staff" / "hostname", net, deadline)
            # The client side: "<address without .onion>:descriptor:x25519:<private key>",
            # in place before the client starts (it reads the directory at start and on HUP).
            auth_dir = client.dir / "onion-auth"
            auth_dir.mkdir(mode=0o700)
            (auth_dir / "staff.auth_private").write_text(
                f"{net.staff_onion.removesuffix('.onion')}:descriptor:x25519:{staff_private}\n")
            net.outsider_socks_port = outsider_port
        for node in clients:
            nodes.append(node)
            _start(node)
        _wait_reachable(net, net.onion, socks_port, deadline)
        if net.staff_onion is not None:
            _wait_reachable(net, net.staff_onion, socks_port, deadline)
        yield net
    finally:
        _stop(nodes)
        if not keep_dir:
            shutil.rmtree(root, ignore_errors=True)
