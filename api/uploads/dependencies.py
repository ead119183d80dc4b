"""Typed dependencies of the tus routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.core.dependencies import service
from api.core.shared import Leases


def upload_leases(request: Request) -> Leases:
    """Holds on an upload while one PATCH streams into it (one at a time, in every process)."""
    return service(request, "upload_leases", Leases)


UploadLeases = Annotated[Leases, Depends(upload_leases)]
