"""Streaming format under attack: every manipulation is detected, and the
reader never yields a byte from a record that failed authentication.

A reader may already have yielded earlier, authentic records when a later one
fails (e.g. truncation is only visible at the end): callers must buffer or
discard on error. These tests check exactly that contract, on format 2 (padded:
the 40 data bytes are followed by zeros up to 512 and the size, 33 records).
Padding-specific manipulations are in test_crypto_padding.py.
"""

from __future__ import annotations

import io

import pytest

from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.keys import DataKey
from crypto.padding import padded_size
from crypto.stream import (
    HEADER_SIZE,
    TAG_SIZE,
    TRAILER_SIZE,
    DecryptingReader,
    EncryptingWriter,
    decrypt_stream,
)

RS = 16
CHUNK = RS + TAG_SIZE
FILE_ID = bytes(range(16))
OTHER_ID = bytes(range(16, 32))
KEY = DataKey(bytes(range(32)))
DATA = bytes(range(1, 41))  # data in records 0..2 (16 + 16 + 8), then padding
SEALED_RECORDS = -(-(padded_size(len(DATA)) + TRAILER_SIZE) // RS)  # 33


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
    """Only bytes of records before ``bad_record`` came out, and they are authentic."""
    got = b"".join(yielded)
    assert len(got) <= min(len(DATA), bad_record * RS)
    assert DATA.startswith(got)


def test_layout() -> None:
    header, records = split(BLOB)
    assert header[:5] == b"DKZF\x02"
    assert int.from_bytes(header[5:9], "big") == RS
    assert header[9:] == FILE_ID
    assert SEALED_RECORDS == 33
    assert [len(r) for r in records] == [CHUNK] * 32 + [8 + TAG_SIZE]


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
        # Whatever was yielded is authentic (a cut in the padding comes after all
        # of the data: the error still comes, and callers discard on error).
        assert_only_authentic_prefix(yielded, max(0, (length - HEADER_SIZE) // CHUNK))


def test_truncation_exactly_at_record_boundaries() -> None:
    # Padded to 512 + 8-byte trailer = 65 records of 8: the final record is a full one.
    rs = 8
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, FILE_ID, KEY, rs)
    writer.write(DATA)
    writer.finish()
    blob = sink.getvalue()
    assert len(blob) == HEADER_SIZE + 65 * (rs + TAG_SIZE)
    for records in range(0, 65):
        cut = blob[: HEADER_SIZE + records * (rs + TAG_SIZE)]
        with pytest.raises(DecryptionError):
            b"".join(decrypt_stream(io.BytesIO(cut), KEY))


def test_reordered_records() -> None:
    header, records = split(BLOB)
    r0, r1, r2, *rest = records
    for order in ([r1, r0, r2], [r0, r2, r1], [r2, r0, r1]):
        yielded, exc = read_until_error(header + b"".join(order + rest))
        assert isinstance(exc, DecryptionError)
        bad = next(i for i, r in enumerate(order) if r != [r0, r1, r2][i])
        assert_only_authentic_prefix(yielded, bad)
    # Swapping two padding records is caught too (the nonce binds the position).
    swapped = [*records[:10], records[11], records[10], *records[12:]]
    _, exc = read_until_error(header + b"".join(swapped))
    assert isinstance(exc, DecryptionError)


def test_duplicated_dropped_and_appended_records() -> None:
    header, records = split(BLOB)
    r0, r1, r2, *rest = records
    for changed in (
        [r0, r0, r1, r2, *rest], [r0, r2, *rest], [r1, r2, *rest], [*records, records[-1]],
        records[:-1], records[:-2] + records[-1:],
    ):
        _, exc = read_until_error(header + b"".join(changed))
        assert isinstance(exc, DecryptionError)
    _, exc = read_until_error(BLOB + b"\x00")
    assert isinstance(exc, DecryptionError)


def test_record_copied_from_another_file() -> None:
    # Worst case: same key (keys are per file, so normally they differ too).
    other = encrypt(bytes(40), file_id=OTHER_ID)
    header, records = split(BLOB)
    other_header, other_records = split(other)
    yielded, exc = read_until_error(
        header + records[0] + other_records[1] + b"".join(records[2:])
    )
    assert isinstance(exc, DecryptionError)
    assert_only_authentic_prefix(yielded, 1)
    # Whole other file under this file's expected id: rejected up front.
    yielded, exc = read_until_error(other, expected_id=FILE_ID)
    assert yielded == [] and isinstance(exc, DecryptionError)
    # Other file's header with our records.
    yielded, exc = read_until_error(other_header + b"".join(records), expected_id=None)
    assert yielded == [] and isinstance(exc, DecryptionError)


def test_wrong_key() -> None:
    yielded, exc = read_until_error(BLOB, key=DataKey.generate())
    assert yielded == [] and isinstance(exc, DecryptionError)


def test_wrong_expected_file_id() -> None:
    yielded, exc = read_until_error(BLOB, expected_id=OTHER_ID)
    assert yielded == [] and isinstance(exc, DecryptionError)


@pytest.mark.parametrize(
    "header_patch",
    [
        (0, b"XKZF"), (4, b"\x03"), (4, b"\x00"), (5, b"\x00\x00\x00\x00"),
        (5, b"\x00\x00\x00\x07"),  # format 2 needs records of at least 8 bytes
        (5, b"\x7f\x00\x00\x00"),
    ],
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
    assert next(stream) == DATA[0:16]
    assert next(stream) == DATA[16:32]
    assert next(stream) == DATA[32:40]
    with pytest.raises(DecryptionError) as info:
        next(stream)
    assert "record 32" in str(info.value)
