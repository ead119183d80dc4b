"""Admin API: staff members' content-free email digest subscriptions.

Same URLs and OpenAPI tag as when they lived beside the job queue's admin routes.
"""

from __future__ import annotations

import uuid
from enum import Enum

from fastapi import APIRouter, Response

from api.auth.dependencies import AdminOnly
from api.core.dependencies import DbSession
from api.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from api.core.errors import error_responses as errors
from api.notifications import service
from api.notifications.schemas import SubscriptionIn, SubscriptionOut

router = APIRouter(prefix="/api/v1/admin")
TAGS: list[str | Enum] = ["admin: jobs"]
AUTH = (Unauthorized, Forbidden)


@router.get("/notifications/subscriptions", tags=TAGS, response_model=list[SubscriptionOut],
            responses=errors(*AUTH))
def list_subscriptions(me: AdminOnly, session: DbSession) -> list[SubscriptionOut]:
    return [SubscriptionOut.model_validate(s) for s in service.list_subscriptions(session)]


@router.put("/notifications/subscriptions/{staff_user_id}", tags=TAGS,
            response_model=SubscriptionOut, responses=errors(*AUTH, NotFound, InvalidInput))
def subscribe(staff_user_id: uuid.UUID, body: SubscriptionIn, me: AdminOnly,
              session: DbSession) -> SubscriptionOut:
    """Create or change a staff member's content-free email digest."""
    sub = service.subscribe(session, staff_user_id, body.email, body.digest_interval_minutes)
    return SubscriptionOut.model_validate(sub)


@router.delete("/notifications/subscriptions/{subscription_id}", tags=TAGS, status_code=204,
               responses=errors(*AUTH, NotFound))
def unsubscribe(subscription_id: uuid.UUID, me: AdminOnly, session: DbSession) -> Response:
    service.unsubscribe(session, subscription_id)
    return Response(status_code=204)
