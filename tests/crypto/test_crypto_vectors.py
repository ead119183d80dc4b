"""Known-answer tests: every stored format decrypts its checked-in vector and
re-encrypts, with the same fixed inputs, to the same bytes.

If one of these fails after a code change, a stored format changed: existing
data would become unreadable. Bump the version byte instead.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from crypto import aead, receipts, recovery, sealed, staff_keys
from crypto.fields import SealedBytes, SealedJSON, SealedText
from crypto.keys import DataKey, StaffKeyPair
from crypto.passwords import Argon2Params
from crypto.stream import EncryptingWriter, decrypt_stream, hash_plaintext

Vectors = Callable[[str], list[dict[str, Any]]]
h = bytes.fromhex


def test_aead_vectors(vectors: Vectors) -> None:
    for v in vectors("aead"):
        assert aead.decrypt(h(v["key"]), h(v["blob"]), h(v["context"])) == h(v["plaintext"])
        again = aead.encrypt(h(v["key"]), h(v["plaintext"]), h(v["context"]), nonce=h(v["nonce"]))
        assert again.hex() == v["blob"]
        assert again[0] == 1


def test_sealed_vectors(vectors: Vectors) -> None:
    for v in vectors("sealed"):
        pair = StaffKeyPair.from_private_bytes(h(v["recipient_private"]))
        assert pair.public_bytes.hex() == v["recipient_public"]
        box = h(v["sealed"])
        assert sealed.open_sealed(pair.private_bytes, box, h(v["context"])) == h(v["plaintext"])
        again = sealed.seal(
            pair.public_bytes,
            h(v["plaintext"]),
            h(v["context"]),
            ephemeral_private=h(v["ephemeral_private"]),
            nonce=h(v["nonce"]),
        )
        assert again == box


def test_staff_key_vectors(vectors: Vectors) -> None:
    for v in vectors("staff_keys"):
        blob = h(v["sealed"])
        assert staff_keys.unseal_private_key(blob, v["password"]) == h(v["private_key"])
        params = Argon2Params.decode(h(v["params"]))
        again = staff_keys.seal_private_key(
            h(v["private_key"]), v["password"], params, salt=h(v["salt"]), nonce=h(v["nonce"])
        )
        assert again == blob


def test_session_vectors(vectors: Vectors) -> None:
    for v in vectors("session"):
        assert staff_keys.session_token_hash(v["token"]).hex() == v["token_hash"]
        blob = h(v["blob"])
        got = staff_keys.decrypt_for_session(blob, v["token"], v["session_id"])
        assert got == h(v["private_key"])
        again = staff_keys.encrypt_for_session(
            h(v["private_key"]), v["token"], v["session_id"], nonce=h(v["nonce"])
        )
        assert again == blob


def test_receipt_vectors(vectors: Vectors) -> None:
    for v in vectors("receipts"):
        receipt = receipts.parse_receipt(v["text"])
        verifier = receipts.ReceiptVerifier.from_bytes(h(v["verifier"]))
        assert verifier.salt.hex() == v["salt"]
        assert verifier.params == Argon2Params.decode(h(v["params"]))
        assert receipts.verify_receipt(receipt, verifier) == h(v["kek"])
        again, kek = receipts.receipt_secrets(receipt, salt=verifier.salt, params=verifier.params)
        assert again.to_bytes() == h(v["verifier"])
        assert kek == h(v["kek"])


# Format 1 files were stored before padding and must keep opening; the writer can
# still produce format 1 only to finish a stream suspended in it (``_version``).
@pytest.mark.parametrize(("name", "version"), [("stream", 1), ("stream_v2", 2)])
def test_stream_vectors(vectors: Vectors, name: str, version: int) -> None:
    for v in vectors(name):
        key, file_id = DataKey(h(v["key"])), h(v["file_id"])
        ciphertext = h(v["ciphertext"])
        plain = b"".join(decrypt_stream(io.BytesIO(ciphertext), key, file_id))
        assert plain == h(v["plaintext"])
        assert hash_plaintext(io.BytesIO(ciphertext), key) == (v["sha256"], len(plain))
        sink = io.BytesIO()
        writer = EncryptingWriter(sink, file_id, key, v["record_size"], _version=version)
        writer.write(plain)
        result = writer.finish()
        assert sink.getvalue() == ciphertext
        assert (result.sha256, result.records) == (v["sha256"], v["records"])
        assert ciphertext[:5] == b"DKZF" + bytes([version])
        if version == 2:
            # What new uploads get by default.
            fresh = io.BytesIO()
            default = EncryptingWriter(fresh, file_id, key, v["record_size"])
            default.write(plain)
            default.finish()
            assert fresh.getvalue() == ciphertext


@pytest.mark.parametrize(("name", "version"), [("stream_state", 1), ("stream_state_v2", 2)])
def test_stream_state_vectors(vectors: Vectors, name: str, version: int) -> None:
    for v in vectors(name):
        key, file_id, rs = DataKey(h(v["key"])), h(v["file_id"]), v["record_size"]
        plaintext, split = h(v["plaintext"]), v["split"]
        sink = io.BytesIO(h(v["partial_ciphertext"]))
        sink.seek(0, io.SEEK_END)
        # Resuming continues in the state's own format (its records bind that header).
        writer = EncryptingWriter.resume(sink, file_id, key, h(v["state"]), rs)
        writer.write(plaintext[split:])
        writer.finish()
        assert sink.getvalue()[4] == version
        sink.seek(0)
        assert b"".join(decrypt_stream(sink, key, file_id)) == plaintext
        fresh = io.BytesIO()
        again = EncryptingWriter(fresh, file_id, key, rs, _version=version)
        again.write(plaintext[:split])
        assert again.suspend(nonce=h(v["nonce"])) == h(v["state"])
        assert fresh.getvalue() == h(v["partial_ciphertext"])


def test_field_vectors_v1_still_open(vectors: Vectors) -> None:
    for v in vectors("fields"):
        key, ctx = DataKey(h(v["key"])), v["context"]
        ct = h(v["ciphertext"])
        assert ct[0] == 1
        if v["name"] == "text":
            assert SealedText(ct).open(key, ctx) == v["value"]
        elif v["name"] == "json":
            assert SealedJSON(ct).open(key, ctx) == v["value"]
        else:
            assert SealedBytes(ct).open(key, ctx) == h(v["value"])


def test_field_vectors(vectors: Vectors) -> None:
    for v in vectors("fields_v2"):
        key, ctx, nonce = DataKey(h(v["key"])), v["context"], h(v["nonce"])
        ct = h(v["ciphertext"])
        assert ct[0] == 2 and len(ct) == aead.OVERHEAD + 512  # all under the floor
        if v["name"] == "text":
            assert SealedText(ct).open(key, ctx) == v["value"]
            assert SealedText.seal(key, v["value"], ctx, nonce=nonce).ciphertext == ct
        elif v["name"] == "json":
            assert SealedJSON(ct).open(key, ctx) == v["value"]
            assert SealedJSON.seal(key, v["value"], ctx, nonce=nonce).ciphertext == ct
        else:
            assert SealedBytes(ct).open(key, ctx) == h(v["value"])
            assert SealedBytes.seal(key, h(v["value"]), ctx, nonce=nonce).ciphertext == ct
        # The field context is prefixed exactly as documented.
        assert aead.decrypt(key.raw, ct, f"dokaz/field/{ctx}".encode())


def test_recovery_vectors(vectors: Vectors) -> None:
    for v in vectors("recovery"):
        assert recovery.format_recovery_key(h(v["private_key"])) == v["text"]
        assert recovery.parse_recovery_key(v["text"]) == h(v["private_key"])
        assert recovery.recovery_public_key(h(v["private_key"])).hex() == v["public_key"]
        assert recovery.format_recovery_public_key(h(v["public_key"])) == v["public_text"]
        assert recovery.parse_recovery_public_key(v["public_text"]) == h(v["public_key"])
