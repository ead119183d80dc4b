"""Periodic audit chaining: the backstop for entries a crashed API process left unchained.

Every API process chains after its commits and, on PostgreSQL, every half of
``audit_chain_max_age_seconds`` (api/audit/service.py); this job covers a deployment where
no API process runs for a while (SQLite after a crash, or only the worker up).
"""

from __future__ import annotations

from datetime import timedelta

from workers.jobs import feature_job
from workers.registry import register

register(feature_job("audit_chain", "api.audit.service", "chain_job", timedelta(minutes=1)))
