"""Metadata stripping for derivative copies (threat model property 7: originals untouched).

Pure functions over bytes in memory (never a temporary file). Each returns the cleaned
bytes and the list of what was removed, for the derivative's sealed metadata.

* Images (JPEG, PNG, WebP, TIFF, GIF, BMP): the orientation is applied to the pixels, then a
  new image is built from the pixels alone and saved. EXIF (GPS, camera, times), XMP, IPTC,
  ICC profiles, comments and text chunks are not carried over. Only the first frame of an
  animated image is kept.
* PDF: pages are copied into a new document without the document information dictionary
  (/Info: author, creator, dates), without the catalog's XMP /Metadata and without the
  pages' own /Metadata and /PieceInfo. Images embedded in pages are not re-encoded.
* Office Open XML (docx, xlsx, pptx): ``docProps/core.xml``, ``app.xml`` and
  ``custom.xml`` are replaced by empty documents and every zip entry gets the same fixed
  timestamp. Comments and tracked changes inside the document body are not touched.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from PIL import Image, ImageOps

from api.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

IMAGE_FORMATS = {
    "image/jpeg": ("JPEG", "jpg"),
    "image/png": ("PNG", "png"),
    "image/webp": ("WEBP", "webp"),
    "image/tiff": ("TIFF", "tiff"),
    "image/gif": ("GIF", "gif"),
    "image/bmp": ("BMP", "bmp"),
}
OOXML = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
PDF = "application/pdf"
UNSUPPORTED = ("Metadata can be stripped from images (JPEG, PNG, WebP, TIFF, GIF, BMP), PDF "
               "and Office Open XML files (docx, xlsx, pptx) only.")

_EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:dcterms="http://purl.org/dc/terms/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_EMPTY_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"/>'
)
_EMPTY_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
_OOXML_PROPS = {"docProps/core.xml": _EMPTY_CORE, "docProps/app.xml": _EMPTY_APP,
                "docProps/custom.xml": _EMPTY_CUSTOM}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def supported(media_type: str) -> bool:
    return media_type in IMAGE_FORMATS or media_type == PDF or media_type in OOXML


def extension(media_type: str) -> str:
    if media_type in IMAGE_FORMATS:
        return IMAGE_FORMATS[media_type][1]
    return "pdf" if media_type == PDF else OOXML.get(media_type, "bin")


def strip(data: bytes, media_type: str, *, max_bytes: int) -> tuple[bytes, list[str]]:
    """Return (clean bytes, removed parts) or raise a clear 4xx error."""
    handler: Callable[[bytes, str, int], tuple[bytes, list[str]]]
    if media_type in IMAGE_FORMATS:
        handler = _strip_image
    elif media_type == PDF:
        handler = _strip_pdf
    elif media_type in OOXML:
        handler = _strip_ooxml
    else:
        raise UnsupportedMediaType(UNSUPPORTED)
    return handler(data, media_type, max_bytes)


def _strip_image(data: bytes, media_type: str, max_bytes: int) -> tuple[bytes, list[str]]:
    fmt = IMAGE_FORMATS[media_type][0]
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)
            removed = sorted({str(k) for k in img.info if k not in ("dpi", "transparency")}
                             | ({"exif"} if img.getexif() else set()))
            frame = ImageOps.exif_transpose(img) or img
            frame.load()
            # A brand-new image from the pixels alone: nothing of the container comes along.
            clean = Image.frombytes(frame.mode, frame.size, frame.tobytes())
            if frame.mode == "P" and (palette := frame.getpalette()) is not None:
                clean.putpalette(palette)
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise InvalidInput("This image could not be read (damaged, or too large to decode "
                           "safely), so no clean copy was made.") from None
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
        clean = clean.convert("RGB")
    clean.save(out, format=fmt, **options)
    return out.getvalue(), removed


def _strip_pdf(data: bytes, media_type: str, max_bytes: int) -> tuple[bytes, list[str]]:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError
    from pypdf.generic import NameObject

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidInput("This PDF is encrypted; it cannot be cleaned without its "
                               "password, so no copy was made.")
        removed: list[str] = []
        if reader.metadata:
            removed.append("info")
        if "/Metadata" in reader.root_object:
            removed.append("xmp")
        writer = PdfWriter()
        for page in reader.pages:
            for name in ("/Metadata", "/PieceInfo"):
                if NameObject(name) in page:
                    del page[NameObject(name)]
                    removed.append("page" + name.lower().replace("/", "_"))
            writer.add_page(page)
        writer.metadata = None  # no /Info at all, not even a /Producer
        out = io.BytesIO()
        writer.write(out)
    except PdfReadError:
        raise InvalidInput("This PDF could not be read (damaged?), so no clean copy was "
                           "made.") from None
    return out.getvalue(), sorted(set(removed))


def _strip_ooxml(data: bytes, media_type: str, max_bytes: int) -> tuple[bytes, list[str]]:
    removed: list[str] = []
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src, \
                zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            # Zip bombs: refuse before inflating anything.
            if sum(i.file_size for i in src.infolist()) > max_bytes * 8:
                raise PayloadTooLarge("This file expands to more than the size allowed for "
                                      "cleaning (derivative_max_bytes); no copy was made.")
            for info in src.infolist():
                body = _OOXML_PROPS.get(info.filename)
                if body is not None:
                    removed.append(info.filename)
                else:
                    body = src.read(info)
                entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(entry, body)
    except (zipfile.BadZipFile, KeyError, EOFError):
        raise InvalidInput("This Office file could not be read (damaged?), so no clean copy "
                           "was made.") from None
    return out.getvalue(), removed
