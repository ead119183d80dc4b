"""Consistency check of database, blob store and key wraps (``dokaz fsck``)."""
