"""Resumable uploads (tus 1.0), encrypted record by record as bytes arrive."""
