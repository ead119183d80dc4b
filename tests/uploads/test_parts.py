"""A finished tus upload is kept as its parts: many parts, retries, tampering, shredding."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, select

import api.models  # noqa: F401  (shredding plans over every table)
from api.backup.service import create_backup, restore_backup
from api.cases.files import stored
from api.cases.files.models import Attachment, FilePart
from api.cases.models import Case
from api.cases.shredding import shred_case
from api.core import migrations
from api.core.db import make_engine
from api.fsck import service as fsck
from api.storage import get_storage
from api.storage.base import generate_name
from api.uploads import capabilities
from api.uploads.capabilities import UploadCapability
from api.uploads.models import Upload
from crypto.padding import padded_size
from crypto.stream import EncryptingWriter
from tests.conftest import DbUnderTest
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, read_back, report, stored_state
from tests.jobs.test_backup import _new_database
from tests.uploads.test_tus import PATCH, create, patch


def _submit(intake: Intake, url: str) -> dict[str, object]:
    r = intake.client.post("/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    files: list[dict[str, object]] = r.json()["files"]
    return files[0]


def _case_files(intake: Intake) -> list[tuple[dict[str, object], bytes]]:
    with Session(intake.engine) as s:
        case = s.exec(select(Case)).one()
        return read_back(s, intake.storage, case.id, intake.recovery_text)[1]


@pytest.mark.slow
def test_more_than_4096_tiny_patches_finish_and_read_back(intake: Intake) -> None:
    """The old cap (4096 pieces) is gone, and finishing does not merge anything."""
    data = bytes(range(256)) * 17  # 4352 bytes, sent one byte at a time
    url = create(intake.client, len(data))
    for i in range(len(data)):
        assert patch(intake.client, url, i, data[i:i + 1]).status_code == 204
    state = stored_state(intake.engine, intake.storage)
    assert state["file_part"] == len(data) == state["blobs"]
    f = _submit(intake, url)
    assert (f["size"], f["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    ((meta, plain),) = _case_files(intake)
    assert plain == data and meta["sha256"] == hashlib.sha256(data).hexdigest()
    with Session(intake.engine) as s:
        assert s.exec(select(FilePart).where(col(FilePart.upload_id).is_not(None))).all() == []


def test_a_failed_patch_is_retried_and_the_file_is_exact(intake: Intake) -> None:
    data = b"".join(i.to_bytes(4, "big") for i in range(30_000))
    url = create(intake.client, len(data))
    assert patch(intake.client, url, 0, data[:50_001]).status_code == 204
    # Damaged on the way (the checksum is of the right bytes): refused, nothing kept.
    wrong = b"x" + data[50_002:70_000]
    headers = {**PATCH, "Upload-Offset": "50001", "Upload-Checksum": "sha256 " +
               base64.b64encode(hashlib.sha256(data[50_001:70_000]).digest()).decode()}
    assert intake.client.patch(url, content=wrong, headers=headers).status_code == 460
    assert stored_state(intake.engine, intake.storage)["file_part"] == 1
    assert patch(intake.client, url, 50_001, data[50_001:70_000], "sha256").status_code == 204
    assert patch(intake.client, url, 70_000, data[70_000:]).status_code == 204
    f = _submit(intake, url)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    ((_, plain),) = _case_files(intake)
    assert plain == data


def test_a_missing_or_moved_part_is_never_handed_out(intake: Intake) -> None:
    data = b"abc" * 20_000
    url = create(intake.client, len(data))
    for start in range(0, len(data), 20_000):
        assert patch(intake.client, url, start, data[start:start + 20_000]).status_code == 204
    _submit(intake, url)
    ((_, plain),) = _case_files(intake)
    assert plain == data
    with Session(intake.engine) as s:
        att = s.exec(select(Attachment)).one()
        assert att.blob_name is None
        parts = stored.parts_of(s, att.id)
        assert [p.seq for p in parts] == [0, 1, 2]
        # The last part's row is dropped: the sizes no longer add up, nothing is read.
        s.exec(sa_delete(FilePart).where(col(FilePart.id) == parts[2].id))
        s.commit()
    try:
        _case_files(intake)
    except stored.PartsInconsistent:
        pass
    else:
        raise AssertionError("a file with a missing part was read")


def test_shredding_deletes_every_part(intake: Intake) -> None:
    data = b"q" * 30_000
    url = create(intake.client, len(data))
    for start in range(0, len(data), 10_000):
        assert patch(intake.client, url, start, data[start:start + 10_000]).status_code == 204
    _submit(intake, url)
    with Session(intake.engine) as s:
        case = s.exec(select(Case)).one()
        names = [p.blob_name for p in s.exec(select(FilePart))]
        assert len(names) == 3 and all(intake.storage.exists(n) for n in names)
        counts = shred_case(s, intake.storage, case.id)
        s.commit()
        assert counts["blobs"] == 3
        assert s.exec(select(FilePart)).all() == []
    assert not any(intake.storage.exists(n) for n in names)


def test_backup_restore_and_fsck_with_a_file_in_parts(
    intake: Intake, database: DbUnderTest, tmp_path: Path,
) -> None:
    data = os.urandom(70_000)
    url = create(intake.client, len(data))
    for start in range(0, len(data), 25_000):
        assert patch(intake.client, url, start, data[start:start + 25_000]).status_code == 204
    half = create(intake.client, 5000)  # an open upload's part is backed up too
    assert patch(intake.client, half, 0, b"h" * 1000).status_code == 204
    _submit(intake, url)
    with Session(intake.engine) as s:
        report_ = fsck.run(s, intake.settings, intake.storage,
                           fsck.default_options(intake.settings))
        assert report_.ok, report_.lines()
        assert report_.counts["attachments"] == 1 and report_.counts["upload_segments"] == 1

    archive = tmp_path / "parts.backup"
    create_backup(intake.settings, intake.engine, archive)
    url_db = _new_database(database.kind, tmp_path, database)
    target_settings = database.make_settings(tmp_path / "restored", database_url=url_db)
    migrations.upgrade(target_settings, url=url_db)
    target = make_engine(target_settings)
    try:
        restore_backup(target_settings, target, archive, intake.recovery_text)
        storage = get_storage(target_settings)
        with Session(target) as s:
            assert len(s.exec(select(FilePart)).all()) == 4
            case = s.exec(select(Case)).one()
            ((meta, plain),) = read_back(s, storage, case.id, intake.recovery_text)[1]
            assert plain == data and meta["sha256"] == hashlib.sha256(data).hexdigest()
            report_ = fsck.run(s, target_settings, storage, fsck.default_options(target_settings))
            assert report_.ok, report_.lines()
            # A part's blob lost: fsck names the attachment.
            part = s.exec(select(FilePart).where(col(FilePart.attachment_id).is_not(None))
                          .order_by(col(FilePart.seq))).first()
            assert part is not None
            storage.delete(part.blob_name)
            report_ = fsck.run(s, target_settings, storage, fsck.default_options(target_settings))
            assert [f.check for f in report_.problems] == ["attachment_blob_missing"]
    finally:
        target.dispose()


def test_an_upload_finished_before_parts_still_attaches_and_reads(intake: Intake) -> None:
    """A complete upload from before revision 0013 names one merged blob: it is claimed
    as a single-blob attachment and reads as before."""
    data = b"merged-before-0013 " * 500
    url = create(intake.client, len(data))
    cap = UploadCapability.parse(url)
    assert cap is not None
    # Build what the old code left: one stream file under the file key, id = upload id.
    with Session(intake.engine) as s:
        up = s.exec(select(Upload)).one()
        assert up.final_wrapped_key is not None
        file_key = capabilities.unwrap_final_key(cap.key(), up.id, up.final_wrapped_key)
        name = generate_name("f")
        sink = intake.storage.open_writer(name)
        writer = EncryptingWriter(sink, up.id.bytes, file_key)
        writer.write(data)
        result = writer.finish()
        size = sink.commit()
        meta = capabilities.open_metadata(cap.key(), up.id, up.sealed_metadata)
        meta.update(size=len(data), sha256=result.sha256, detected_type="text/plain")
        up.sealed_metadata = capabilities.seal_metadata(cap.key(), up.id, meta)
        up.state, up.sealed_progress = "complete", None
        up.final_blob_name, up.final_ciphertext_size = name, size
        s.add(up)
        s.commit()
    f = _submit(intake, url)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    with Session(intake.engine) as s:
        att = s.exec(select(Attachment)).one()
        assert att.blob_name == name and s.exec(select(FilePart)).all() == []
        assert s.exec(select(Upload)).all() == []
    ((_, plain),) = _case_files(intake)
    assert plain == data
    assert intake.storage.exists(name)


def test_finished_parts_take_the_whole_files_padding_bucket(intake: Intake) -> None:
    """Full parts are their own bucket; the last one is filled so two files of one Padmé
    bucket leave the same stored sizes (and the filler is never read back)."""
    stored_sizes = {}
    for total in (3 * 4096 + 100, 3 * 4096 + 120):
        data = os.urandom(total)
        url = create(intake.client, total)
        for start in range(0, total, 4096):
            assert patch(intake.client, url, start, data[start:start + 4096]).status_code == 204
        upload_id = UploadCapability.parse(url).upload_id  # type: ignore[union-attr]
        with Session(intake.engine) as s:
            stored_sizes[total] = [p.ciphertext_size for p in s.exec(
                select(FilePart).where(col(FilePart.upload_id) == upload_id)
                .order_by(col(FilePart.seq)))]
        f = _submit(intake, url)
        assert (f["size"], f["sha256"]) == (total, hashlib.sha256(data).hexdigest())
    assert padded_size(3 * 4096 + 100) == padded_size(3 * 4096 + 120)
    assert stored_sizes[3 * 4096 + 100] == stored_sizes[3 * 4096 + 120]
    assert len(stored_sizes[3 * 4096 + 100]) == 4
    with Session(intake.engine) as s:
        cases = s.exec(select(Case)).all()
        got = [read_back(s, intake.storage, c.id, intake.recovery_text)[1][0][1] for c in cases]
    assert sorted(len(g) for g in got) == [3 * 4096 + 100, 3 * 4096 + 120]


def test_the_type_is_sniffed_from_the_first_bytes_not_at_the_end(intake: Intake) -> None:
    """A program sent as a PDF is refused by the PATCH that brings its first 4 KiB, long
    before the last byte (finishing never re-reads the file to sniff it)."""
    data = b"MZ\x90\x00" + b"x" * 100_000
    url = create(intake.client, len(data), filename="a.pdf", filetype="application/pdf")
    assert patch(intake.client, url, 0, data[:1000]).status_code == 204  # too few to tell
    r = patch(intake.client, url, 1000, data[1000:20_000])
    assert r.status_code == 415 and "application/x-msdownload" in r.json()["error"]["message"]
    state = stored_state(intake.engine, intake.storage)
    assert (state["upload"], state["file_part"], state["blobs"]) == (0, 0, 0)
    # A PNG whose first PATCH is short is sniffed once enough bytes are in, and kept.
    png = PNG + b"\0" * 9000
    url = create(intake.client, len(png), filename="b.png", filetype="image/png")
    for start in range(0, len(png), 700):
        assert patch(intake.client, url, start, png[start:start + 700]).status_code == 204
    f = _submit(intake, url)
    assert f["type"] == "image/png"
