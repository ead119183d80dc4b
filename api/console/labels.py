"""Words for the codes a console page shows: roles, states, sort orders, message kinds.

Coded case fields (priority, region, act types, ...) take their labels from the
vocabularies themselves (``api.vocab.registry.label``), which carry all four languages;
the codes below are the console's own and are translated through its catalog.
"""

from __future__ import annotations

from typing import Final

from api.console.i18n import N_

ROLES: Final = {
    "admin": N_("admin"),
    "coordinator": N_("coordinator"),
    "caseworker": N_("caseworker"),
    "lawyer": N_("lawyer"),
}
STATES: Final = {
    "new": N_("new"),
    "triage": N_("triage"),
    "in_review": N_("in review"),
    "needs_info": N_("waiting for the submitter"),
    "verified": N_("verified"),
    "referred": N_("referred"),
    "closed": N_("closed"),
    "rejected": N_("rejected"),
    "duplicate": N_("duplicate"),
    "spam": N_("spam"),
}
SORTS: Final = {
    "received_on": N_("received"),
    "priority": N_("priority"),
    "urgency": N_("urgency"),
    "state_changed_at": N_("last state change"),
    "due": N_("due date"),
}
DIRECTIONS: Final = {
    "to_submitter": N_("to the submitter"),
    "from_submitter": N_("from the submitter"),
}
APPROVAL_KINDS: Final = {
    "reader": N_("may read cases at all"),
    "coordinator_role": N_("becomes a coordinator"),
    "intake_duty": N_("goes on intake duty"),
    "case_grant": N_("access to a case"),
}
FIELDS: Final = {
    "act": N_("the act"),
    "victim_id": N_("Victim"),
    "act_type": N_("What happened"),
    "start_month": N_("From (month)"),
    "end_month": N_("Until (month)"),
    "date_precision": N_("How exact the dates are"),
    "start_date": N_("Exact day, if known (kept encrypted)"),
    "region": N_("Region"),
    "facility": N_("Place"),
    "location": N_("Place as described (kept encrypted)"),
    "status_at_end": N_("Status at the end"),
    "legal_regime": N_("Legal regime of the detention"),
    "facility_type": N_("Kind of facility"),
    "counsel_access": N_("Access to a lawyer"),
    "admin_arrest_days": N_("Days of administrative arrest"),
    "methods": N_("Methods"),
    "intents": N_("Purpose"),
    "medical_attention": N_("Medical attention"),
    "statement_signed": N_("Statement signed"),
}
PERSON_ROLES: Final = {
    "victim": N_("victim"),
    "relative": N_("relative"),
    "source": N_("source"),
    "witness": N_("witness"),
    "perpetrator": N_("alleged perpetrator"),
    "lawyer": N_("lawyer"),
}
# A partner's statistics mode (api.stats) and what a key's scopes let it pull.
STATS_MODES: Final = {
    "suppressed": N_("exact tables, small cells suppressed"),
    "dp": N_("noisy tables under a privacy budget"),
}
SCOPES: Final = {
    "stats:read": N_("the statistics tables"),
}
# The organisation profile's fields (api.cases.referrals.profile.ProfileIn).
PROFILE_FIELDS: Final = {
    "name": N_("Organisation name"),
    "contact": N_("Contact for the Working Groups"),
    "source_confidential": N_("Ask the Working Group not to reveal the source to the government"),
}
