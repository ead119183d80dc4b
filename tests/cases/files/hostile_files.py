"""Small files that are expensive to open: decompression bombs made without the cost.

:func:`flat_png` writes a real, decodable PNG of any size chunk by chunk, compressing one
repeated row with zlib, so a 169-megapixel image is built in a few hundred KB of memory
and never decoded by the test process.
"""

from __future__ import annotations

import struct
import zlib

_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def flat_png(width: int, height: int, mode: str = "RGB", text: bytes | None = None) -> bytes:
    """A single-colour 8-bit PNG of width x height, optionally with a tEXt chunk."""
    colour_type, channels = _COLOUR_TYPES[mode]
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
    if text is not None:
        out += _chunk(b"tEXt", text)
    row = b"\x00" + b"\x7f" * (width * channels)  # filter byte "none", then the pixels
    out += _chunk(b"IDAT", _zlib_repeated(row, height))
    out += _chunk(b"IEND", b"")
    return bytes(out)


def _zlib_repeated(row: bytes, count: int) -> bytes:
    """zlib of ``row * count``, compressing one block of rows once.

    After a full flush deflate starts afresh (no back-references into earlier data), so
    the compressed bytes of the same block are the same every time and can be repeated.
    """
    per_block = max(1, min(count, (4 << 20) // len(row)))
    block = row * per_block
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    if comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH) != unit:
        raise AssertionError("deflate output after a full flush was expected to repeat")
    blocks, rest = divmod(count, per_block)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = unit * blocks + tail.compress(row * rest) + tail.flush()
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    return b"\x78\xda" + body + struct.pack(">I", adler & 0xFFFFFFFF)


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF with a correct cross-reference table around ``objects`` (1-based numbers)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def many_page_pdf(pages: int) -> bytes:
    """``pages`` blank pages in one flat page tree, all sharing one empty content stream."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R >>",
               b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids),
               b"<< /Type /Metadata /Subtype /XML /Length 0 >>\nstream\n\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    return _pdf(objects)


def lying_count_pdf(declared: int) -> bytes:
    """One real page under a page tree that claims ``declared`` pages."""
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Count %d /Kids [3 0 R] >>" % declared,
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"])
