"""``Storage``: the app's one blob storage client as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.core.dependencies import service
from api.storage.base import BlobStorage


def app_storage(request: Request) -> BlobStorage:
    """The app's one blob storage client (built once in :mod:`api.services`)."""
    # BlobStorage is a runtime-checkable Protocol; mypy wants concrete classes for type[T].
    return service(request, "storage", BlobStorage)  # type: ignore[type-abstract]


async def _storage(request: Request) -> BlobStorage:
    # async: a plain def dependency costs a thread hop per request (api/core/dependencies.py)
    return app_storage(request)


Storage = Annotated[BlobStorage, Depends(_storage)]
