"""Dokaz: case intake and secure submission for documenting repression.

The service is organised by feature (one package each under ``api/``); the pieces
every feature shares (settings, database, errors, logging) live in ``api.core``.
"""

__version__ = "0.1.0"
