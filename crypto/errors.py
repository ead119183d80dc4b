"""Exceptions raised by :mod:`crypto`.

Messages are written for logs and operators: they say what failed and never
contain plaintext, key bytes, passwords, tokens or receipt secrets.
"""

from __future__ import annotations

__all__ = ["CryptoError", "DecryptionError", "FormatError"]


class CryptoError(Exception):
    """Base class for every error raised by :mod:`crypto`."""


class DecryptionError(CryptoError):
    """Authentication failed: wrong key, wrong password, wrong context or tampered data.

    AES-GCM cannot tell these causes apart, and we deliberately do not try to:
    a distinguishing message would be an oracle for an attacker.
    """


class FormatError(CryptoError):
    """The input is not a well-formed blob of the expected kind.

    Raised for an unknown version byte, wrong magic, wrong length or an invalid
    textual encoding, before any key is used.
    """
