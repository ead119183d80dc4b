"""What a console route needs from its request: who is signed in, in which language, and
the posted form (bounded, CSRF-checked).

The console reads the staff session from its cookie and hands routes the same
:class:`~api.auth.principals.Principal` the API's bearer token gives, so every service
call (and its access scoping and audit entries) is the API's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from api.auth import accounts
from api.auth import login as login_service
from api.auth import repository as auth_repository
from api.auth.dependencies import principal_for_token
from api.auth.principals import Principal
from api.auth.roles import Role
from api.console import i18n, session
from api.console.pages import Expiry, Signed
from api.core.db import in_transaction
from api.core.dependencies import DbSession, app_engine, app_settings
from api.core.errors import Forbidden, InvalidInput, PayloadTooLarge, UnsupportedMediaType

SIGN_IN_NEEDED = "Please sign in to the staff console."
FORM_TYPE = "application/x-www-form-urlencoded"


def console_staff(request: Request, db: DbSession) -> Principal:
    token = session.cookie_token(request)
    if token is None or not token.startswith(login_service.TOKEN_PREFIX):
        raise login_service.unauthorized(SIGN_IN_NEEDED)
    principal = principal_for_token(request, db, token)
    # Kept for the error page: a refusal after sign-in is shown in the account's language,
    # also on routes that render no page of their own (every POST), which never ask for
    # ``SignedIn``. The account row is already in ``db`` (authentication loaded it).
    request.state.console_principal = principal
    request.state.console_language = i18n.normalise(
        accounts.require_user(db, principal.user_id).language)
    return principal


ConsoleStaff = Annotated[Principal, Depends(console_staff)]


async def _console_staff_own_transaction(request: Request) -> Principal:
    engine = app_engine(request)
    return await in_transaction(engine, lambda db: console_staff(request, db))


# For async routes that run Argon2 (password change): the session is checked in a short
# transaction of its own, so none stays open (on SQLite: the write lock) while Argon2 runs.
ConsoleStaffChecked = Annotated[Principal, Depends(_console_staff_own_transaction)]


def require_console_roles(*roles: Role) -> object:
    allowed = frozenset(roles)

    def dependency(me: ConsoleStaff) -> Principal:
        if me.role not in allowed:
            raise Forbidden(f"Your role ({me.role.value}) cannot open this page.")
        return me

    return Depends(dependency)


Readers = Annotated[Principal, require_console_roles(Role.COORDINATOR, Role.CASEWORKER,
                                                     Role.LAWYER)]
CaseStaff = Annotated[Principal, require_console_roles(Role.COORDINATOR, Role.CASEWORKER)]
Coordinators = Annotated[Principal, require_console_roles(Role.COORDINATOR)]
Admins = Annotated[Principal, require_console_roles(Role.ADMIN)]


def browser_language(request: Request) -> str:
    """The language before sign-in: the page's ``lang``, then Accept-Language."""
    return i18n.choose(request.query_params.get("lang"),
                       request.headers.get("accept-language"))


@dataclass(frozen=True)
class PostedForm:
    """A console form's fields (first value of each name; ``all`` for repeated names)."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def version(self) -> int | None:
        """The case version the form was rendered at (for If-Match), if it carries one."""
        value = self.get("version")
        return int(value) if value.isdigit() else None


async def read_form(request: Request) -> PostedForm:
    """The posted urlencoded form, refused with 413 as soon as it passes the limit.

    Console forms carry no files (follow-up answers and codes are short text), so the
    whole form is read into memory, but never more than ``DOKAZ_CONSOLE_MAX_FORM_BYTES``:
    the limit is checked as each chunk arrives, not after the body is in."""
    limit = app_settings(request).console_max_form_bytes
    kind = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if kind != FORM_TYPE:
        raise UnsupportedMediaType("Console pages post forms (application/x-www-form-urlencoded).")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("This form is larger than the console accepts.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("This form is larger than the console accepts.")
    text = body.decode("utf-8", errors="replace")
    try:
        return PostedForm(parse_qs(text, keep_blank_values=True, max_num_fields=500))
    except ValueError:
        raise InvalidInput("This form has more fields than any console page sends.") from None


Form = Annotated[PostedForm, Depends(read_form)]


class BadFormToken(Forbidden):
    default_message = ("This form has expired or was not sent from the console. "
                       "Please go back, reload the page and try again.")


def check_csrf(request: Request, me: Principal, form: PostedForm) -> None:
    secret = app_settings(request).secret_key.get_secret_value()
    if not session.csrf_ok(secret, me.session_id, form.get(session.FIELD)):
        raise BadFormToken()


def _signed(request: Request, me: ConsoleStaff, db: DbSession) -> Signed:
    user = accounts.require_user(db, me.user_id)
    lang = i18n.normalise(user.language) or browser_language(request)
    request.state.console_language = lang
    settings = app_settings(request)
    current = auth_repository.get_session(db, me.session_id)  # loaded when authenticated
    expiry = (Expiry(settings.session_idle_minutes, current.expires_at)
              if current is not None else None)
    return Signed(me=me, lang=lang, expiry=expiry,
                  csrf=session.csrf_token(settings.secret_key.get_secret_value(),
                                          me.session_id))


SignedIn = Annotated[Signed, Depends(_signed)]
