"""Benchmark: streaming encryption (AES-256-GCM records + SHA-256) vs a plain write.

Writes the same bytes to a temporary file on /work (a real disk, not tmpfs)
twice each way, alternating order, each followed by fsync, and reports the
best run of each, their ratio (target >= 0.8) and the process's peak RSS
(target < 100 MiB: the writer must hold one record, not the file).

    .venv/bin/python bench/crypto_stream.py               # 1 GiB
    .venv/bin/python bench/crypto_stream.py --size-mib 64
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

from crypto.keys import DataKey  # noqa: E402
from crypto.stream import EncryptingWriter, ciphertext_size  # noqa: E402

CHUNK = 1 << 20
MB = 1_000_000


def write_plain(out: BinaryIO, chunk: bytearray, count: int) -> None:
    for _ in range(count):
        out.write(chunk)


def write_encrypted(out: BinaryIO, chunk: bytearray, count: int, record_size: int) -> None:
    writer = EncryptingWriter(out, secrets.token_bytes(16), DataKey.generate(), record_size)
    for _ in range(count):
        writer.write(chunk)
    result = writer.finish()
    assert result.sha256 is not None
    assert result.ciphertext_size == ciphertext_size(count * len(chunk), record_size)


def timed(directory: Path, body: Callable[[BinaryIO], None]) -> float:
    path = directory / "bench.bin"
    start = time.perf_counter()
    with path.open("wb") as out:
        body(out)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="stream size (default 1024)")
    parser.add_argument("--record-size", type=int, default=1 << 20, help="bytes per record")
    parser.add_argument("--dir", default="/work", help="parent of the temp dir (default /work)")
    args = parser.parse_args()

    count = args.size_mib
    size = count * CHUNK
    # One random buffer reused for every chunk: generating randomness is not
    # what we measure, and a reused buffer keeps the benchmark's own memory flat.
    chunk = bytearray(os.urandom(CHUNK))

    with tempfile.TemporaryDirectory(prefix="dokaz-bench-", dir=args.dir) as tmp:
        directory = Path(tmp)
        plain: list[float] = []
        encrypted: list[float] = []
        for order in (("plain", "enc"), ("enc", "plain")):
            for kind in order:
                if kind == "plain":
                    plain.append(timed(directory, lambda out: write_plain(out, chunk, count)))
                else:
                    encrypted.append(
                        timed(
                            directory,
                            lambda out: write_encrypted(out, chunk, count, args.record_size),
                        )
                    )

    best_plain, best_enc = min(plain), min(encrypted)
    plain_rate, enc_rate = size / best_plain / MB, size / best_enc / MB
    ratio = enc_rate / plain_rate
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    def runs(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}s" for t in times)

    print(f"size:                 {args.size_mib} MiB, record size {args.record_size} B")
    print(f"directory:            {args.dir}")
    print(f"plain write+fsync:    {plain_rate:8.1f} MB/s  (runs: {runs(plain)})")
    print(f"encrypt+hash+fsync:   {enc_rate:8.1f} MB/s  (runs: {runs(encrypted)})")
    verdict = "OK" if ratio >= 0.8 else "BELOW TARGET"
    print(f"ratio:                {ratio:8.2f}  (target >= 0.80) {verdict}")
    verdict = "OK" if peak_mib < 100 else "ABOVE TARGET"
    print(f"peak RSS:             {peak_mib:8.1f} MiB (target < 100) {verdict}")


if __name__ == "__main__":
    main()
