"""A PATCH's part is made durable (fsync, rename; with S3 its upload completed) while the
transaction that records it runs its statements (api.uploads.service.ReceivedSegment):
the row still commits only once the blob is in place, and a part that cannot be made
durable (its last record or its commit failing), or whose row cannot be written, leaves
nothing behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from api.cases.files.models import FilePart
from api.storage.local import LocalBlobWriter, LocalStorage
from api.uploads import repository
from crypto.stream import EncryptingWriter
from tests.intake.conftest import Intake
from tests.uploads.test_tus import create, offset, patch

PIECE = os.urandom(700_000)  # past DIRECT_FROM: direct writes and a buffered tail


def _files(intake: Intake) -> set[str]:
    assert isinstance(intake.storage, LocalStorage)
    root = Path(intake.settings.data_dir) / "blobs"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _parts(intake: Intake) -> list[str]:
    with Session(intake.engine) as s:
        return list(s.exec(select(FilePart.blob_name)))


def test_the_row_commits_only_once_its_blob_is_in_place(
        intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    running: set[str] = set()
    seen_at_commit: list[set[str]] = []
    real_commit = LocalBlobWriter.commit

    def slow_commit(self: LocalBlobWriter) -> int:
        running.add(self.name)
        time.sleep(0.2)  # far longer than the statements: a commit not waiting would show
        try:
            return real_commit(self)
        finally:
            running.discard(self.name)

    def at_commit(_conn: object) -> None:
        seen_at_commit.append(set(running))

    monkeypatch.setattr(LocalBlobWriter, "commit", slow_commit)
    event.listen(intake.engine, "commit", at_commit)
    try:
        url = create(intake.client, 2 * len(PIECE))
        for at in (0, len(PIECE)):
            r = patch(intake.client, url, at, PIECE)
            assert r.status_code == 204, r.text
    finally:
        event.remove(intake.engine, "commit", at_commit)
    assert seen_at_commit and all(not names for names in seen_at_commit)
    assert offset(intake.client, url) == 2 * len(PIECE)
    assert all(intake.storage.exists(name) for name in _parts(intake))


@pytest.mark.parametrize("fails", ["last record", "fsync", "statement"])
def test_a_part_not_made_durable_or_not_recorded_leaves_nothing(
        intake: Intake, monkeypatch: pytest.MonkeyPatch, fails: str) -> None:
    url = create(intake.client, 2 * len(PIECE))
    assert patch(intake.client, url, 0, PIECE).status_code == 204
    before = _files(intake)
    if fails == "last record":
        def broken_finish(self: EncryptingWriter) -> None:
            raise OSError("the disk went away")
        monkeypatch.setattr(EncryptingWriter, "finish", broken_finish)
    elif fails == "fsync":
        def broken_commit(self: LocalBlobWriter) -> int:
            raise OSError("the disk went away")
        monkeypatch.setattr(LocalBlobWriter, "commit", broken_commit)
    else:
        entered = threading.Event()
        real_commit = LocalBlobWriter.commit

        def slow_commit(self: LocalBlobWriter) -> int:
            entered.set()
            time.sleep(0.2)  # still renaming into place when the statement fails
            return real_commit(self)

        def refused(*_args: object, **_kwargs: object) -> bool:
            assert entered.wait(5)
            return False  # as if another PATCH had advanced the upload meanwhile

        monkeypatch.setattr(LocalBlobWriter, "commit", slow_commit)
        monkeypatch.setattr(repository, "advance", refused)
    # The failure is the server's, rendered as any unexpected one: not raised here.
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    r = patch(client, url, len(PIECE), PIECE)
    assert r.status_code == (409 if fails == "statement" else 500), r.text
    monkeypatch.undo()
    assert _files(intake) == before  # neither the part nor its writing name is left
    assert offset(intake.client, url) == len(PIECE)
    assert patch(intake.client, url, len(PIECE), PIECE).status_code == 204  # and it goes on
    assert offset(intake.client, url) == 2 * len(PIECE)
