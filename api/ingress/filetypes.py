"""File type detection from content (magic numbers), never from the client's word.

The detected type is what staff tooling may use to present a file; the type the client
claimed is kept (sealed) for the record. A file whose bytes contradict a specific claimed
type is refused: it is either a mistake the submitter should know about, or an attempt
to have staff open something disguised. Claims that say nothing (empty,
``application/octet-stream``) are accepted and the detected type is used.

Detection needs the first :data:`SNIFF_BYTES` bytes (or the whole file if shorter).
Unknown binary content is ``application/octet-stream``; valid UTF-8 without NUL bytes is
``text/plain``.
"""

from __future__ import annotations

SNIFF_BYTES = 4096
OCTET = "application/octet-stream"

_ZIP_FAMILY = {
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/epub+zip",
}
_OLE_FAMILY = {"application/x-ole-storage", "application/msword", "application/vnd.ms-excel",
               "application/vnd.ms-powerpoint"}
_TEXT_FAMILY = {"text/plain", "text/csv", "text/markdown"}
_ISO_BMFF = {
    "video/mp4", "video/quicktime", "video/3gpp", "audio/mp4", "audio/x-m4a", "image/heic",
    "image/heif", "image/avif",
}
# Claimed types that are compatible with a detected type (container families).
_FAMILIES = [_ZIP_FAMILY, _OLE_FAMILY, _TEXT_FAMILY, _ISO_BMFF,
             {"audio/mpeg", "audio/mp3"}, {"audio/ogg", "video/ogg", "application/ogg"},
             {"audio/wav", "audio/x-wav", "audio/wave"}, {"image/jpeg", "image/jpg"}]


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


def detect(head: bytes) -> str:
    """The MIME type of content starting with ``head``."""
    signatures: list[tuple[bytes, str]] = [
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
    ]
    for magic, mime in signatures:
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
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # MPEG audio frame sync without an ID3 tag
    iso = _iso_bmff(head)
    if iso:
        return iso
    if _is_text(head):
        return "text/plain"
    return OCTET


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


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return not head  # an empty file counts as (empty) text
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character may be cut at the end of the sniffed window.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def normalise_claim(claimed: str | None) -> str:
    if not claimed:
        return OCTET
    return claimed.split(";", 1)[0].strip().lower()[:100] or OCTET


def matches(claimed: str, detected: str) -> bool:
    """Whether the detected type is consistent with what the client claimed."""
    if claimed in (OCTET, "binary/octet-stream", "application/x-unknown") or claimed == detected:
        return True
    if any(claimed in fam and detected in fam for fam in _FAMILIES):
        return True
    # An OOXML/ODF claim may be detected as plain zip when the member order is unusual.
    if detected == "application/zip" and claimed in _ZIP_FAMILY:
        return True
    return detected == "application/x-ole-storage" and claimed in _OLE_FAMILY
