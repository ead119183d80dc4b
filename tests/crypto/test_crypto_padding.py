"""Padmé padding (property 13): the function, padded files and padded fields."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import aead
from crypto.errors import DecryptionError
from crypto.fields import SealedBytes, SealedJSON, SealedText
from crypto.keys import DataKey
from crypto.padding import PAD_FLOOR, padded_size, padme
from crypto.stream import (
    HEADER_SIZE,
    TAG_SIZE,
    TRAILER_SIZE,
    DecryptingReader,
    EncryptingWriter,
    ciphertext_size,
    decrypt_stream,
    hash_plaintext,
)

KEY = DataKey(bytes(range(32)))
FILE_ID = bytes(range(16))


def encrypt(data: bytes, record_size: int = 16) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, record_size)
    writer.write(data)
    writer.finish()
    return sink.getvalue()


def decrypt(blob: bytes) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), KEY, FILE_ID))


# -- the function ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "bucket"),
    [
        (0, 0), (1, 1), (2, 2), (3, 3), (9, 10), (17, 18), (100, 104), (129, 144),
        (1000, 1024), (1024, 1024), (1025, 1088), (1 << 20, 1 << 20),
        ((1 << 20) + 1, (1 << 20) + (1 << 15)), (10**9, 1006632960),
    ],
)
def test_known_values(length: int, bucket: int) -> None:
    assert padme(length) == bucket


def test_floor_and_negative() -> None:
    assert PAD_FLOOR == 512
    assert {padded_size(n) for n in range(PAD_FLOOR + 1)} == {PAD_FLOOR}
    assert padded_size(PAD_FLOOR + 1) == padme(PAD_FLOOR + 1) > PAD_FLOOR
    assert padded_size(10, floor=0) == 10
    with pytest.raises(ValueError):
        padme(-1)


@settings(deadline=None, database=None)
@given(st.integers(1, 1 << 62), st.integers(0, 1 << 20))
def test_bucket_properties(length: int, step: int) -> None:
    bucket = padme(length)
    assert bucket >= length
    assert (bucket - length) / length <= 0.12  # Padmé's overhead bound (max 15/129)
    assert padme(bucket) == bucket  # a bucket is its own bucket
    assert padme(length + step) >= bucket  # monotonic
    # The definition: the low E - S bits are rounded up (E = floor(log2 L), S = floor(log2 E) + 1).
    e = length.bit_length() - 1
    unit = 1 << max(0, e - e.bit_length())
    assert bucket % unit == 0 and bucket - length < unit


def test_buckets_are_few() -> None:
    # Between 1 MiB and 2 MiB only 33 sizes exist (E = 20, S = 5): that is the hiding.
    buckets = {padme(n) for n in range(1 << 20, 1 << 21, 997)}
    assert len(buckets) <= (1 << 5) + 1  # 32 steps of 2^15, plus 2^21 itself


# -- files -----------------------------------------------------------------------


RS = 16


@pytest.mark.parametrize(
    "size",
    [0, 1, RS - 1, RS, RS + 1, 7 * RS, 7 * RS + 3, PAD_FLOOR - 9, PAD_FLOOR - 8, PAD_FLOOR,
     PAD_FLOOR + 1, 1024, 1025, 1088, 1089, 3000],
)
@pytest.mark.parametrize("record_size", [8, RS, 19, 64 * 1024])
def test_round_trip_is_exact_and_size_is_the_bucket(size: int, record_size: int) -> None:
    data = bytes((i * 7 + 1) % 256 for i in range(size))
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, record_size)
    writer.write(data)
    result = writer.finish()
    blob = sink.getvalue()
    sealed = padded_size(size) + TRAILER_SIZE
    assert len(blob) == result.ciphertext_size == ciphertext_size(size, record_size)
    assert len(blob) == HEADER_SIZE + sealed + -(-sealed // record_size) * TAG_SIZE
    assert result.plaintext_size == size
    assert result.sha256 == hashlib.sha256(data).hexdigest()  # original bytes only
    assert decrypt(blob) == data
    assert hash_plaintext(io.BytesIO(blob), KEY) == (result.sha256, size)


@pytest.mark.parametrize("data", [b"", b"\x00", bytes(700), b"a" + bytes(600), bytes(600) + b"z"])
def test_zeros_in_the_data_are_not_taken_for_padding(data: bytes) -> None:
    for record_size in (8, 16, 19):
        assert decrypt(encrypt(data, record_size)) == data


def test_files_within_one_bucket_have_equal_sizes() -> None:
    # 1025..1088 share one bucket; 1089 is the next.
    sizes = {len(encrypt(bytes(n), 64)) for n in (1025, 1050, 1088)}
    assert len(sizes) == 1
    assert len(encrypt(bytes(1089), 64)) > sizes.pop()
    # And everything under the floor looks the same.
    assert len({len(encrypt(b"x" * n)) for n in (0, 1, 100, 511, 512)}) == 1


def test_real_record_size_and_large_file() -> None:
    from crypto.stream import DEFAULT_RECORD_SIZE

    size = 3 * DEFAULT_RECORD_SIZE + 12345
    data = bytes(range(256)) * (size // 256) + b"\x01" * (size % 256)
    blob = encrypt(data, DEFAULT_RECORD_SIZE)
    assert len(blob) == ciphertext_size(size)
    assert len(blob) - size <= 0.12 * size + HEADER_SIZE + TRAILER_SIZE + 4 * TAG_SIZE
    reader = DecryptingReader(io.BytesIO(blob), KEY, FILE_ID)
    pieces = list(reader)
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) <= DEFAULT_RECORD_SIZE  # constant memory


def test_padding_is_sealed_like_data() -> None:
    blob = encrypt(b"", 64)
    # 512 zeros of padding would be visible as runs of zeros if they were not encrypted.
    assert bytes(32) not in blob[HEADER_SIZE:]


def _records(blob: bytes, record_size: int) -> list[bytes]:
    body = blob[HEADER_SIZE:]
    chunk = record_size + TAG_SIZE
    return [body[i : i + chunk] for i in range(0, len(body), chunk)]


@pytest.mark.parametrize("record_size", [16, 19])
def test_tampering_with_padding_is_detected(record_size: int) -> None:
    data = b"known file" * 3
    blob = encrypt(data, record_size)
    header, records = blob[:HEADER_SIZE], _records(blob, record_size)
    assert len(records) > 3  # the padding fills several records
    # Truncate the padding: drop padding records, or cut inside the last one.
    for keep in range(1, len(records)):
        with pytest.raises(DecryptionError):
            decrypt(header + b"".join(records[:keep]))
    with pytest.raises(DecryptionError):
        decrypt(blob[:-1])
    # Flip a bit in every padding and trailer byte position.
    for pos in range(HEADER_SIZE + len(records[0]) * 2, len(blob)):
        tampered = bytearray(blob)
        tampered[pos] ^= 0x01
        with pytest.raises(DecryptionError):
            decrypt(bytes(tampered))
    # Extend: an extra copy of a padding record, or any appended byte.
    with pytest.raises(DecryptionError):
        decrypt(header + b"".join([*records[:-1], records[-2], records[-1]]))
    with pytest.raises(DecryptionError):
        decrypt(blob + b"\x00")


def _forge(sealed: bytes, record_size: int) -> bytes:
    """A file written by a faulty writer (with the key): records over ``sealed`` as given."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from crypto.stream._format import make_header, record_aad, record_nonce

    header = make_header(FILE_ID, record_size)
    parts = [sealed[i : i + record_size] for i in range(0, len(sealed), record_size)] or [b""]
    out = [header]
    for i, part in enumerate(parts):
        out.append(
            AESGCM(KEY.raw).encrypt(
                record_nonce(i), part, record_aad(header, i, i == len(parts) - 1)
            )
        )
    return b"".join(out)


def test_inconsistent_trailer_is_refused() -> None:
    good = b"abc" + bytes(509) + (3).to_bytes(8, "big")
    assert decrypt(_forge(good, 16)) == b"abc"
    bad = [
        b"abc" + bytes(509) + (2).to_bytes(8, "big"),  # size below the data
        b"abc" + bytes(509) + (600).to_bytes(8, "big"),  # size beyond the padding
        b"abc" + bytes(100) + (3).to_bytes(8, "big"),  # not the canonical bucket
        b"abc" + bytes(508) + b"\x01" + (3).to_bytes(8, "big"),  # data in the padding
        b"abc",  # no room for a trailer
    ]
    for sealed in bad:
        with pytest.raises(DecryptionError):
            decrypt(_forge(sealed, 16))


# -- fields ----------------------------------------------------------------------


def test_fields_within_one_bucket_have_equal_sizes() -> None:
    texts = ["да", "Мяне затрымалі 12.08 у Менску", "x" * 400]
    assert len({len(SealedText.seal(KEY, t, "case.narrative").ciphertext) for t in texts}) == 1
    # 1100 and 1150 bytes share a bucket (padme(1101) = padme(1151) = 1152).
    sizes = {len(SealedText.seal(KEY, "y" * n, "m").ciphertext) for n in (1100, 1150)}
    assert sizes == {aead.OVERHEAD + 1152}
    assert len(SealedText.seal(KEY, "y" * 1152, "m").ciphertext) > aead.OVERHEAD + 1152
    payloads = [{"narrative": "a"}, {"narrative": "a" * 300, "x": [1, 2, 3]}]
    assert len({len(SealedJSON.seal(KEY, p, "payload").ciphertext) for p in payloads}) == 1


@settings(deadline=None, database=None)
@given(st.binary(max_size=3000))
def test_field_round_trip_and_bucket(data: bytes) -> None:
    box = SealedBytes.seal(KEY, data, "case.bytes")
    assert box.ciphertext[0] == aead.PADDED_VERSION
    assert len(box.ciphertext) == aead.OVERHEAD + padded_size(len(data) + 1)
    assert box.open(KEY, "case.bytes") == data


def test_old_unpadded_fields_still_open() -> None:
    old = aead.encrypt(KEY.raw, "стары".encode(), b"dokaz/field/case.text")
    assert old[0] == aead.VERSION
    assert SealedText(old).open(KEY, "case.text") == "стары"


def test_malformed_field_padding_is_refused() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = bytes(12)
    aad = b"\x02dokaz/field/c"
    for padded in [b"abc" + bytes(509), b"abc\x80" + bytes(100), b"abc\x80\x01" + bytes(507)]:
        blob = b"\x02" + nonce + AESGCM(KEY.raw).encrypt(nonce, padded, aad)
        with pytest.raises(DecryptionError):
            SealedBytes(blob).open(KEY, "c")
