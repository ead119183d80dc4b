"""The staff console's pages under ``/staff/`` (staff surface only).

Thin like every router: each route reads its request (the cookie session, the bounded
form, the CSRF token), calls the same service function the JSON API calls, commits, and
renders. Reads are audited by those services exactly as on the API.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from api.auth import accounts
from api.auth import login as login_service
from api.auth import repository as auth_repository
from api.auth.dependencies import SignInClient, SignInLimits
from api.auth.roles import Role
from api.cases import service as cases_service
from api.cases.files import attachments, derivatives
from api.cases.workflow import transitions
from api.cases.workflow.schemas import TransitionIn
from api.cases.workflow.states import STATES, CaseState
from api.console import (
    administration,
    coding,
    coordination,
    i18n,
    interventions,
    labels,
    organisation,
    pages,
    partners,
    persons,
    queue,
    session,
)
from api.console.dependencies import (
    CaseStaff,
    ConsoleStaff,
    ConsoleStaffChecked,
    Form,
    Readers,
    SignedIn,
    browser_language,
    check_csrf,
    console_staff,
)
from api.console.i18n import N_
from api.core.db import commit_before_rendering, in_transaction
from api.core.dependencies import Config, DbEngine, DbSession, Now
from api.core.errors import InvalidInput, RateLimited, Unauthorized
from api.storage.dependencies import Storage
from api.web import csrf as form_csrf

router = APIRouter(prefix="/staff", include_in_schema=False)
router.include_router(coordination.routes)
router.include_router(administration.routes)
router.include_router(partners.routes)
router.include_router(organisation.routes)
router.include_router(coding.routes)
router.include_router(persons.routes)
router.include_router(interventions.routes)
STATIC = Path(__file__).parent / "static"


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/static/console.css")
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "console.css", media_type="text/css")


@router.get("/")
def home(request: Request, db: DbSession) -> Response:
    """The queue for those who read cases, the account page for admins; else sign-in."""
    try:
        me = console_staff(request, db)
    except Unauthorized:
        return _see_other("/staff/sign-in")
    return _see_other("/staff/queue" if me.role in pages.READER_ROLES else "/staff/account")


# ---- signing in and out ----

_SIGN_IN_NOTICES = {
    "signed_out": N_("You are signed out."),
    "password_changed": N_("Your password is changed and every session of yours is signed "
                           "out. Sign in with the new password."),
}


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    lang = browser_language(request)
    return pages.sign_in_page(request, lang,
                              notice=pages.notice(request, lang, _SIGN_IN_NOTICES))


@router.post("/sign-in")
async def sign_in(request: Request, form: Form, engine: DbEngine, settings: Config, now: Now,
                  limits: SignInLimits, client: SignInClient) -> Response:
    chosen = i18n.normalise(form.get("lang"))
    lang = chosen or browser_language(request)
    secret = settings.secret_key.get_secret_value()
    problem = form_csrf.check_token(secret, request.cookies.get(form_csrf.COOKIE),
                                    form.get(session.FIELD),
                                    settings.web_form_token_hours * 3600)
    if problem is not None:
        return pages.sign_in_page(request, lang, status_code=403, username=form.get("username"),
                                  error=pages.gettext(lang, EXPIRED_FORM))
    try:
        result = await login_service.sign_in(
            engine, settings, limits, client=client, username=form.get("username"),
            password=form.get("password"), code=form.get("code"), now=now)
    except Unauthorized:
        return pages.sign_in_page(request, lang, status_code=401, username=form.get("username"),
                                  error=pages.gettext(lang, SIGN_IN_FAILED))
    except RateLimited as exc:
        waiting = pages.sign_in_page(
            request, lang, status_code=429, username=form.get("username"),
            error=pages.gettext(lang, pages.TOO_MANY_WAIT) % {"seconds": exc.retry_after})
        waiting.headers["Retry-After"] = str(exc.retry_after)
        return waiting
    if chosen is not None:
        user_id = result.user.id
        await in_transaction(engine, lambda db: accounts.adopt_language(db, user_id, chosen))
    response = _see_other("/staff/")
    session.set_cookie(request, response, result.token)
    return response


EXPIRED_FORM = N_("This form has expired. Please sign in again.")
SIGN_IN_FAILED = N_("Sign-in failed: the username, password or six-digit code is not right. "
                    "Codes can be used only once; wait for the next one if you just used it.")


@router.post("/sign-out")
def sign_out(request: Request, me: ConsoleStaff, form: Form, db: DbSession, now: Now
             ) -> Response:
    check_csrf(request, me, form)
    login_service.logout(db, me.user_id, me.session_id, now)
    response = _see_other("/staff/sign-in?done=signed_out")
    session.clear_cookie(request, response)
    return response


# ---- the account: sessions, language, password ----

@router.get("/account")
def account(request: Request, signed: SignedIn, db: DbSession, now: Now) -> Response:
    user = accounts.require_user(db, signed.me.user_id)
    rows = auth_repository.active_sessions(db, signed.me.user_id, now)
    commit_before_rendering(db)
    return pages.render("account.html", signed.lang, signed=signed, user=user, sessions=rows,
                        title=pages.gettext(signed.lang, N_("Your account")),
                        notice=pages.notice(request, signed.lang, _NOTICES))


_NOTICES = {
    "language": N_("Your language is saved."),
    "session_ended": N_("That session is signed out."),
}




@router.post("/account/language")
def set_language(request: Request, signed: SignedIn, form: Form, db: DbSession) -> Response:
    check_csrf(request, signed.me, form)
    chosen = form.get("language")
    if chosen and i18n.normalise(chosen) != chosen:
        raise InvalidInput("Choose one of the console's languages.")
    accounts.set_language(db, accounts.require_user(db, signed.me.user_id), chosen or None)
    return _see_other("/staff/account?done=language")


@router.post("/account/sessions/{session_id}/end")
def end_session(request: Request, session_id: uuid.UUID, signed: SignedIn, form: Form,
                db: DbSession, now: Now) -> Response:
    check_csrf(request, signed.me, form)
    if not login_service.revoke_own_session(db, signed.me.user_id, session_id, now):
        raise InvalidInput("You have no active session with that id.")
    if session_id == signed.me.session_id:
        response = _see_other("/staff/sign-in?done=signed_out")
        session.clear_cookie(request, response)
        return response
    return _see_other("/staff/account?done=session_ended")


@router.post("/account/password")
async def change_password(request: Request, me: ConsoleStaffChecked, form: Form, engine: DbEngine,
                          settings: Config, now: Now, limits: SignInLimits) -> Response:
    check_csrf(request, me, form)
    if form.get("new_password") != form.get("new_password_again"):
        raise InvalidInput("The two new passwords are not the same.")
    await login_service.change_password(
        engine, settings, limits, me.user_id, current=form.get("current_password"),
        new=form.get("new_password"), now=now)
    # Every session ends with a password change, this one too: sign in with the new one.
    response = _see_other("/staff/sign-in?done=password_changed")
    session.clear_cookie(request, response)
    return response


# ---- the queue ----

@router.get("/queue")
def queue_page(request: Request, signed: SignedIn, me: Readers, db: DbSession,
               settings: Config) -> Response:
    asked = queue.parse({k: request.query_params.getlist(k) for k in request.query_params})
    page = cases_service.list_cases(
        db, me, asked.filters(me.user_id), sort=asked.sort, descending=asked.descending,
        cursor_text=asked.cursor, limit=settings.console_page_size, settings=settings)
    counts = queue.tab_counts(request).get(asked.counts_key(me.user_id), lambda: {
        tab.name: cases_service.count_cases(db, me, asked.filters(me.user_id, tab),
                                            cap=settings.console_count_cap)
        for tab in queue.TABS})
    commit_before_rendering(db)
    return pages.render(
        "queue.html", signed.lang, signed=signed, asked=asked, page=page, counts=counts,
        cap=settings.console_count_cap, tabs=queue.TABS, sorts=queue.SORTS,
        link=lambda **changes: "/staff/queue?" + urlencode(asked.params(**changes), doseq=True),
        states=list(STATES),
        title=pages.gettext(signed.lang, N_("Queue")))


# ---- a case ----

@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: uuid.UUID, signed: SignedIn, me: Readers,
              db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    # Staff names are not protected (threat model): who is assigned and who holds a key.
    staff = list(auth_repository.list_staff(db))  # one query: names, assignees, grantees
    names = {u.id: u.username for u in staff}
    is_coordinator = me.role is Role.COORDINATOR
    assignable = coordination.readers(staff, coordination.ASSIGNABLE) if is_coordinator else []
    grantable = coordination.readers(staff, coordination.GRANTABLE) if is_coordinator else []
    can_act = me.role in pages.CASE_STAFF_ROLES
    # Each state the case could go to next, open to this person now or refused with the
    # reason the move itself would give (four eyes, role, access).
    choices = transitions.choices(db, me, case_id) if can_act else []
    commit_before_rendering(db)
    return pages.render(
        "case.html", signed.lang, signed=signed, case=detail, staff_names=names,
        can_act=can_act, is_coordinator=is_coordinator,
        allowed=[c.state for c in choices if c.refused is None],
        refused=[c for c in choices if c.refused is not None],
        refusal_labels=labels.REFUSALS, cleanable=derivatives.supported,
        cleaned={a.derived_from_id for a in detail.attachments if a.derived_from_id},
        assignable=assignable, grantable=grantable, unlocks=persons.unlocks(detail),
        title=detail.reference,
        notice=pages.notice(request, signed.lang, _CASE_NOTICES))


_CASE_NOTICES = {
    "moved": N_("The case has moved on."),
    "sent": N_("Your message is sent. The submitter sees it when they next follow up."),
    "assigned": N_("The assignment is saved."),
    "grant_requested": N_("Access is requested: another coordinator who holds this case's "
                          "key must approve it."),
    "revoked": N_("That access is revoked."),
    "merged": N_("The duplicate is merged into this case."),
    "act_saved": coding.SAVED,
    "person_saved": persons.SAVED,
    "person_removed": persons.REMOVED,
    "relationships_saved": persons.RELATIONSHIPS_SAVED,
    "consent_given": persons.CONSENT_GIVEN,
    "consent_revoked": persons.CONSENT_REVOKED,
    "split": coordination.SPLIT_DONE,
    "cleaned": N_("The clean copy is made: it is listed under the files, without the "
                  "original's metadata."),
    "answered": N_("The thread is marked answered; it no longer waits for a reply."),
}




@router.get("/cases/{case_id}/attachments/{attachment_id}")
def download(case_id: uuid.UUID, attachment_id: uuid.UUID, me: Readers, db: DbSession,
             settings: Config, storage: Storage) -> StreamingResponse:
    """The file, decrypted as it streams; always a download (the API's own download)."""
    dl = attachments.download(db, me, case_id, attachment_id, settings, storage)
    commit_before_rendering(db)
    return StreamingResponse(dl.chunks, media_type="application/octet-stream",
                             headers=dl.headers())



_NAME_THE_ORIGINAL = N_("Write the reference of the case this one repeats: a duplicate is "
                        "kept linked to its original.")


@router.post("/cases/{case_id}/transitions")
def move_case(request: Request, case_id: uuid.UUID, me: CaseStaff, form: Form, db: DbSession,
              settings: Config, _signed: SignedIn) -> Response:
    # SignedIn notes the account's language, so a refusal is worded as the case page
    # worded it (the page lists each refused state with this very reason).
    check_csrf(request, me, form)
    to = form.get("to")
    original = None
    if to == CaseState.DUPLICATE:
        # The page asks for the original by its reference, as a merge does; the field is
        # on the form whatever state is chosen, so it is only read for this one.
        reference = form.get("duplicate_of").strip()
        if not reference:
            raise InvalidInput(_NAME_THE_ORIGINAL)
        original = cases_service.case_id_for_reference(db, me, reference)
    body = TransitionIn.model_validate({"to": to, "comment": form.get("comment") or None,
                                        "duplicate_of": original})
    transitions.transition(db, me, case_id, body, settings, if_match=form.version())
    queue.tab_counts(request).forget(me.user_id)
    return _see_other(f"/staff/cases/{case_id}?done=moved")


@router.post("/cases/{case_id}/messages")
def send_message(request: Request, case_id: uuid.UUID, me: CaseStaff, form: Form,
                 db: DbSession, settings: Config) -> Response:
    check_csrf(request, me, form)
    text = form.get("body").strip()
    if not text:
        raise InvalidInput("Write the message before sending it.")
    thread = form.get("thread_id")
    try:
        thread_id = uuid.UUID(thread) if thread else None
    except ValueError:
        raise InvalidInput("That thread does not exist.") from None
    cases_service.send_message(db, me, case_id, text, settings, thread_id)
    queue.tab_counts(request).forget(me.user_id)  # a reply answers the thread (its queue tab)
    return _see_other(f"/staff/cases/{case_id}?done=sent")


@router.post("/cases/{case_id}/threads/{thread_id}/answered")
def mark_answered(request: Request, case_id: uuid.UUID, thread_id: uuid.UUID, me: CaseStaff,
                  form: Form, db: DbSession, settings: Config) -> Response:
    """Answered another way (by phone, through a lawyer): the thread stops waiting."""
    check_csrf(request, me, form)
    cases_service.mark_answered(db, me, case_id, thread_id, settings)
    queue.tab_counts(request).forget(me.user_id)
    return _see_other(f"/staff/cases/{case_id}?done=answered")


@router.post("/cases/{case_id}/attachments/{attachment_id}/clean-copy")
def clean_copy(request: Request, case_id: uuid.UUID, attachment_id: uuid.UUID, me: CaseStaff,
               form: Form, db: DbSession, settings: Config, storage: Storage) -> Response:
    """The API's own clean copy (metadata stripped in a capped child process), made while
    the request waits, so the page that follows lists it."""
    check_csrf(request, me, form)
    attachments.make_derivative(db, me, case_id, attachment_id, settings, storage)
    return _see_other(f"/staff/cases/{case_id}?done=cleaned")
