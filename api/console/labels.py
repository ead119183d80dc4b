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
    "witness_ids": N_("Witnesses"),
    # the chain of events
    "preceding_act_id": N_("Follows this act of the case"),
    "chain_link": N_("How it follows"),
    # the trial, its appeals and the remedies tried (kept encrypted)
    "court": N_("Court (kept encrypted)"),
    "judge": N_("Judge (kept encrypted)"),
    "case_number": N_("Case number (kept encrypted)"),
    "opened_on": N_("Trial opened (kept encrypted)"),
    "judgment_on": N_("Judgment given (kept encrypted)"),
    "counsel": N_("Defence counsel (kept encrypted)"),
    "charges": N_("Charges (kept encrypted)"),
    "sentence": N_("Sentence (kept encrypted)"),
    "date": N_("Date (kept encrypted)"),
    "outcome": N_("Outcome (kept encrypted)"),
    "remedy": N_("What was tried (kept encrypted)"),
    # files that document a torture allegation
    "attachment_id": N_("File of this case"),
    "body_area": N_("Part of the body it shows"),
    "note": N_("Note (kept encrypted)"),
    # steps taken to find a disappeared person
    "type": N_("What was done (kept encrypted)"),
    "addressed_to": N_("With whom: an authority, a court (kept encrypted)"),
    # detention, beyond the above
    "court_type": N_("Court"),
    "fine_band": N_("Fine"),
    "warrant_shown": N_("Warrant shown at the arrest"),
    "verdict_month": N_("Verdict or ruling (month)"),
    "trial_closed": N_("Trial closed to the public"),
    "trial_video_link": N_("Trial by video link"),
    "special_proceedings": N_("Tried in absentia (special proceedings)"),
    "legal_basis": N_("Legal basis (articles)"),
    "wgad_categories": N_("Categories of arbitrary detention (WGAD)"),
    # torture, beyond the above
    "method": N_("Method"),
    "duration": N_("How long"),
    "frequency": N_("How often"),
    "medical_examination": N_("Medically examined"),
    "psych_evaluation": N_("Psychologically evaluated"),
    "examiner_qualification": N_("Qualification of the examiner"),
    "ip_consistency": N_("Consistency of the findings with the account"),
    "body_areas": N_("Parts of the body injured"),
    "positions": N_("Positions forced"),
    "objects": N_("Objects used"),
    "psych_sequelae": N_("Psychological after-effects"),
    # disappearance
    "last_seen_month": N_("Last seen (month)"),
    "last_seen_date": N_("Exact day last seen, if known (kept encrypted)"),
    "last_seen_place": N_("Place last seen (kept encrypted)"),
    "forces_responsible": N_("Forces responsible"),
    "state_acknowledgement": N_("What the authorities acknowledge"),
    "current_status": N_("Current status"),
    "circumstances": N_("Circumstances (kept encrypted)"),
    # an alleged perpetrator
    "perpetrator_type": N_("Kind of perpetrator"),
    "degree": N_("Involvement"),
    "person_id": N_("The perpetrator as a person of this case"),
    "names": N_("Names, one a line (kept encrypted)"),
    "unit": N_("Unit (kept encrypted)"),
    "badge_numbers": N_("Badge numbers, one a line (kept encrypted)"),
    "description": N_("Description (kept encrypted)"),
    # an intervention
    "intervention": N_("the intervention"),
    "intervention_type": N_("Intervention"),
    "month": N_("Month"),
    "status": N_("Status"),
    "reference": N_("Reference (kept encrypted)"),
    "correspondence": N_("Correspondence (kept encrypted)"),
    "response": N_("Response (kept encrypted)"),
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
