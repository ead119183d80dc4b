"""Content-free staff notification emails over SMTP.

Email leaves our control (relays, mailbox providers, phones), so a message carries only
counts and a link to the staff interface: no reference code, no name, no region, no text
from a submission. Staff read the cases themselves in Dokaz, over Tor if need be.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from api.core.settings import Settings
from api.jobs.kinds import Notification, NotificationTemplate


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def compose(settings: Settings, to: str, note: Notification) -> EmailMessage:
    """Subject and body from the integers in the job payload, and nothing else."""
    lines: list[str] = []
    if note.template is NotificationTemplate.DIGEST:
        subject = "Dokaz: " + _plural(note.new, "new submission", "new submissions")
        if note.urgent:
            subject += f", {note.urgent} urgent"
        if note.approvals_pending:
            subject += ", " + _plural(note.approvals_pending, "approval", "approvals") + \
                " waiting"
        lines.append(_plural(note.new, "new case", "new cases") + " since the last digest"
                     + (f", {note.urgent} of them urgent." if note.urgent else "."))
        if note.overdue:
            lines.append(_plural(note.overdue, "open case is", "open cases are")
                         + " past their service level.")
        decided = (note.approvals_requested, note.approvals_approved,
                   note.approvals_rejected, note.approvals_expired)
        if any(decided) or note.approvals_pending:
            # Two-person approvals: every coordinator hears of every request and decision.
            lines += ["", "Access approvals (two-person rule) since the last digest:",
                      f"{note.approvals_requested} requested, {note.approvals_approved} "
                      f"approved, {note.approvals_rejected} rejected, "
                      f"{note.approvals_expired} expired.",
                      _plural(note.approvals_pending, "request waits", "requests wait")
                      + " for a coordinator's approval."]
    else:
        subject = "Dokaz: " + _plural(note.overdue, "case", "cases") + " assigned to you overdue"
        lines.append(_plural(note.overdue, "case assigned to you is", "cases assigned to you are")
                     + " past their service level.")
    lines += ["", f"Open Dokaz to see them: {settings.staff_url}", "",
              "By design this message contains no case content."]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send(settings: Settings, msg: EmailMessage) -> None:
    if not settings.smtp_host:
        raise RuntimeError("DOKAZ_SMTP_HOST is not set")
    # A fixed EHLO name: the default (getfqdn) would tell the relay the machine's host name,
    # which an onion service must not give away, and can stall on reverse DNS.
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, local_hostname="localhost",
                      timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password is not None:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(msg)
