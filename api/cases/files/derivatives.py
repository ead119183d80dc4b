"""Metadata stripping for derivative copies (threat model property 7: originals untouched).

Pure functions over bytes in memory (never a temporary file). Each returns the cleaned
bytes and the list of what was removed, for the derivative's sealed metadata. The API
never calls them in its own process: :mod:`api.cases.files.clean_child` runs them in a child
under memory and CPU caps (:mod:`api.cases.files.clean_copy`). So this module imports nothing
of the web stack, and refusals are :class:`Refused` (a reason code and numbers), which the
parent turns into the caseworker's message.

Limits are checked before anything is decoded: image width x height and frame count from
the header (Pillow opens lazily), with Pillow's own decompression-bomb check set to the
same pixel limit and its warning turned into an error; a PDF's page count from its page
tree's /Count before any page is parsed; an Office file's inflated size from the zip
directory.

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
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image


class Refused(Exception):
    """No clean copy: ``reason`` is one of :data:`REASONS`, ``details`` holds numbers only.

    Never carries file content, so it may cross the pipe from the child and be shown.
    """

    def __init__(self, reason: str, **details: int) -> None:
        self.reason = reason
        self.details = details
        super().__init__(reason)


REASONS = frozenset({
    "unsupported", "too_large", "expands", "pixels", "frames", "pages", "pdf_encrypted",
    "unreadable_image", "unreadable_pdf", "unreadable_office", "unreadable", "memory",
})


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_frames: int
    max_pages: int

    def as_json(self) -> dict[str, int]:
        return {"max_bytes": self.max_bytes, "max_pixels": self.max_pixels,
                "max_frames": self.max_frames, "max_pages": self.max_pages}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Limits:
        return cls(**{k: int(raw[k]) for k in ("max_bytes", "max_pixels", "max_frames",
                                               "max_pages")})


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


def strip(data: bytes, media_type: str, limits: Limits) -> tuple[bytes, list[str]]:
    """Return (clean bytes, removed parts) or raise :class:`Refused`."""
    handler: Callable[[bytes, str, Limits], tuple[bytes, list[str]]]
    if media_type in IMAGE_FORMATS:
        handler = _strip_image
    elif media_type == PDF:
        handler = _strip_pdf
    elif media_type in OOXML:
        handler = _strip_ooxml
    else:
        raise Refused("unsupported")
    if len(data) > limits.max_bytes:
        raise Refused("too_large", limit=limits.max_bytes)
    return handler(data, media_type, limits)


@contextmanager
def _pillow_limits(max_pixels: int | None) -> Iterator[None]:
    # Pillow's limit is a module global: set for this file, then put back (the child makes
    # one copy per process; tests call strip() in their own process).
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x MAX_IMAGE_PIXELS: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _open_image(data: bytes, fmt: str, limits: Limits) -> Image.Image:
    """Open lazily (header only) and refuse an image over the pixel or frame limit.

    Only the decoder of the detected type may run: a file that is something else is
    refused, not handed to whichever of Pillow's many plugins recognises it.
    """
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Refused("pixels", pixels=_header_pixels(data, fmt),
                      limit=limits.max_pixels) from None
    pixels = img.width * img.height
    if pixels > limits.max_pixels:  # the same check, kept even if Pillow's changes
        img.close()
        raise Refused("pixels", pixels=pixels, limit=limits.max_pixels)
    # n_frames walks the frame headers (for GIF without decoding them: update_image=False).
    frames = int(getattr(img, "n_frames", 1))
    if frames > limits.max_frames:
        img.close()
        raise Refused("frames", frames=frames, limit=limits.max_frames)
    return img


def _header_pixels(data: bytes, fmt: str) -> int:
    # Only for the refusal's message: reads the header again, decodes nothing.
    try:
        with _pillow_limits(None), Image.open(io.BytesIO(data), formats=[fmt]) as img:
            return int(img.width * img.height)
    except (OSError, ValueError, SyntaxError):
        return 0


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _strip_image(data: bytes, media_type: str, limits: Limits) -> tuple[bytes, list[str]]:
    fmt = IMAGE_FORMATS[media_type][0]
    try:
        with _pillow_limits(limits.max_pixels), _open_image(data, fmt, limits) as img:
            img.seek(0)
            exif = img.getexif()
            removed = sorted({str(k) for k in img.info if k not in ("dpi", "transparency")}
                             | ({"exif"} if exif else set()))
            orientation = int(exif.get(0x0112, 1) or 1)
            img.load()
            # A brand-new image from the pixels alone: nothing of the container comes
            # along. paste() copies once, without an intermediate bytes object; leaving the
            # with-block frees the decoded original, so at most two copies ever exist.
            clean = Image.new(img.mode, img.size)
            clean.paste(img, (0, 0))
            if img.mode == "P" and (palette := img.getpalette()) is not None:
                clean.putpalette(palette)
        if (method := _TRANSPOSE.get(orientation)) is not None:
            clean = clean.transpose(method)
    except (OSError, ValueError, SyntaxError, EOFError):
        raise Refused("unreadable_image") from None
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
        clean = clean.convert("RGB")
    clean.save(out, format=fmt, **options)
    return out.getvalue(), removed


def _strip_pdf(data: bytes, media_type: str, limits: Limits) -> tuple[bytes, list[str]]:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError, PyPdfError
    from pypdf.generic import DictionaryObject, NameObject, NumberObject

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Refused("pdf_encrypted")
        # The page tree's own count, read before reader.pages flattens (parses) every page.
        # pypdf resolves indirect objects on [] only, not on .get().
        root = reader.root_object
        pages_node = root["/Pages"] if "/Pages" in root else None  # noqa: SIM401
        claim = (pages_node["/Count"] if isinstance(pages_node, DictionaryObject)
                 and "/Count" in pages_node else None)
        declared = int(claim) if isinstance(claim, NumberObject) else 0
        if declared > limits.max_pages:
            raise Refused("pages", pages=declared, limit=limits.max_pages)
        removed: list[str] = []
        if reader.metadata:
            removed.append("info")
        if "/Metadata" in reader.root_object:
            removed.append("xmp")
        writer = PdfWriter()
        for count, page in enumerate(reader.pages, start=1):
            if count > limits.max_pages:  # /Count lied
                raise Refused("pages", pages=count, limit=limits.max_pages)
            for name in ("/Metadata", "/PieceInfo"):
                if NameObject(name) in page:
                    del page[NameObject(name)]
                    removed.append("page" + name.lower().replace("/", "_"))
            writer.add_page(page)
        writer.metadata = None  # no /Info at all, not even a /Producer
        out = io.BytesIO()
        writer.write(out)
    except (PdfReadError, PyPdfError, ValueError, TypeError, KeyError, AttributeError,
            RecursionError):
        raise Refused("unreadable_pdf") from None
    return out.getvalue(), sorted(set(removed))


def _strip_ooxml(data: bytes, media_type: str, limits: Limits) -> tuple[bytes, list[str]]:
    removed: list[str] = []
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src, \
                zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            # Zip bombs: refuse before inflating anything.
            if sum(i.file_size for i in src.infolist()) > limits.max_bytes * 8:
                raise Refused("expands", limit=limits.max_bytes * 8)
            for info in src.infolist():
                body = _OOXML_PROPS.get(info.filename)
                if body is not None:
                    removed.append(info.filename)
                else:
                    body = src.read(info)
                entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(entry, body)
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError, NotImplementedError):
        raise Refused("unreadable_office") from None
    return out.getvalue(), removed
