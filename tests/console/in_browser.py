"""Steps the console's browser tests share: reporting through the public form, signing a
person in with a code that has not been used yet, opening a case from the queue."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.auth.models import StaffUser
from api.auth.totp import code_for_step, step_at
from api.console.i18n import translations
from api.web.i18n import translations as web_translations
from tests.web.browsing import UploadFile, Visit, fill_report, receipt_text, visit


def t(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def report(browser: Browser, base_url: str, *, lang: str, javascript: bool, narrative: str,
           files: list[UploadFile] | None = None) -> tuple[str, str]:
    """A person reports through the public form; (receipt, case reference)."""
    with visit(browser, base_url, javascript=javascript) as submitter:
        submitter.goto(f"/report?lang={lang}")
        fill_report(submitter.page, files or [], narrative)
        submitter.page.click("button[type=submit]")
        submitter.page.wait_for_selector("#receipt-code", timeout=60_000)
        receipt = receipt_text(submitter.page)
        label = web_translations(lang).gettext("Case reference")
        reference = submitter.page.locator(f"dt:text-is('{label}') + dd").inner_text().strip()
    return receipt, reference


def fresh_code(engine: Engine, username: str, secret: str) -> str:
    """A TOTP code the account has not used yet: each code works once, and tests sign
    people in faster than every 30 s. The server accepts the next step's code (one step
    of drift), so when this step's is used up, that one is sent."""
    with Session(engine) as s:
        last = s.exec(select(StaffUser.totp_last_step)
                      .where(col(StaffUser.username) == username)).one()
    step = step_at(datetime.now(UTC))
    return code_for_step(secret, max(step, (last or 0) + 1))


def sign_in(v: Visit, engine: Engine, lang: str, username: str, password: str,
            secret: str) -> None:
    """Through the sign-in form; ends on the page the console sends this role to."""
    v.goto(f"/staff/sign-in?lang={lang}")
    v.page.fill("#username", username)
    v.page.fill("#password", password)
    v.page.fill("#code", fresh_code(engine, username, secret))
    v.page.click("main button[type=submit]")
    v.page.wait_for_selector("form.signout")


def open_case(v: Visit, reference: str) -> str:
    """From the queue (all open cases), the case with ``reference``; returns its path."""
    v.goto("/staff/queue?tab=all")
    link = v.page.locator("table.cases tbody th a", has_text=reference)
    link.click()
    v.page.wait_for_selector("dl.facts")
    return urlparse(v.page.url).path


def totp_secret_of(uri: str) -> str:
    """The secret of an ``otpauth://`` provisioning URI (as an authenticator app reads it)."""
    return parse_qs(urlparse(uri).query)["secret"][0]
