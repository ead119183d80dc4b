from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.core.dependencies import Config, DbEngine
from api.health.service import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve: database reachable, migrations at head, recovery key installed, "
    "data directory writable",
    responses={503: {"description": "A check failed; the body names it"}},
)
def readyz(engine: DbEngine, settings: Config) -> JSONResponse:
    checks = readiness(engine, settings)
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks},
        status_code=200 if ok else 503,
    )
