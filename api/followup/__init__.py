"""Follow-up by receipt: status, messages and additions from the submitter."""
