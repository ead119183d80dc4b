"""The tus checksum extension: ``Upload-Checksum: <algorithm> <base64 digest>``.

SHA-256 comes for free from the stream writer (it hashes each segment's plaintext as it
encrypts it); SHA-1 is cheap enough to compute alongside when a client asks for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from api.core.errors import BadRequest

ALGORITHMS = ("sha256", "sha1")
_SIZES = {"sha256": 32, "sha1": 20}


class ChecksumMismatch(BadRequest):
    status_code = 460
    code = "checksum_mismatch"
    default_message = (
        "The data did not match its checksum (it was damaged on the way). Nothing from "
        "this request was kept; send the same part again from the same offset."
    )


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str | None) -> Checksum | None:
        if header is None:
            return None
        algorithm, _, value = header.strip().partition(" ")
        algorithm = algorithm.lower()
        if algorithm not in ALGORITHMS:
            raise BadRequest(
                "Unsupported Upload-Checksum algorithm; use sha256 or sha1.",
            )
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("Upload-Checksum is not valid base64.") from None
        if len(digest) != _SIZES[algorithm]:
            raise BadRequest("Upload-Checksum has the wrong length for its algorithm.")
        return cls(algorithm, digest)

    def hasher(self) -> hashlib._Hash | None:
        """An extra hasher to feed, or None when the stream writer's SHA-256 suffices."""
        return hashlib.sha1(usedforsecurity=False) if self.algorithm == "sha1" else None

    def verify(self, sha256_hex: str | None, extra: hashlib._Hash | None) -> None:
        actual = extra.digest() if extra is not None else bytes.fromhex(sha256_hex or "")
        if actual != self.digest:
            raise ChecksumMismatch()
