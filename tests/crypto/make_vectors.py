"""Generate the test vectors in tests/crypto/vectors/*.json.

Run from the repository root:  .venv/bin/python tests/crypto/make_vectors.py

All inputs are fixed (derived from labels with SHA-256) and fed to the optional
``nonce``/``ephemeral_private``/``salt`` parameters that exist only for this
purpose, so the output is byte-for-byte reproducible. A change in the output
means a change in a stored format: that needs a new version byte, not a new
vector file. Bytes are hex in the JSON; text is UTF-8.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

from crypto import _base32, aead, receipts, recovery, sealed, staff_keys  # noqa: E402
from crypto.fields import SealedBytes, SealedJSON, SealedText  # noqa: E402
from crypto.keys import DataKey, StaffKeyPair  # noqa: E402
from crypto.passwords import Argon2Params  # noqa: E402
from crypto.stream import EncryptingWriter  # noqa: E402

VECTOR_DIR = Path(__file__).resolve().parent / "vectors"
TEST_PARAMS = Argon2Params.for_tests()


def fixed(label: str, size: int = 32) -> bytes:
    """Deterministic pseudo-random bytes for a label (not a secret, just reproducible)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"dokaz-test-vector/{label}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


def hexed(**fields: Any) -> dict[str, Any]:
    """One vector as it is written to JSON: bytes as hex, everything else as it is."""
    return {k: v.hex() if isinstance(v, bytes) else v for k, v in fields.items()}


def aead_vectors() -> list[dict[str, Any]]:
    cases = [
        ("empty", b"", b"dokaz/test"),
        ("short", "Свабода".encode(), b"dokaz/field/case.narrative"),
        ("long", fixed("aead-long-pt", 100), b""),
    ]
    out = []
    for name, plaintext, context in cases:
        key, nonce = fixed(f"aead-{name}-key"), fixed(f"aead-{name}-nonce", 12)
        blob = aead.encrypt(key, plaintext, context, nonce=nonce)
        out.append(
            hexed(name=name, key=key, nonce=nonce, context=context, plaintext=plaintext, blob=blob)
        )
    return out


def sealed_vectors() -> list[dict[str, Any]]:
    out = []
    for name, plaintext, context in [
        ("data-key", fixed("sealed-dk"), b"dokaz/case-key/staff/42"),
        ("recovery", fixed("sealed-rec"), b"dokaz/case-key/recovery"),
        ("empty", b"", b"dokaz/test"),
    ]:
        recipient = StaffKeyPair.from_private_bytes(fixed(f"sealed-{name}-recipient"))
        eph, nonce = fixed(f"sealed-{name}-eph"), fixed(f"sealed-{name}-nonce", 12)
        box = sealed.seal(
            recipient.public_bytes, plaintext, context, ephemeral_private=eph, nonce=nonce
        )
        out.append(
            hexed(name=name, recipient_private=recipient.private_bytes,
                  recipient_public=recipient.public_bytes, ephemeral_private=eph, nonce=nonce,
                  context=context, plaintext=plaintext, sealed=box)
        )
    return out


def staff_key_vectors() -> list[dict[str, Any]]:
    out = []
    for name, password in [("ascii", "correct horse battery staple"), ("belarusian", "Жыве ўсё")]:
        private = fixed(f"staff-{name}-private")
        salt, nonce = fixed(f"staff-{name}-salt", 16), fixed(f"staff-{name}-nonce", 12)
        blob = staff_keys.seal_private_key(private, password, TEST_PARAMS, salt=salt, nonce=nonce)
        out.append(
            hexed(name=name, password=password, params=TEST_PARAMS.encode(), salt=salt, nonce=nonce,
                  private_key=private, sealed=blob)
        )
    return out


def session_vectors() -> list[dict[str, Any]]:
    private = fixed("session-private")
    token = "tok_" + fixed("session-token").hex()
    session_id = "0b7f3c1e-5d1a-4c39-9d55-2a9b8f0c6e11"
    nonce = fixed("session-nonce", 12)
    blob = staff_keys.encrypt_for_session(private, token, session_id, nonce=nonce)
    return [
        hexed(name="session", private_key=private, token=token,
              token_hash=staff_keys.session_token_hash(token), session_id=session_id, nonce=nonce,
              blob=blob)
    ]


def receipt_vectors() -> list[dict[str, Any]]:
    out = []
    for name in ["first", "second"]:
        receipt = receipts.Receipt(
            lookup=_base32.encode(fixed(f"receipt-{name}-lookup", 5)),
            secret=_base32.encode(fixed(f"receipt-{name}-secret", 15)),
        )
        salt = fixed(f"receipt-{name}-salt", 16)
        verifier, kek = receipts.receipt_secrets(receipt, salt=salt, params=TEST_PARAMS)
        out.append(
            hexed(name=name, text=receipt.text, salt=salt, params=TEST_PARAMS.encode(),
                  verifier=verifier.to_bytes(), kek=kek)
        )
    return out


def stream_vectors(version: int = 1) -> list[dict[str, Any]]:
    key = DataKey(fixed("stream-key"))
    file_id = fixed("stream-file-id", 16)
    out = []
    # Format 2 adds sizes around the padding floor (512) and a Padmé step (1025..1088).
    sizes = [0, 5, 16, 40] + ([503, 504, 505, 512, 513, 1025] if version >= 2 else [])
    for size in sizes:
        plaintext = fixed(f"stream-pt-{size}", size)
        sink = io.BytesIO()
        writer = EncryptingWriter(sink, file_id, key, record_size=16, _version=version)
        writer.write(plaintext)
        result = writer.finish()
        out.append(
            hexed(name=f"{size}-bytes", key=key.raw, file_id=file_id, record_size=16,
                  plaintext=plaintext, sha256=result.sha256, records=result.records,
                  ciphertext=sink.getvalue())
        )
    return out


def stream_state_vectors(version: int = 1) -> list[dict[str, Any]]:
    key = DataKey(fixed("stream-key"))
    file_id = fixed("stream-file-id", 16)
    plaintext = fixed("stream-pt-40", 40)
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, file_id, key, record_size=16, _version=version)
    writer.write(plaintext[:21])
    nonce = fixed("stream-state-nonce", 12)
    state = writer.suspend(nonce=nonce)
    return [
        hexed(name="suspended-after-21", key=key.raw, file_id=file_id, record_size=16,
              plaintext=plaintext, split=21, nonce=nonce, partial_ciphertext=sink.getvalue(),
              state=state)
    ]


def field_vectors(version: int = 1) -> list[dict[str, Any]]:
    key = DataKey(fixed("field-key"))
    text = "Мяне затрымалі 12.08 у Менску"
    obj = {"name": "Алесь", "phones": ["+375 29 000 00 00"], "n": 3}
    raw = bytes(range(20))
    nonces = {kind: fixed(f"field-{kind}-nonce", 12) for kind in ("text", "json", "bytes")}
    if version >= 2:
        boxes = {
            "text": SealedText.seal(key, text, "case.text", nonce=nonces["text"]).ciphertext,
            "json": SealedJSON.seal(key, obj, "case.json", nonce=nonces["json"]).ciphertext,
            "bytes": SealedBytes.seal(key, raw, "case.bytes", nonce=nonces["bytes"]).ciphertext,
        }
    else:
        # Format 1 (before padding): the same payloads, sealed with aead version 1.
        payloads = {
            "text": text.encode(),
            "json": json.dumps(obj, ensure_ascii=False, sort_keys=True,
                               separators=(",", ":")).encode(),
            "bytes": raw,
        }
        boxes = {
            kind: aead.encrypt(key.raw, payloads[kind], f"dokaz/field/case.{kind}".encode(),
                               nonce=nonces[kind])
            for kind in payloads
        }
    values: dict[str, Any] = {"text": text, "json": obj, "bytes": raw.hex()}
    return [
        hexed(name=kind, key=key.raw, context=f"case.{kind}", nonce=nonces[kind],
              value=values[kind], ciphertext=boxes[kind])
        for kind in ("text", "json", "bytes")
    ]


def recovery_vectors() -> list[dict[str, Any]]:
    out = []
    for name in ["first", "second"]:
        pair = StaffKeyPair.from_private_bytes(fixed(f"recovery-{name}"))
        out.append(
            hexed(name=name, private_key=pair.private_bytes, public_key=pair.public_bytes,
                  text=recovery.format_recovery_key(pair.private_bytes),
                  public_text=recovery.format_recovery_public_key(pair.public_bytes))
        )
    return out


GENERATORS = {
    "aead": aead_vectors,
    "sealed": sealed_vectors,
    "staff_keys": staff_key_vectors,
    "session": session_vectors,
    "receipts": receipt_vectors,
    # Version 1 files are frozen: they prove old stored data still opens.
    "stream": stream_vectors,
    "stream_state": stream_state_vectors,
    "fields": field_vectors,
    "stream_v2": lambda: stream_vectors(2),
    "stream_state_v2": lambda: stream_state_vectors(2),
    "fields_v2": lambda: field_vectors(2),
    "recovery": recovery_vectors,
}


def main() -> None:
    VECTOR_DIR.mkdir(exist_ok=True)
    for name, generate in GENERATORS.items():
        path = VECTOR_DIR / f"{name}.json"
        doc = {
            "format": name,
            "generated_by": "tests/crypto/make_vectors.py",
            "vectors": generate(),
        }
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
