"""Readiness checks. Each returns ok plus a short reason an operator can act on."""

from __future__ import annotations

import os
import secrets
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session

from api.core.migrations import current_revision, head_revision
from api.core.settings import Settings
from api.keys.repository import active_recovery_key
from api.keys.service import SETUP_HINT


def _recovery_key(engine: Engine, schema_ok: bool) -> dict[str, Any]:
    # Without it intake refuses every report (503), so the service is not ready to serve.
    if not schema_ok:
        return {"ok": False, "reason": "database not ready"}
    try:
        with Session(engine) as session:
            present = active_recovery_key(session) is not None
    except Exception as exc:
        return {"ok": False, "reason": type(exc).__name__}
    if present:
        return {"ok": True}
    return {"ok": False, "reason": f"no organisation recovery key: {SETUP_HINT}"}


def readiness(engine: Engine, settings: Settings) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "reason": f"unreachable ({type(exc).__name__})"}

    if checks["database"]["ok"]:
        try:
            current, head = current_revision(engine), head_revision()
            checks["migrations"] = {"ok": current == head, "current": current, "head": head}
            if current != head:
                checks["migrations"]["reason"] = "run `dokaz db upgrade`"
        except Exception as exc:
            checks["migrations"] = {"ok": False, "reason": type(exc).__name__}
    else:
        checks["migrations"] = {"ok": False, "reason": "database unreachable"}

    checks["recovery_key"] = _recovery_key(engine, checks["migrations"]["ok"])

    probe = settings.data_dir / f".ready-{secrets.token_hex(8)}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        checks["data_dir"] = {"ok": True}
    except OSError as exc:
        checks["data_dir"] = {"ok": False, "reason": os.strerror(exc.errno or 0) or "not writable"}
    return checks
