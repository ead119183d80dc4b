"""Time-based one-time passwords (RFC 6238, via pyotp) with replay protection.

Codes are 6 digits over 30-second steps, SHA-1, as every authenticator app expects. A code
is accepted for the current step or one step either side (clock drift), and only for a
step later than the last one accepted for that account, so a code seen over a shoulder
or in a proxy log cannot be used again, and a code older than the last login never can.

The base32 secret is stored AES-256-GCM-encrypted (crypto.aead) under a key derived from
DOKAZ_SECRET_KEY, bound to the user id: a database dump or backup alone cannot mint codes.
Rotating DOKAZ_SECRET_KEY therefore means resetting every account's TOTP.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.core.settings import Settings
from crypto import aead

ISSUER = "Dokaz"
STEP_SECONDS = 30
DRIFT_STEPS = 1
_INFO = b"dokaz-totp-secret-v1"


def new_secret() -> str:
    return pyotp.random_base32()  # 32 symbols = 160 bits, RFC 4226's recommendation


def _key(settings: Settings) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        settings.secret_key.get_secret_value().encode("utf-8")
    )


def _context(user_id: uuid.UUID) -> bytes:
    return b"dokaz/totp-secret/" + str(user_id).encode()


def seal_secret(settings: Settings, user_id: uuid.UUID, secret: str) -> bytes:
    return aead.encrypt(_key(settings), secret.encode("ascii"), _context(user_id))


def open_secret(settings: Settings, user_id: uuid.UUID, sealed: bytes) -> str:
    return aead.decrypt(_key(settings), sealed, _context(user_id)).decode("ascii")


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")


def match_step(secret: str, code: str, moment: datetime, last_step: int) -> int | None:
    """The step ``code`` is valid for (within the drift window, after ``last_step``)."""
    code = normalise_code(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    now_step = step_at(moment)
    found: int | None = None
    # Check every candidate without stopping early: equal work whichever one matches.
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_for_step(secret, step), code) and step > last_step:
            found = step if found is None else found
    return found
