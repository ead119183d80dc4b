"""Urgency reasons a case's metadata implies, as codes of the ``urgency_reason`` vocabulary.

* ``ongoing_detention``: a detention recorded as ongoing;
* ``torture_risk``: an ongoing detention of a person who was already ill-treated, or who is
  held incommunicado (whereabouts not disclosed, capture denied, or counsel denied);
* ``wgeid_urgent``: a disappearance reported within 90 days of the person last being seen,
  while still missing: the WGEID urgent action procedure applies (no need to exhaust
  domestic remedies; transmitted to the government within days).
"""

from __future__ import annotations

from typing import Final

ONGOING_DETENTION: Final = "ongoing_detention"
TORTURE_RISK: Final = "torture_risk"
WGEID_URGENT: Final = "wgeid_urgent"
WGEID_URGENT_DAYS: Final = 90

# whereabouts codes meaning the person is held where nobody can reach them.
NOT_DISCLOSED_WHEREABOUTS: Final = frozenset({"not_disclosed", "capture_denied"})
# status_at_end codes meaning the person is still missing.
STILL_MISSING: Final = frozenset({"still_missing"})
