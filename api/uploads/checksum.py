"""The tus checksum extension: ``Upload-Checksum: <algorithm> <base64 digest>``.

The stream writer hashes the whole file (its running SHA-256 spans every PATCH), so the
checksum of one PATCH body is computed alongside, only when a client asks for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
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

    def hasher(self) -> hashlib._Hash:
        """The hasher to feed this PATCH's body to."""
        if self.algorithm == "sha1":
            return hashlib.sha1(usedforsecurity=False)
        return hashlib.sha256()

    def verify(self, hasher: hashlib._Hash | None) -> None:
        if hasher is None or not hmac.compare_digest(hasher.digest(), self.digest):
            raise ChecksumMismatch()
