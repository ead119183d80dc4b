"""Periodic audit-chain checkpoint: stores the head so a rewritten tail is detectable.

A checkpoint of an empty log names entry #0 (the genesis), which verify_chain accepts.
"""

from __future__ import annotations

from datetime import timedelta

from workers.jobs import feature_job
from workers.registry import register

register(feature_job("audit_checkpoint", "api.audit.service", "checkpoint", timedelta(hours=1)))
