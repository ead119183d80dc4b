"""SHA-256 whose state can be saved between requests and resumed (tus uploads).

A resumable upload arrives as many PATCH requests, possibly handled by different
processes; the chain of custody needs the SHA-256 of the whole file. Re-reading every
stored piece when the last byte arrives would cost a second pass over the file (what
finishing used to cost), so the running state is carried from one PATCH to the next.

Why not hashlib: it cannot export its state (only ``copy()`` within one process). Why not
the ``rehash`` package from PyPI: its last release (1.0.1, 2022) refuses to run on OpenSSL
3 (``NotImplementedError``), which is what Debian ships. So this is a small ctypes wrapper
over OpenSSL's own ``SHA256_Init`` / ``SHA256_Update`` / ``SHA256_Final`` (deprecated in
OpenSSL 3 but exported, and the same code hashlib runs), with the ``SHA256_CTX`` bytes as
the state. ``ctypes`` releases the GIL during each call, as hashlib does for large inputs.

The state contains up to 63 bytes of not-yet-compressed *plaintext* (the partial block):
callers must seal it (the upload stores it inside the sealed progress, under the upload
key), never store or log it as is. :meth:`Sha256.restore` checks the structure (buffered
byte count, digest length) so a corrupt state is refused rather than silently hashed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

from crypto.errors import FormatError

# typedef struct { SHA_LONG h[8]; SHA_LONG Nl, Nh; SHA_LONG data[16]; unsigned num, md_len; }
_CTX_SIZE = 112
_NUM_OFFSET = 104
_VERSION = b"\x01"  # prefix of an exported state, so the format can change later
STATE_SIZE = 1 + _CTX_SIZE


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypto") or "libcrypto.so.3"
    lib = ctypes.CDLL(name)
    for fn in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
        getattr(lib, fn).restype = ctypes.c_int
    lib.SHA256_Init.argtypes = [ctypes.c_void_p]
    lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    return lib


_lib = _load()


class Sha256:
    """``update`` / ``digest`` / ``hexdigest`` like hashlib, plus ``export`` / ``restore``."""

    __slots__ = ("_ctx",)

    def __init__(self) -> None:
        self._ctx = ctypes.create_string_buffer(_CTX_SIZE)
        if _lib.SHA256_Init(self._ctx) != 1:
            raise RuntimeError("SHA256_Init failed")

    def __repr__(self) -> str:
        return "Sha256(<state hidden>)"  # the state holds plaintext bytes

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        size = view.nbytes
        if not size:
            return
        # No copy of a record buffer (writable) or of bytes; a read-only view is copied.
        buf: object
        if isinstance(data, bytes):
            buf = data
        elif not view.readonly:
            buf = (ctypes.c_char * size).from_buffer(view)
        else:
            buf = view.tobytes()
        if _lib.SHA256_Update(self._ctx, buf, size) != 1:
            raise RuntimeError("SHA256_Update failed")

    def digest(self) -> bytes:
        # Final destroys the context: finish a copy so this object can go on.
        ctx = ctypes.create_string_buffer(self._ctx.raw, _CTX_SIZE)
        out = ctypes.create_string_buffer(32)
        if _lib.SHA256_Final(out, ctx) != 1:
            raise RuntimeError("SHA256_Final failed")
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

    def export(self) -> bytes:
        """The state (113 bytes, contains plaintext: seal it)."""
        return _VERSION + self._ctx.raw

    @classmethod
    def restore(cls, state: bytes) -> Sha256:
        if len(state) != STATE_SIZE or state[:1] != _VERSION:
            raise FormatError("not a SHA-256 state")
        num, md_len = struct.unpack_from("=II", state, 1 + _NUM_OFFSET)
        if num >= 64 or md_len != 32:
            raise FormatError("not a SHA-256 state")
        out = cls()
        ctypes.memmove(out._ctx, state[1:], _CTX_SIZE)
        return out
