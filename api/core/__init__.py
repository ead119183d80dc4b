"""Shared plumbing: settings, database sessions, errors, logging and privacy middleware."""
