"""Words for the codes a console page shows: roles, states, sort orders, message kinds,
the reasons a move of a case is refused.

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
# The workflow's refusals by rule (api.cases.workflow.transitions.REFUSALS): the same
# English sentences, so the catalog translates the case page's reason and the message of
# the refusal a move gets alike (tests/console/test_casepage.py keeps them equal).
REFUSALS: Final = {
    "coordinator_only": N_("Only a coordinator may make this move."),
    "role": N_("Your role may not make this move."),
    "needs_key": N_("Verifying a case needs access to its content; ask to be granted it."),
    "four_eyes": N_("You sent this case to review; a second person must verify it."),
    "merged": N_("This case was merged into another one; split its submissions out of "
                 "that case instead of reopening it."),
}
