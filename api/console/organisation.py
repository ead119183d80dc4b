"""The organisation profile in the console (admins): the submitting organisation every
referral draft prints, read and set through the referrals' own profile functions and
``ProfileIn``, the model the API's PUT validates.

A form that does not validate comes back with each wrong field named in the console's
language; nothing is stored, and the English of the validation error is not shown (it
would repeat the input).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.cases.referrals import profile
from api.cases.referrals.profile import ProfileIn
from api.console import labels, pages
from api.console.dependencies import Admins, Form, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import DbSession

routes = APIRouter(prefix="/admin")  # included in the console router, under /staff

_NOTICES = {"saved": N_("Saved. Referral drafts print the new profile from now on.")}
REQUIRED = N_("Fill this in.")
TOO_LONG = N_("This is longer than %(limit)s characters.")
NOT_VALID = N_("This value is not accepted.")


def _field_errors(exc: ValidationError) -> dict[str, tuple[str, dict[str, Any]]]:
    """field -> (message, its values), from pydantic's error types (never the input)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "name"
        kind = error.get("type", "")
        if kind in ("missing", "string_too_short"):
            out[field] = (REQUIRED, {})
        elif kind == "string_too_long":
            out[field] = (TOO_LONG, {"limit": (error.get("ctx") or {}).get("max_length", "")})
        else:
            out.setdefault(field, (NOT_VALID, {}))
    return out


def _page(request: Request, signed: pages.Signed, db: DbSession, values: dict[str, Any], *,
          status_code: int = 200,
          errors: dict[str, tuple[str, dict[str, Any]]] | None = None) -> Response:
    stored = profile.get(db)
    commit_before_rendering(db)
    return pages.render("organisation.html", signed.lang, signed=signed, status_code=status_code,
                        stored=stored, values=values, errors=errors or {},
                        field_labels=labels.PROFILE_FIELDS,
                        notice=pages.notice(request, signed.lang, _NOTICES),
                        title=pages.gettext(signed.lang, N_("Organisation profile")))


@routes.get("/organisation-profile")
def profile_page(request: Request, signed: SignedIn, me: Admins, db: DbSession) -> Response:
    stored = profile.get(db)
    values = ({"name": "", "contact": "", "source_confidential": True} if stored is None
              else ProfileIn.model_validate(stored, from_attributes=True).model_dump())
    return _page(request, signed, db, values)


@routes.post("/organisation-profile")
def save_profile(request: Request, signed: SignedIn, me: Admins, form: Form,
                 db: DbSession) -> Response:
    check_csrf(request, me, form)
    # An unticked checkbox sends nothing: absent means "no", not the model's default.
    values: dict[str, Any] = {"name": form.get("name"), "contact": form.get("contact"),
                              "source_confidential": form.get("source_confidential") == "on"}
    try:
        body = ProfileIn.model_validate(values)  # the API's own model: the same rules
    except ValidationError as exc:
        return _page(request, signed, db, values, status_code=422, errors=_field_errors(exc))
    profile.put(db, me.user_id, body)
    return RedirectResponse("/staff/admin/organisation-profile?done=saved", status_code=303)
