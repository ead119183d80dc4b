"""Refresh the anonymised statistics tables (api.stats.service.refresh).

Scheduled only when the statistics feature provides ``refresh``; never faked.
"""

from __future__ import annotations

from datetime import timedelta

from workers.jobs import feature_job
from workers.registry import register

register(feature_job("refresh_stats", "api.stats.service", "refresh", timedelta(hours=1)))
