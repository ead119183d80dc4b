"""The order of a door's guards decides which refusal a doubly-bad request gets."""

from __future__ import annotations

from collections.abc import Callable

from tests.intake.conftest import Intake

TUS = {"Tus-Resumable": "1.0.0"}


def test_an_upload_over_the_file_limit_is_413_before_any_disk_check(
    intake_with: Callable[..., Intake],
) -> None:
    # The disk is "full" (the floor is unreachable): a file that could never be accepted
    # is still told so plainly, not "try again later".
    app = intake_with(max_file_bytes=1000, min_free_disk_bytes=1 << 60)
    too_big = app.client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "1001"})
    assert too_big.status_code == 413, too_big.text
    assert "larger than the limit" in too_big.json()["error"]["message"]
    fits = app.client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "1000"})
    assert fits.status_code == 503, fits.text
