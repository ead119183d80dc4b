"""Authenticated streaming encryption for uploaded files (threat-model properties 5, 7, 13).

Byte format, version 2 (written now)::

    file    = header || record_0 || record_1 || ... || record_{n-1}
    header  = magic b"DKZF" || version (0x02) || record_size (u32 BE) || file_id (16 bytes)
              (25 bytes)
    sealed  = original (L bytes) || zeros (padded_size(L) - L bytes) || L (u64 BE)
    record_i = AES-256-GCM(file_key, nonce_i, sealed[i*record_size : (i+1)*record_size], aad_i)
               = ciphertext_i || tag_i (16 bytes)
    nonce_i = 0x00000000 || i (u64 BE)
    aad_i   = header || i (u64 BE) || final_i (1 byte: 0x01 for the last record, else 0x00)

* Padding (property 13): ``padded_size`` is Padmé with a floor
  (:mod:`crypto.padding`), so the file's size depends only on the bucket of ``L``
  (overhead under 12 %, plus the floor for small files) and a stored size no
  longer confirms that a known file was submitted. The true size ``L`` is sealed
  in the final record(s) like any other byte; ``record_size >= 8``, so the
  trailer spans at most the last two records.
* Every record except the last holds exactly ``record_size`` bytes of
  ``sealed``; the last holds 1..record_size bytes. So
  ``n = ceil(len(sealed) / record_size)`` and the record boundaries follow from
  the header alone; see :func:`ciphertext_size`.
* The reader yields exactly the original bytes, streaming: every nonzero byte
  is data (padding is zeros), so it yields those at once and only *counts*
  trailing zeros until the trailer says how many of them are data. It checks
  that ``L`` and the padded length agree (``len(sealed) - 8 == padded_size(L)``),
  so padding cannot be shortened, lengthened or swapped for data even by a
  faulty writer. SHA-256 and the reported size are over the original only.

Version 1 (still read; written only to finish a stream suspended in it) is the
same without padding and trailer: ``sealed = original``, ``record_size >= 1``,
an empty file is one empty final record.

Both versions:
* ``file_key`` is a fresh random :class:`~crypto.keys.DataKey` per file (the
  caller wraps it under the case key), so the counter nonce never repeats.
* The AAD binds each record to this file (magic, version, record size,
  file id), to its position and to whether it is the last one. Hence a flipped
  bit, a reordered or duplicated record, a record from another file, appended
  bytes, and truncation anywhere (including exactly at a record boundary: the
  record then read last was sealed with final = 0) all fail authentication.
* The reader infers ``final`` from the position (the record that ends the
  input), so it cannot be tricked into stopping early.

Errors and partial output: each record is authenticated before its plaintext
is yielded, so no unauthenticated byte is ever returned. But a reader may yield
earlier, authentic records before a later record fails (a truncated file looks
fine until its end; in format 2 a cut in the padding is only noticed after all
of the data came out). Callers that act on the content must buffer, or treat an
exception as "discard everything yielded so far".

SHA-256 of the plaintext (chain of custody) is computed in the same pass as
encryption, record by record (for records of 64 KiB and more, encryption and
the sink write run in helper threads, overlapping with hashing).

Resumable streams (several requests or process restarts, plaintext never
on disk): :meth:`EncryptingWriter.suspend` returns a state blob, version 2 for a
stream in format 2 (version 1: format 1, same layout)::

    state = version (0x02) || next_index (u64 BE) || plaintext_size (u64 BE)
            || ciphertext_size (u64 BE) || record_size (u32 BE) || tail
    tail  = crypto.aead.encrypt(tail_key, pending plaintext (0..record_size bytes),
                                b"dokaz/stream-tail" || header || state fields before tail)
    tail_key = HKDF-SHA256(file_key, salt=none, info=b"dokaz-stream-tail-v1" || header)

The tail is sealed under a key derived from (not equal to) the file key, so its
random nonces can never collide with record nonces. ``hashlib`` state cannot be
serialised, so a resumed writer's :meth:`~EncryptingWriter.finish` returns
``sha256=None``; compute it afterwards with :func:`hash_plaintext`, which also
proves the stored ciphertext decrypts end to end.

Resuming twice from the same state with *different* plaintext would reuse
record nonces under the same key. Callers therefore keep the stored ciphertext
and the state blob in step: after :meth:`~EncryptingWriter.resume`, cut the
stored object back to ``writer.ciphertext_size`` bytes before appending (a
crashed attempt may have appended records after the state was saved), and
resume only at the plaintext offset the state records (tus does this: the
client continues from the server's offset, ``writer.plaintext_size``).
"""

from crypto.stream._format import (
    DEFAULT_RECORD_SIZE,
    FILE_ID_SIZE,
    HEADER_SIZE,
    MAGIC,
    MAX_RECORD_SIZE,
    TAG_SIZE,
    TRAILER_SIZE,
    VERSION,
    VERSIONS,
    Sink,
    Source,
    StreamResult,
    ciphertext_size,
)
from crypto.stream.aio import AsyncEncryptingWriter
from crypto.stream.reader import DecryptingReader, decrypt_stream, hash_plaintext
from crypto.stream.writer import EncryptingWriter

__all__ = [
    "DEFAULT_RECORD_SIZE",
    "FILE_ID_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_RECORD_SIZE",
    "TAG_SIZE",
    "TRAILER_SIZE",
    "VERSION",
    "VERSIONS",
    "AsyncEncryptingWriter",
    "DecryptingReader",
    "EncryptingWriter",
    "Sink",
    "Source",
    "StreamResult",
    "ciphertext_size",
    "decrypt_stream",
    "hash_plaintext",
]
