"""Partner organisations and their API keys in the console (admins), through the partner
service the API's admin routes call.

A new key's secret is in the answer to the POST that issued it and nowhere else: never
in a redirect, a URL, the session or the database (which keeps its SHA-256 only). That
answer is ``no-store`` like every page, so going back does not show it from a cache, and
sending the form again issues another key, never the same secret twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console import labels, pages
from api.console.dependencies import Admins, Form, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import DbSession, Now
from api.core.errors import InvalidInput
from api.partners import service
from api.stats import operations as stats

routes = APIRouter(prefix="/admin")  # included in the console router, under /staff

_NOTICES = {
    "created": N_("The partner is created. Issue it a key below."),
    "revoked": N_("The key is revoked: it stopped working at once."),
}
def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@routes.get("/partners")
def partners_page(signed: SignedIn, me: Admins, db: DbSession, now: Now) -> Response:
    rows = [(p, _live_scopes(db, p.id, now), stats.budget(db, p.id).mode)
            for p in service.list_partners(db)]
    commit_before_rendering(db)
    return pages.render("partners.html", signed.lang, signed=signed, partners=rows,
                        scope_labels=labels.SCOPES, mode_labels=labels.STATS_MODES,
                        title=pages.gettext(signed.lang, N_("Partners")))


def _live_scopes(db: DbSession, partner_id: uuid.UUID, now: datetime) -> list[str]:
    """What the partner may pull now: the scopes of its keys that still work."""
    live = [k for k in service.list_keys(db, partner_id) if k.revoked_at is None
            and (k.expires_at is None or k.expires_at > now)]
    return sorted({s for k in live for s in k.scopes.split()})


@routes.post("/partners")
def create_partner(request: Request, me: Admins, form: Form, db: DbSession) -> Response:
    check_csrf(request, me, form)
    partner = service.create_partner(db, form.get("name"), actor_id=me.user_id)
    return _see_other(f"/staff/admin/partners/{partner.id}?done=created")


@routes.get("/partners/{partner_id}")
def partner_page(request: Request, partner_id: uuid.UUID, signed: SignedIn, me: Admins,
                 db: DbSession) -> Response:
    partner = service.get_partner(db, partner_id)
    keys = list(service.list_keys(db, partner_id))
    mode = stats.budget(db, partner_id).mode
    commit_before_rendering(db)
    return pages.render("partner.html", signed.lang, signed=signed, partner=partner,
                        keys=keys, mode=mode, scopes=sorted(service.KNOWN_SCOPES),
                        scope_labels=labels.SCOPES, mode_labels=labels.STATS_MODES,
                        notice=pages.notice(request, signed.lang, _NOTICES),
                        title=partner.name)


def _expiry(value: str) -> datetime | None:
    """The form's day (``YYYY-MM-DD``): the key stops working at its start, 00:00 UTC."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Give the expiry as a day (YYYY-MM-DD) or leave it empty.") from None
    return datetime.combine(day, time(), tzinfo=UTC)


@routes.post("/partners/{partner_id}/keys")
def issue_key(request: Request, partner_id: uuid.UUID, signed: SignedIn, me: Admins,
              form: Form, db: DbSession, now: Now) -> Response:
    """Issue a key and show its secret in this answer, the only time it is ever shown."""
    check_csrf(request, me, form)
    partner = service.get_partner(db, partner_id)
    new = service.create_key(db, partner, name=form.get("name"), scopes=form.all("scopes"),
                             expires_at=_expiry(form.get("expires_on")), now=now,
                             actor_id=me.user_id)
    commit_before_rendering(db)
    response = pages.render("partner_key.html", signed.lang, signed=signed, partner=partner,
                            key=new.key, secret=new.secret,
                            title=pages.gettext(signed.lang, N_("New API key")))
    # The app sets this on every answer already; said here too, as this one holds a secret.
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/partner-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: uuid.UUID, me: Admins, form: Form, db: DbSession,
               now: Now) -> Response:
    check_csrf(request, me, form)
    key = service.revoke_key(db, key_id, now=now, actor_id=me.user_id)
    return _see_other(f"/staff/admin/partners/{key.partner_id}?done=revoked")
