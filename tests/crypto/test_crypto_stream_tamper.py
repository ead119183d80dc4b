"""Streaming format under attack: every manipulation is detected, and the
reader never yields a byte from a record that failed authentication.

A reader may already have yielded earlier, authentic records when a later one
fails (e.g. truncation is only visible at the end): callers must buffer or
discard on error. These tests check exactly that contract.
"""

from __future__ import annotations

import io

import pytest

from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.stream import HEADER_SIZE, TAG_SIZE, DecryptingReader, EncryptingWriter, decrypt_stream

RS = 16
CHUNK = RS + TAG_SIZE
FILE_ID = bytes(range(16))
OTHER_ID = bytes(range(16, 32))
KEY = DataKey(bytes(range(32)))
DATA = bytes(range(40))  # records: 16 + 16 + 8
RECORDS = [DATA[0:16], DATA[16:32], DATA[32:40]]


def encrypt(data: bytes = DATA, file_id: bytes = FILE_ID, key: DataKey = KEY) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, file_id, key, RS)
    writer.write(data)
    writer.finish()
    return sink.getvalue()


BLOB = encrypt()


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def read_until_error(
    blob: bytes, key: DataKey = KEY, expected_id: bytes | None = FILE_ID
) -> tuple[list[bytes], CryptoError]:
    """Collect what the reader yields before it raises; fail if it never raises."""
    yielded: list[bytes] = []
    try:
        for record in DecryptingReader(io.BytesIO(blob), key, expected_id):
            yielded.append(record)
    except CryptoError as exc:
        return yielded, exc
    pytest.fail("manipulated stream decrypted without error")


def assert_only_authentic_prefix(yielded: list[bytes], bad_record: int) -> None:
    assert len(yielded) <= bad_record
    assert yielded == RECORDS[: len(yielded)]


def test_layout() -> None:
    header, records = split(BLOB)
    assert header[:5] == b"DKZF\x01"
    assert int.from_bytes(header[5:9], "big") == RS
    assert header[9:] == FILE_ID
    assert [len(r) for r in records] == [CHUNK, CHUNK, 8 + TAG_SIZE]


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_flipped_bit_is_detected(mask: int) -> None:
    for pos in range(len(BLOB)):
        tampered = bytearray(BLOB)
        tampered[pos] ^= mask
        yielded, exc = read_until_error(bytes(tampered))
        if pos < HEADER_SIZE:
            # Header bits: caught as a format error, a file-id mismatch, or by
            # every record's AAD; nothing at all is yielded.
            assert yielded == []
            assert isinstance(exc, FormatError | DecryptionError)
        else:
            assert isinstance(exc, DecryptionError)
            assert_only_authentic_prefix(yielded, (pos - HEADER_SIZE) // CHUNK)


def test_flipped_header_bits_without_expected_file_id() -> None:
    for pos in range(HEADER_SIZE):
        tampered = bytearray(BLOB)
        tampered[pos] ^= 0x01
        yielded, _ = read_until_error(bytes(tampered), expected_id=None)
        assert yielded == []


def test_truncation_at_every_length() -> None:
    for length in range(len(BLOB)):
        yielded, exc = read_until_error(BLOB[:length])
        if length < HEADER_SIZE:
            assert isinstance(exc, FormatError)
        else:
            assert isinstance(exc, DecryptionError)
        # Whatever was yielded is authentic and complete records only.
        assert yielded == RECORDS[: len(yielded)]
        assert len(yielded) < len(RECORDS)


def test_truncation_exactly_at_record_boundaries() -> None:
    # Multiple of the record size: the final record is a full one.
    data = bytes(range(48))
    blob = encrypt(data)
    for records in range(0, 3):
        cut = blob[: HEADER_SIZE + records * CHUNK]
        with pytest.raises(DecryptionError):
            b"".join(decrypt_stream(io.BytesIO(cut), KEY))


def test_reordered_records() -> None:
    header, (r0, r1, r2) = split(BLOB)
    for order in ([r1, r0, r2], [r0, r2, r1], [r2, r0, r1]):
        yielded, exc = read_until_error(header + b"".join(order))
        assert isinstance(exc, DecryptionError)
        bad = next(i for i, r in enumerate(order) if r != [r0, r1, r2][i])
        assert_only_authentic_prefix(yielded, bad)


def test_duplicated_dropped_and_appended_records() -> None:
    header, (r0, r1, r2) = split(BLOB)
    for records in ([r0, r0, r1, r2], [r0, r2], [r1, r2], [r0, r1, r2, r2], [r0, r1]):
        _, exc = read_until_error(header + b"".join(records))
        assert isinstance(exc, DecryptionError)
    _, exc = read_until_error(BLOB + b"\x00")
    assert isinstance(exc, DecryptionError)


def test_record_copied_from_another_file() -> None:
    # Worst case: same key (keys are per file, so normally they differ too).
    other = encrypt(bytes(40), file_id=OTHER_ID)
    header, (r0, r1, r2) = split(BLOB)
    other_header, (_, o1, _) = split(other)
    yielded, exc = read_until_error(header + r0 + o1 + r2)
    assert isinstance(exc, DecryptionError)
    assert_only_authentic_prefix(yielded, 1)
    # Whole other file under this file's expected id: rejected up front.
    yielded, exc = read_until_error(other, expected_id=FILE_ID)
    assert yielded == [] and isinstance(exc, DecryptionError)
    # Other file's header with our records.
    yielded, exc = read_until_error(other_header + r0 + r1 + r2, expected_id=None)
    assert yielded == [] and isinstance(exc, DecryptionError)


def test_wrong_key() -> None:
    yielded, exc = read_until_error(BLOB, key=DataKey.generate())
    assert yielded == [] and isinstance(exc, DecryptionError)


def test_wrong_expected_file_id() -> None:
    yielded, exc = read_until_error(BLOB, expected_id=OTHER_ID)
    assert yielded == [] and isinstance(exc, DecryptionError)


@pytest.mark.parametrize(
    "header_patch",
    [(0, b"XKZF"), (4, b"\x02"), (5, b"\x00\x00\x00\x00"), (5, b"\x7f\x00\x00\x00")],
)
def test_bad_header_is_a_format_error(header_patch: tuple[int, bytes]) -> None:
    pos, patch = header_patch
    blob = BLOB[:pos] + patch + BLOB[pos + len(patch) :]
    with pytest.raises(FormatError):
        list(decrypt_stream(io.BytesIO(blob), KEY))


def test_empty_input_and_header_only() -> None:
    with pytest.raises(FormatError):
        list(decrypt_stream(io.BytesIO(b""), KEY))
    with pytest.raises(DecryptionError):
        list(decrypt_stream(io.BytesIO(BLOB[:HEADER_SIZE]), KEY))


def test_decrypt_stream_with_corrupted_final_record() -> None:
    tampered = bytearray(BLOB)
    tampered[-1] ^= 0x01
    stream = decrypt_stream(io.BytesIO(bytes(tampered)), KEY, FILE_ID)
    assert next(stream) == RECORDS[0]
    assert next(stream) == RECORDS[1]
    with pytest.raises(DecryptionError) as info:
        next(stream)
    assert "record 2" in str(info.value)
