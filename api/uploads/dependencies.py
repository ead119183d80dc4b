"""Typed dependencies of the tus routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.core.dependencies import service
from api.core.shared import Leases


async def upload_leases(request: Request) -> Leases:
    """Holds on an upload while one PATCH streams into it (one at a time, in every process).
    async: a plain def dependency costs a thread hop per request (api/core/dependencies.py)."""
    return service(request, "upload_leases", Leases)


UploadLeases = Annotated[Leases, Depends(upload_leases)]
