"""Coarse, plaintext coding of a new case, derived from the submission.

Only what the threat model allows in plaintext is derived here: region, start month
with its precision, received day and urgency flags from a fixed list (the random public
reference is made with the case, :mod:`api.cases.creation`). Year-only dates are stored
as ``YYYY-01`` with precision ``unknown_month_day`` so yearly statistics still work and
nobody mistakes them for January.

Urgency (``Case.urgent``, ``Case.urgency_reasons``):

* ``ongoing_detention``: a person is reported still detained, or a detention is
  reported as ongoing;
* ``torture_risk``: the submitter says someone is at risk now, or torture is reported
  together with an ongoing detention;
* ``wgeid_urgent``: an enforced disappearance that began at most 90 days before it was
  reported (the UN WGEID urgent procedure). With a partial date the latest possible day
  is used, so an uncertain date never hides an urgent case.
"""

from __future__ import annotations

from datetime import date

from api.intake.schemas import SubmissionIn, latest_date

WGEID_URGENT_DAYS = 90


def urgency_reasons(data: SubmissionIn, received_on: date) -> list[str]:
    reasons: list[str] = []
    detained = any(p.still_detained for p in data.persons) or (
        "detention" in data.acts and data.when is not None and data.when.ongoing
    )
    if detained:
        reasons.append("ongoing_detention")
    if data.torture_risk or ("torture" in data.acts and detained):
        reasons.append("torture_risk")
    recent = data.when is not None and (
        (received_on - latest_date(data.when.start)).days <= WGEID_URGENT_DAYS
    )
    if "disappearance" in data.acts and recent:
        reasons.append("wgeid_urgent")
    return reasons


def period_start(data: SubmissionIn) -> tuple[str | None, str | None]:
    """(YYYY-MM, precision) for the case, or (None, None) when no date was given."""
    if data.when is None:
        return None, None
    start = data.when.start
    month = start[:7] if len(start) >= 7 else f"{start}-01"
    return month, data.when.precision
