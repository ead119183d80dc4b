"""crypto.sha256_state: NIST vectors, and the state exported and resumed at odd offsets."""

from __future__ import annotations

import hashlib

import pytest

from crypto.errors import FormatError
from crypto.sha256_state import Sha256

# FIPS 180-2 / NIST CSRC examples.
VECTORS = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]


@pytest.mark.parametrize(("data", "digest"), VECTORS)
def test_nist_vectors(data: bytes, digest: str) -> None:
    h = Sha256()
    h.update(data)
    assert h.hexdigest() == digest


@pytest.mark.parametrize("cuts", [(1,), (63,), (64,), (65,), (1, 2, 3), (7, 127, 1000),
                                  (55, 56, 57, 999_999)])
def test_state_round_trips_at_odd_offsets(cuts: tuple[int, ...]) -> None:
    data = b"a" * 1_000_000
    h = Sha256()
    last = 0
    for cut in cuts:
        h.update(memoryview(bytearray(data[last:cut])))
        h = Sha256.restore(h.export())  # as if the next PATCH ran in another process
        last = cut
    h.update(data[last:])
    assert h.hexdigest() == VECTORS[3][1] == hashlib.sha256(data).hexdigest()


def test_digest_does_not_end_the_hash_and_bad_states_are_refused() -> None:
    h = Sha256()
    h.update(b"ab")
    assert h.hexdigest() == hashlib.sha256(b"ab").hexdigest()
    h.update(b"c")
    assert h.hexdigest() == VECTORS[1][1]
    state = bytearray(h.export())
    with pytest.raises(FormatError):
        Sha256.restore(bytes(state[:-1]))
    state[1 + 104] = 64  # more buffered bytes than a block holds
    with pytest.raises(FormatError):
        Sha256.restore(bytes(state))
    assert "abc" not in repr(h)
