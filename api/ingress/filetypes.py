"""File type detection from content (magic numbers), never from the client's word.

A file is judged by what it is. :func:`judge` decides from the first :data:`SNIFF_BYTES`
bytes (or the whole file if shorter): the detected type is what is stored and what staff
tooling uses; the name and the type the client claimed are kept (sealed) for the record
but decide nothing. So a photo whose phone named it ``.jpg`` while it is a PNG is simply a
PNG. Only the detected type can refuse a file: programs by default
(:data:`REFUSED_BY_DEFAULT`, ``DOKAZ_REFUSED_FILE_TYPES``), because a stranger's program
opened by mistake on a caseworker's computer is the one file that can do harm by itself.

Unknown binary content is ``application/octet-stream`` (accepted: evidence comes in
formats we do not list). Text is ``text/plain`` in any encoding people's tools write:
UTF-8 with or without a byte order mark, UTF-16 or UTF-32 with one (Notepad's "Unicode"),
and the 8-bit Cyrillic code pages Windows-1251 and KOI8-R (:func:`text_encoding`).
"""

from __future__ import annotations

import codecs
from collections.abc import Collection
from dataclasses import dataclass

SNIFF_BYTES = 4096
OCTET = "application/octet-stream"
TEXT = "text/plain"

# Programs, refused unless an operator says otherwise: Windows (PE, also .dll, .scr, .sys),
# Linux (ELF), macOS (Mach-O) and Windows shortcuts (.lnk, which run a command).
PROGRAM_TYPES = frozenset({
    "application/x-msdownload", "application/x-executable", "application/x-mach-binary",
    "application/x-ms-shortcut",
})
REFUSED_BY_DEFAULT = PROGRAM_TYPES

# Why a detected type is refused, for the page to explain (see api.web.errors).
PROGRAM = "program"
NOT_ACCEPTED = "not_accepted"


@dataclass(frozen=True)
class Verdict:
    """What the first bytes of a file say it is, and whether it is accepted."""

    media_type: str
    # The text's encoding (a Python codec name) when media_type is text/plain.
    encoding: str | None = None
    # None when the file is accepted, else PROGRAM or NOT_ACCEPTED.
    refused: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


def judge(head: bytes, refused: Collection[str] = REFUSED_BY_DEFAULT) -> Verdict:
    """The one decision on a file, from its first bytes (at least :data:`SNIFF_BYTES`
    of them, or the whole file if it is shorter).

    ``refused``: the detected types not accepted (``settings.refused_file_types``)."""
    head = head[:SNIFF_BYTES]
    media = _detect_binary(head)
    encoding = None
    if media is None:
        encoding = text_encoding(head)
        media = TEXT if encoding is not None else OCTET
    if media not in refused:
        return Verdict(media, encoding)
    return Verdict(media, encoding, PROGRAM if media in PROGRAM_TYPES else NOT_ACCEPTED)


def detect(head: bytes) -> str:
    """The MIME type of content starting with ``head`` (:func:`judge` without the rule)."""
    return judge(head, refused=()).media_type


def matches(claimed: str, detected: str) -> bool:
    """Whether a file detected as ``detected`` is accepted (by the default rule).

    Kept for callers of the older API. The claim no longer decides anything: a file is
    judged by what it is (see the module docstring); ``claimed`` is ignored."""
    del claimed
    return detected not in REFUSED_BY_DEFAULT


def normalise_claim(claimed: str | None) -> str:
    if not claimed:
        return OCTET
    return claimed.split(";", 1)[0].strip().lower()[:100] or OCTET


_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x1f\x8b", "application/gzip"),
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "application/x-ms-shortcut"),
]


def _detect_binary(head: bytes) -> str | None:
    """A known binary format's type, or None (then the bytes may be text)."""
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return _zip_subtype(head)
    # A byte order mark makes the bytes text (or nothing) before any other guess: FF FE
    # also reads as an MPEG audio frame sync.
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # MPEG audio frame sync without an ID3 tag
    return _iso_bmff(head)


def _iso_bmff(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in (b"qt  ",):
        return "video/quicktime"
    if brand.startswith(b"3g"):
        return "video/3gpp"
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    if brand == b"avif":
        return "image/avif"
    return "video/mp4"


# Markers of the zip-based formats, most specific first: ODF and EPUB put an uncompressed
# "mimetype" member first; OOXML has its part folders ([Content_Types].xml names them).
_ZIP_MARKERS = (
    (b"mimetypeapplication/vnd.oasis.opendocument.text",
     "application/vnd.oasis.opendocument.text"),
    (b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
     "application/vnd.oasis.opendocument.spreadsheet"),
    (b"mimetypeapplication/epub+zip", "application/epub+zip"),
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)


def _zip_subtype(head: bytes) -> str:
    return next((kind for marker, kind in _ZIP_MARKERS if marker in head), "application/zip")


# ---- text ------------------------------------------------------------------------------

# Byte order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control characters text may hold: tab, line feed, vertical tab, form feed, carriage
# return, DOS's end-of-file mark (Ctrl-Z) and escape (coloured logs).
_TEXT_CONTROLS = frozenset("\t\n\x0b\x0c\r\x1a\x1b")
# The 8-bit Cyrillic code pages, in the order a tie is given (Windows-1251: Notepad's).
_CODE_PAGES = ("cp1251", "koi8_r")
# Of the bytes above 0x7F, at least this share must read as letters in the code page.
_LETTER_SHARE = 0.75


def text_encoding(head: bytes) -> str | None:
    """The encoding of text starting with ``head`` (a Python codec name), or None if the
    bytes are not text. An empty file is (empty) UTF-8 text.

    ``head`` may be cut anywhere, even inside a character: a window of a longer file."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding if _decodes(head[len(bom):], encoding) else None
    if b"\x00" in head:
        return None  # no BOM-less UTF-16: Windows writes its mark, and binaries have NULs
    if _decodes(head, "utf-8"):
        return "utf-8"
    return _code_page(head)


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether ``data`` is text in ``encoding``, allowing a character cut at the end."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        text = decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return _plausible(text)


def _plausible(text: str) -> bool:
    return not any((c < " " and c not in _TEXT_CONTROLS) or c == "\x7f" for c in text)


def _code_page(head: bytes) -> str | None:
    """Windows-1251 or KOI8-R, by which reads the high bytes as (mostly lower-case)
    letters; None for bytes that read as neither."""
    high = sum(1 for b in head if b >= 0x80)
    best: tuple[int, str] | None = None
    for encoding in _CODE_PAGES:
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue  # cp1251 has no character at 0x98
        if not _plausible(text):
            return None
        letters = [c for c in text if c >= "\x80" and c.isalpha()]
        if len(letters) < _LETTER_SHARE * high:
            continue
        # Running text is mostly lower case; the two code pages swap the cases of the
        # Cyrillic block (0xC0-0xFF), so the wrong one reads it as capitals.
        lower = sum(1 for c in letters if c.islower())
        if best is None or lower > best[0]:
            best = (lower, encoding)
    return best[1] if best else None
