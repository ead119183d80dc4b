"""Files are judged by what they are: the first bytes decide, never the name or claim.

The byte samples are what real tools write: Notepad's four encodings (UTF-8 with a byte
order mark, "Unicode" = UTF-16 LE with one, "Unicode big endian", ANSI = Windows-1251 on a
Cyrillic Windows), KOI8-R as old Unix mail and Russian web pages still use it, a PNG made
by zlib, gzip and zip from the standard library, and a Windows program's header.
"""

from __future__ import annotations

import codecs
import gzip
import io
import struct
import zipfile
import zlib

import pytest
from sqlmodel import col, select

from api.cases.models import Case
from api.ingress import filetypes
from api.ingress.filetypes import SNIFF_BYTES, judge, text_encoding
from tests.intake.conftest import Intake
from tests.intake.helpers import form, read_back, report, stored_state

BE = ("Мяне затрымалі 12 жніўня ля пад'езда. Білі ў РУУС на Акрэсціна, потым "
      "адвезлі ў Жодзіна. Сведкі: Алёна і Ўладзь.\r\n")
RU = "Задержан 9 августа, избит в РУВД; ещё трое задержанных видели это.\r\n"
UK = "Затримали біля під'їзду, побили; свідки: Євген і Ґалина.\r\n"


def png() -> bytes:
    raw = b"".join(b"\x00" + bytes((x * 10) % 256 for x in range(12)) for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# A Windows program starts with the DOS header ("MZ", then the e_cblp/e_cp/... fields).
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(47) + \
    b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$"

NOTEPAD = {  # what Notepad writes for each choice in "Save as ... Encoding"
    "utf-8": (BE * 40).encode("utf-8"),
    "utf-8-sig": codecs.BOM_UTF8 + (BE * 40).encode("utf-8"),
    "utf-16-le": codecs.BOM_UTF16_LE + (BE * 40).encode("utf-16-le"),
    "utf-16-be": codecs.BOM_UTF16_BE + (BE * 40).encode("utf-16-be"),
    "cp1251": (BE * 40).encode("cp1251"),
}


@pytest.mark.parametrize("encoding", list(NOTEPAD))
def test_notepad_text_in_every_encoding_is_text(encoding: str) -> None:
    data = NOTEPAD[encoding]
    assert len(data) > SNIFF_BYTES  # judged on the window, as when it streams
    verdict = judge(data[:SNIFF_BYTES])
    assert (verdict.media_type, verdict.encoding, verdict.accepted) == (
        "text/plain", encoding, True)
    # The window is cut wherever the network cut it: inside a character too.
    for cut in range(SNIFF_BYTES - 3, SNIFF_BYTES + 1):
        assert text_encoding(data[:cut]) == encoding, cut


@pytest.mark.parametrize(("text", "encoding"), [
    (RU, "cp1251"), (RU, "koi8_r"), (BE, "cp1251"), (UK, "cp1251"),
    ("Привет", "cp1251"), ("Привет", "koi8_r"),  # a single short word
])
def test_8_bit_cyrillic_code_pages_are_told_apart(text: str, encoding: str) -> None:
    data = text.encode(encoding)
    assert text_encoding(data) == encoding
    assert judge(data).media_type == "text/plain"


def test_short_and_empty_text() -> None:
    assert judge(b"").media_type == "text/plain"
    assert judge(b"ok\n").encoding == "utf-8"
    assert judge(codecs.BOM_UTF16_LE + "Так".encode("utf-16-le")).encoding == "utf-16-le"
    assert judge("Так".encode("utf-32")).media_type == "text/plain"


def test_a_utf_16_mark_is_not_mistaken_for_mp3() -> None:
    # FF FE also reads as an MPEG audio frame sync; the mark must win.
    assert filetypes.detect(NOTEPAD["utf-16-le"][:SNIFF_BYTES]) == "text/plain"
    # An MP3 frame without an ID3 tag is still audio.
    assert filetypes.detect(b"\xff\xfb\x90\x64" + bytes(400)) == "audio/mpeg"


def _zip(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, b"<w:document/>")
    return buf.getvalue()


@pytest.mark.parametrize(("data", "expected"), [
    (png(), "image/png"),
    (gzip.compress((BE * 50).encode()), "application/gzip"),
    (_zip("word/document.xml"),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (_zip("evidence.txt"), "application/zip"),
    # Compressed bytes without a container: binary, and no text encoding reads them.
    (zlib.compress((BE * 200).encode())[2:], filetypes.OCTET),
    (bytes(range(256)) * 16, filetypes.OCTET),
    # A UTF-16 BOM followed by bytes that are not UTF-16 text is not text either.
    (codecs.BOM_UTF16_BE + b"\xd8\x00\x00\x41", filetypes.OCTET),
    # Control characters are not text, in UTF-8 or in a code page.
    (b"\x01\x02\x03\x04 ABC \xc0\xc1", filetypes.OCTET),
])
def test_binary_formats(data: bytes, expected: str) -> None:
    verdict = judge(data[:SNIFF_BYTES])
    assert verdict.media_type == expected
    assert verdict.encoding is None and verdict.accepted


def test_programs_are_refused_whatever_they_are_called() -> None:
    verdict = judge(EXE)
    assert verdict.media_type == "application/x-msdownload"
    assert verdict.refused == filetypes.PROGRAM and not verdict.accepted
    assert judge(b"\x7fELF\x02\x01\x01" + bytes(57)).refused == filetypes.PROGRAM
    assert judge(b"\xcf\xfa\xed\xfe" + bytes(60)).refused == filetypes.PROGRAM
    # An operator's own list: nothing refused, or another type refused.
    assert judge(EXE, refused=()).accepted
    other = judge(png(), refused={"image/png"})
    assert (other.media_type, other.refused) == ("image/png", filetypes.NOT_ACCEPTED)


def test_the_older_api_follows_the_same_rule() -> None:
    # What a client claims no longer decides: only what the bytes are.
    assert filetypes.matches("image/jpeg", filetypes.detect(png()))
    assert filetypes.matches("application/pdf", filetypes.detect(NOTEPAD["cp1251"]))
    assert not filetypes.matches("application/pdf", filetypes.detect(EXE))
    assert filetypes.normalise_claim("Text/Plain; charset=windows-1251") == "text/plain"


def _case(intake: Intake, reference: str) -> Case:
    with intake.session() as s:
        return s.exec(select(Case).where(col(Case.reference) == reference)).one()


def test_mislabelled_files_are_stored_as_what_they_are(intake: Intake) -> None:
    photo = png()
    body, ctype = form(report(), [
        ("IMG_2041.jpg", "image/jpeg", photo),  # a PNG the phone called .jpg
        ("заява.txt", "text/plain", NOTEPAD["utf-16-le"]),
        ("пратакол.txt", "text/plain", NOTEPAD["cp1251"]),
    ])
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 201, r.text
    assert [f["type"] for f in r.json()["files"]] == ["image/png", "text/plain", "text/plain"]
    case = _case(intake, r.json()["reference"])
    with intake.session() as s:
        _, files = read_back(s, intake.storage, case.id, intake.recovery_text)
    by_name = {meta["filename"]: (meta, data) for meta, data in files}
    meta, data = by_name["IMG_2041.jpg"]
    assert data == photo
    assert (meta["claimed_type"], meta["detected_type"]) == ("image/jpeg", "image/png")
    assert by_name["пратакол.txt"][1] == NOTEPAD["cp1251"]


def test_a_program_is_refused_at_its_first_bytes(intake: Intake) -> None:
    before = stored_state(intake.engine, intake.storage)
    # The program is followed by far more than the sniffing window: it is refused there.
    body, ctype = form(report(), [("photo.jpg", "image/jpeg", png()),
                                  ("report.pdf", "application/pdf", EXE + bytes(300_000))])
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "file_type_refused"
    assert error["details"] == {"file": 2, "detected_type": "application/x-msdownload",
                                "reason": "program"}
    assert "report.pdf" not in r.text  # an error never carries a filename
    assert stored_state(intake.engine, intake.storage) == before
