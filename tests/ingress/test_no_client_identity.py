"""DOKAZ_CLIENT_IDENTITY=none: no per-client limit may apply, because everyone shares the proxy.

With a shared stand-in key, one client's flood or a few wrong receipts would refuse every
genuine person behind the same proxy. Only the global budget (and the per-receipt counter)
remain.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.intake.conftest import Intake
from tests.intake.helpers import report

WRONG_RECEIPT = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"


def test_without_identity_no_client_bucket_fills(intake_with: Callable[..., Intake]) -> None:
    app = intake_with(client_identity="none", intake_rate_per_client_per_hour=2)
    codes = [app.client.post("/api/v1/submissions", json=report()).status_code
             for _ in range(4)]
    assert codes == [201, 201, 201, 201]


def test_without_identity_the_global_budget_still_holds(
    intake_with: Callable[..., Intake],
) -> None:
    app = intake_with(client_identity="none", intake_rate_global_per_minute=2)
    codes = [app.client.post("/api/v1/submissions", json=report()).status_code
             for _ in range(3)]
    assert codes == [201, 201, 503]


def test_with_an_address_the_same_client_is_limited(intake_with: Callable[..., Intake]) -> None:
    # The contrast: the default mode keys the limit on the peer (one test client here).
    app = intake_with(intake_rate_per_client_per_hour=2)
    codes = [app.client.post("/api/v1/submissions", json=report()).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]


def test_without_identity_wrong_receipts_lock_nobody_out(
    intake_with: Callable[..., Intake],
) -> None:
    app = intake_with(client_identity="none", receipt_attempts_per_hour=2)
    receipt = app.client.post("/api/v1/submissions", json=report()).json()["receipt"]
    for _ in range(4):
        wrong = app.client.post("/api/v1/followup/session", json={"receipt": WRONG_RECEIPT})
        assert wrong.status_code in (400, 401), wrong.text
    right = app.client.post("/api/v1/followup/session", json={"receipt": receipt})
    assert right.status_code in (200, 201), right.text
