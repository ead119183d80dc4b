"""Admin pages of the console: accounts (create, disable and enable, role, intake duty,
reader approval, a new TOTP secret) and the system (the audit log's verification and
export, the job queue), through the same services as the API's admin routes.

An admin alone never makes a reader: a new account, a coordinator role and intake duty
become requests a coordinator approves (``api.approvals``), exactly as on the API. A new
TOTP secret is shown once, as a QR code drawn here (``segno``, SVG inline in the page: no
image request, nothing from another origin) and as text for typing in.
"""

from __future__ import annotations

import uuid

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup

from api.approvals import service as approvals
from api.audit import export
from api.audit.service import verify_chain
from api.audit.shipping import shipped_anchors
from api.auth import accounts
from api.auth import repository as auth_repository
from api.auth.accounts import Actor
from api.auth.roles import ACCOUNT_ROLES, Role
from api.console import pages
from api.console.dependencies import Admins, Form, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbEngine, DbSession, Now
from api.core.errors import InvalidInput
from api.jobs import repository as jobs_repository
from api.jobs import service as jobs_service

routes = APIRouter(prefix="/admin")  # included in the console router, under /staff


def _actor(me_id: uuid.UUID) -> Actor:
    return Actor("staff", me_id)


def qr_svg(uri: str) -> Markup:
    """The provisioning URI as an inline SVG QR code (no script, no image request)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000",
                                                light="#fff", title="TOTP")
    return Markup(svg)  # noqa: S704 (segno's own SVG markup, of our own URI)


@routes.get("/accounts")
def accounts_page(request: Request, signed: SignedIn, me: Admins, db: DbSession) -> Response:
    users = list(auth_repository.list_staff(db))
    commit_before_rendering(db)
    return pages.render("accounts.html", signed.lang, signed=signed, users=users,
                        roles=[r.value for r in Role if r in ACCOUNT_ROLES],
                        notice=pages.notice(request, signed.lang, _NOTICES),
                        title=pages.gettext(signed.lang, N_("Accounts")))


_NOTICES = {
    "disabled": N_("The account is disabled and its sessions are signed out."),
    "enabled": N_("The account is enabled again."),
    "changed": N_("Saved. A change that gives access waits for a coordinator's approval."),
    "retried": N_("The job is queued again with a fresh set of attempts."),
}




def _role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise InvalidInput("Choose a role from the list.") from None
    if role not in ACCOUNT_ROLES:
        raise InvalidInput("Choose a role from the list.")
    return role


@routes.post("/accounts")
def create_account(request: Request, signed: SignedIn, me: Admins, form: Form, db: DbSession,
                   settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    username = form.get("username").strip()
    password = form.get("password")
    if not 3 <= len(username) <= 64:
        raise InvalidInput("A username has 3 to 64 characters.")
    if not 1 <= len(password) <= 256:
        raise InvalidInput("Give the person a first password (they change it at once).")
    made = approvals.create_account(
        db, settings, username=username, role=_role(form.get("role")), password=password,
        on_intake_duty=form.get("on_intake_duty") == "on", actor=_actor(me.user_id), now=now)
    pending = [approvals.out(p, settings) for p in made.pending]
    user = made.new.user
    uri = made.new.provisioning_uri
    commit_before_rendering(db)
    return pages.render("totp.html", signed.lang, signed=signed, user=user, uri=uri,
                        qr=qr_svg(uri), pending=pending,
                        title=pages.gettext(signed.lang, N_("New account")))


@routes.post("/accounts/{user_id}/disable")
def disable(request: Request, user_id: uuid.UUID, me: Admins, form: Form, db: DbSession,
            now: Now) -> Response:
    check_csrf(request, me, form)
    accounts.disable_user(db, accounts.require_user(db, user_id), actor=_actor(me.user_id),
                          now=now)
    return RedirectResponse("/staff/admin/accounts?done=disabled", status_code=303)


@routes.post("/accounts/{user_id}/enable")
def enable(request: Request, user_id: uuid.UUID, me: Admins, form: Form, db: DbSession,
           now: Now) -> Response:
    check_csrf(request, me, form)
    accounts.enable_user(db, accounts.require_user(db, user_id), actor=_actor(me.user_id),
                         now=now)
    return RedirectResponse("/staff/admin/accounts?done=enabled", status_code=303)


@routes.post("/accounts/{user_id}/role")
def change_role(request: Request, user_id: uuid.UUID, me: Admins, form: Form, db: DbSession,
                settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    approvals.change_role(db, settings, accounts.require_user(db, user_id),
                          _role(form.get("role")), actor=_actor(me.user_id), today=now.date())
    return RedirectResponse("/staff/admin/accounts?done=changed", status_code=303)


@routes.post("/accounts/{user_id}/intake-duty")
def intake_duty(request: Request, user_id: uuid.UUID, me: Admins, form: Form, db: DbSession,
                settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    approvals.change_intake_duty(db, settings, accounts.require_user(db, user_id),
                                 form.get("on_intake_duty") == "on", actor=_actor(me.user_id),
                                 today=now.date())
    return RedirectResponse("/staff/admin/accounts?done=changed", status_code=303)


@routes.post("/accounts/{user_id}/reset-totp")
def reset_totp(request: Request, user_id: uuid.UUID, signed: SignedIn, me: Admins, form: Form,
               db: DbSession, settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    new = accounts.reset_totp(db, settings, accounts.require_user(db, user_id),
                              actor=_actor(me.user_id), now=now)
    uri = new.provisioning_uri
    commit_before_rendering(db)
    return pages.render("totp.html", signed.lang, signed=signed, user=new.user, uri=uri,
                        qr=qr_svg(uri), pending=[],
                        title=pages.gettext(signed.lang, N_("New sign-in code")))


# ---- the system: the audit log's verification, the job queue and its dead letters ----

@routes.get("/system")
def system_page(request: Request, signed: SignedIn, me: Admins, db: DbSession) -> Response:
    counts = jobs_repository.counts_by_status(db)
    dead = jobs_service.list_jobs(db, status="dead", limit=50)
    commit_before_rendering(db)
    return pages.render("system.html", signed.lang, signed=signed, counts=counts, dead=dead,
                        verified=None, notice=pages.notice(request, signed.lang, _NOTICES),
                        title=pages.gettext(signed.lang, N_("System")))


@routes.post("/audit/verify")
def verify_audit(request: Request, signed: SignedIn, me: Admins, form: Form, db: DbSession,
                 settings: Config) -> Response:
    """Verify the whole hash chain and the shipped checkpoints, as ``dokaz audit verify``
    and the API do (an unreadable bucket is an error page, never an "ok")."""
    check_csrf(request, me, form)
    result = verify_chain(db, anchors=shipped_anchors(settings),
                          max_unchained_age=settings.audit_chain_max_age_seconds)
    counts = jobs_repository.counts_by_status(db)
    dead = jobs_service.list_jobs(db, status="dead", limit=50)
    commit_before_rendering(db)
    return pages.render("system.html", signed.lang, signed=signed, counts=counts, dead=dead,
                        verified=result, notice="",
                        title=pages.gettext(signed.lang, N_("System")))


@routes.post("/jobs/{job_id}/retry")
def retry_job(request: Request, job_id: uuid.UUID, me: Admins, form: Form,
              db: DbSession) -> Response:
    check_csrf(request, me, form)
    jobs_service.retry(db, job_id)
    return RedirectResponse("/staff/admin/system?done=retried", status_code=303)


@routes.get("/audit/export")
def export_page(signed: SignedIn, me: Admins) -> Response:
    return pages.render("audit_export.html", signed.lang, signed=signed,
                        title=pages.gettext(signed.lang, N_("Export the audit log")))


@routes.post("/audit/export")
def export_audit(request: Request, me: Admins, form: Form, db: DbSession, engine: DbEngine,
                 now: Now) -> Response:
    """The whole log as the API exports it, streamed as a download. A POST with the form
    token, not a link: the export writes an entry, which another site must not cause."""
    check_csrf(request, me, form)
    chosen = form.get("format")
    if chosen not in ("csv", "json"):
        raise InvalidInput("Choose CSV or JSON.")
    fmt: export.ExportFormat = "csv" if chosen == "csv" else "json"
    out = export.download(db, engine, fmt, actor_id=me.user_id, now=now)
    commit_before_rendering(db)  # the export's own entry is in the file it starts
    return StreamingResponse(
        out.body, media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"',
                 "Cache-Control": "no-store"})
