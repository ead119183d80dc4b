"""Tables of this feature (see api/core/models.py for the conventions)."""
