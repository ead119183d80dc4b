"""Encrypted, consistent backups of the database and the blob store (``dokaz backup``)."""
