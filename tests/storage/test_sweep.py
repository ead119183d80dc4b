"""The orphan sweep deletes only old blobs that no committed row names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from api.blob_references import blob_references
from api.cases.files.models import Attachment
from api.storage import generate_name
from api.storage.sweep import sweep_orphans
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, form, report


def test_sweep_keeps_referenced_and_recent_blobs(intake: Intake) -> None:
    body, ctype = form(report(), [("a.png", "image/png", PNG)])
    assert intake.client.post("/api/v1/submissions", content=body,
                              headers={"content-type": ctype}).status_code == 201
    orphan = generate_name("a")  # as if the process died before its commit
    w = intake.storage.open_writer(orphan)
    w.write(b"DKZF...")
    w.commit()
    with Session(intake.engine) as s:
        kept = s.exec(select(Attachment.blob_name)).one()
        assert kept is not None
        refs = blob_references()
        assert sweep_orphans(s, intake.storage, timedelta(hours=6), refs) == 0  # too recent
        later = datetime.now(UTC) + timedelta(hours=7)
        assert sweep_orphans(s, intake.storage, timedelta(hours=6), refs, now=later) == 1
        assert s.exec(select(col(Attachment.blob_name))).all() == [kept]
    assert intake.storage.exists(kept) and not intake.storage.exists(orphan)
