"""Argon2id key derivation (for key-encryption keys, not for the login hash).

:class:`Argon2Params` is stored next to whatever it protects so that parameters
can be raised later without breaking old blobs. Encoding (13 bytes)::

    params = version (1 byte, 0x01) || time_cost (u32 BE) || memory_kib (u32 BE)
             || parallelism (u32 BE)

Decoded parameters are bounds-checked: a tampered blob must not be able to make
a worker allocate gigabytes or spin for minutes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from crypto.errors import FormatError

__all__ = ["Argon2Params", "derive_key"]

_PARAMS_VERSION = 1
_PARAMS_STRUCT = struct.Struct(">BIII")

# Upper bounds for decoded parameters (several times today's defaults).
_MAX_TIME_COST = 64
_MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
_MAX_PARALLELISM = 64
_MIN_SALT = 16


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters."""

    time_cost: int
    memory_kib: int
    parallelism: int

    ENCODED_SIZE: ClassVar[int] = _PARAMS_STRUCT.size

    def __post_init__(self) -> None:
        if not 1 <= self.parallelism <= _MAX_PARALLELISM:
            raise FormatError("argon2 parallelism out of range")
        if not 1 <= self.time_cost <= _MAX_TIME_COST:
            raise FormatError("argon2 time cost out of range")
        # Argon2 requires at least 8 KiB per lane.
        if not 8 * self.parallelism <= self.memory_kib <= _MAX_MEMORY_KIB:
            raise FormatError("argon2 memory out of range")

    @classmethod
    def default(cls) -> Argon2Params:
        """Production parameters: t=3, m=64 MiB, p=4 (RFC 9106, second recommended option)."""
        return cls(time_cost=3, memory_kib=65536, parallelism=4)

    @classmethod
    def for_tests(cls) -> Argon2Params:
        """Smallest valid parameters. Never use outside tests."""
        return cls(time_cost=1, memory_kib=8, parallelism=1)

    def encode(self) -> bytes:
        """Serialise to 13 bytes (see module docstring)."""
        return _PARAMS_STRUCT.pack(
            _PARAMS_VERSION, self.time_cost, self.memory_kib, self.parallelism
        )

    @classmethod
    def decode(cls, data: bytes) -> Argon2Params:
        """Parse exactly :attr:`ENCODED_SIZE` bytes produced by :meth:`encode`."""
        if len(data) != _PARAMS_STRUCT.size:
            raise FormatError(f"argon2 parameters must be {_PARAMS_STRUCT.size} bytes")
        version, time_cost, memory_kib, parallelism = _PARAMS_STRUCT.unpack(data)
        if version != _PARAMS_VERSION:
            raise FormatError(f"unsupported argon2 parameter version {version}")
        return cls(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)


def derive_key(secret: bytes, salt: bytes, params: Argon2Params, length: int = 32) -> bytes:
    """Return ``length`` bytes of Argon2id(secret, salt) (raw, not an encoded hash)."""
    if len(salt) < _MIN_SALT:
        raise ValueError(f"salt must be at least {_MIN_SALT} bytes")
    if not 16 <= length <= 1024:
        raise ValueError("derived key length out of range")
    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=length,
        type=Type.ID,
        version=ARGON2_VERSION,
    )
