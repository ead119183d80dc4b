"""Cases: review workflow, structured metadata and the caseworker API."""
