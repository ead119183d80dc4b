"""Digest and service-level emails through a real SMTP server (aiosmtpd), content-free."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.app import create_app
from api.auth.roles import Role
from api.cases.models import Case
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs import service
from api.jobs.models import DONE, QUEUED, Job
from api.notifications import service as notifications
from api.notifications.models import NotificationSubscription
from tests.factories import create_recovery_key_text, create_staff
from tests.jobs.conftest import submit_with_file
from workers.registry import runnable
from workers.runner import Worker


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_settings(job_settings: Settings, smtp: tuple[Inbox, int]) -> Settings:
    return job_settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_starttls": False,
        "smtp_from": "dokaz@example.org", "staff_url": "https://staff.example.org/",
    })


APPROVAL_COUNTS = ("approvals_requested", "approvals_approved", "approvals_rejected",
                   "approvals_expired", "approvals_pending")


def _worker(settings: Settings, engine: Engine) -> Worker:
    return Worker(settings, engine, schedule=False, specs=runnable(settings))


def test_digest_and_sla_emails_carry_counts_only(
    engine: Engine, mail_settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    canary = "CANARYq7Zx"
    with Session(engine, expire_on_commit=False) as s:
        create_recovery_key_text(s)
        staff = create_staff(s, Role.CASEWORKER, settings=mail_settings)
        notifications.subscribe(s, staff.id, "duty@example.org", 60)
        s.exec(update(NotificationSubscription).values(
            last_digest_at=utcnow() - timedelta(hours=2)))
        s.commit()
    app = create_app(mail_settings, engine)
    with TestClient(app) as client:
        refs = [str(submit_with_file(client, f"{canary}{i}")["reference"]) for i in range(3)]
    with unit_of_work(engine) as s:
        first = s.exec(select(Case).where(Case.reference == refs[0])).one()
        first.urgent = True
        overdue = s.exec(select(Case).where(Case.reference == refs[1])).one()
        overdue.assignee_id = staff.id
        overdue.state_changed_at = utcnow() - timedelta(days=30)

    with unit_of_work(engine) as s:
        service.enqueue(s, "plan_digests", settings=mail_settings)
        service.enqueue(s, "plan_sla_reminders", settings=mail_settings)
    assert _worker(mail_settings, engine).drain() == 4  # 2 planners, 2 sends

    assert len(inbox.messages) == 2
    texts = {}
    for rcpts, raw in inbox.messages:
        assert rcpts == ["duty@example.org"]
        msg = message_from_bytes(raw)
        texts[str(msg["Subject"])] = raw.decode()
        body = raw.decode().lower()
        assert canary.lower() not in body
        for ref in refs:
            assert ref.lower() not in body and ref.replace("-", "").lower() not in body
        assert "by-hm" not in body and "detain" not in body and "https://staff.example.org/" in body
    assert set(texts) == {"Dokaz: 3 new submissions, 1 urgent",
                          "Dokaz: 1 case assigned to you overdue"}
    assert "1 open case is past their service level" in texts[
        "Dokaz: 3 new submissions, 1 urgent"]

    # Next window: no new case, one still overdue; the reminder is once a day.
    with unit_of_work(engine) as s:
        s.exec(update(Case).values(
            created_at=utcnow() - timedelta(hours=3)))
        s.exec(update(NotificationSubscription).values(
            last_digest_at=utcnow() - timedelta(hours=2)))
        for kind in ("plan_digests", "plan_sla_reminders"):
            service.enqueue(s, kind, settings=mail_settings)
    _worker(mail_settings, engine).drain()
    assert len(inbox.messages) == 3  # the overdue count alone makes a digest
    assert "Dokaz: 0 new submissions" in inbox.messages[-1][1].decode()
    with unit_of_work(engine) as s:
        for job in s.exec(select(Job)).all():
            assert job.status == DONE
            assert set(job.payload) <= {"subscription_id", "template", "new", "urgent",
                                        "overdue", *APPROVAL_COUNTS}
            assert not any(job.payload.get(k) for k in APPROVAL_COUNTS)  # a caseworker


def test_smtp_outage_is_retried_with_the_error_type_only(
    engine: Engine, mail_settings: Settings
) -> None:
    with Session(engine, expire_on_commit=False) as s:
        staff = create_staff(s, Role.COORDINATOR, settings=mail_settings)
        sub = notifications.subscribe(s, staff.id, "c@example.org", 60)
        s.commit()
        sub_id = sub.id
    down = mail_settings.model_copy(update={"smtp_port": _free_port()})
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "send_notification", {
            "subscription_id": str(sub_id), "template": "digest", "new": 2}, settings=down)
    _worker(down, engine).drain(max_jobs=1)
    with unit_of_work(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts, job.last_error) == (
            QUEUED, 1, "ConnectionRefusedError")


def test_every_coordinators_digest_counts_two_person_approvals(
    engine: Engine, mail_settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    from api.approvals import repository as approval_rows
    from api.approvals import service as approvals
    from api.auth.accounts import Actor
    from api.auth.models import StaffUser

    inbox, _ = smtp
    with Session(engine, expire_on_commit=False) as s:
        admin = create_staff(s, Role.ADMIN, settings=mail_settings)
        coords = [create_staff(s, Role.COORDINATOR, settings=mail_settings) for _ in range(2)]
        cw = create_staff(s, Role.CASEWORKER, settings=mail_settings, username="olena.k")
        for i, handle in enumerate([*coords, cw]):
            notifications.subscribe(s, handle.id, f"s{i}@example.org", 60)
        s.exec(update(NotificationSubscription).values(
            last_digest_at=utcnow() - timedelta(hours=2)))
        s.commit()
    today = utcnow().date()
    with unit_of_work(engine) as s:
        user = s.get(StaffUser, cw.id)
        assert user is not None
        for on in (True, False):  # one request approved below, one left waiting
            kind = "intake_duty" if on else "coordinator_role"
            approvals.request(s, mail_settings, kind=kind, target=user,
                              actor=Actor("staff", admin.id), today=today)
    with unit_of_work(engine) as s:
        from tests.cases.factory import principal

        [duty] = [r for r in approval_rows.pending(s, today - timedelta(days=7))
                  if r.kind == "intake_duty"]
        approvals.approve(s, mail_settings, principal(coords[0]), duty.id, today)
        service.enqueue(s, "plan_digests", settings=mail_settings)
    assert _worker(mail_settings, engine).drain() == 3  # the planner, two coordinators
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == [
        "s0@example.org", "s1@example.org"]
    for _, raw in inbox.messages:
        body = raw.decode()
        assert ("Access approvals (two-person rule) since the last digest:\r\n2 requested, "
                "1 approved, 0 rejected, 0 expired.") in body
        assert "1 request waits for a coordinator's approval." in body
        assert "olena" not in body.lower() and str(cw.id) not in body


def test_digest_counts_each_case_once_from_day_precision_times(
    engine: Engine, mail_settings: Settings
) -> None:
    """Cases carry only their creation day (property 13); the digest still reports each
    new case exactly once: cases of a day it already reported are subtracted."""
    from api.core.models import utctoday
    from api.notifications.service import _new_since_last_digest

    today = utctoday()
    made = 0

    def add_cases(s: Session, n: int, *, urgent: int = 0, day: Any = today) -> None:
        nonlocal made
        for i in range(n):
            made += 1
            s.add(Case(reference=f"DKZ-DIGEST{made:03d}", received_on=day.date(),
                       urgent=i < urgent, created_at=day, updated_at=day,
                       state_changed_at=day))

    with Session(engine, expire_on_commit=False) as s:
        staff = create_staff(s, Role.CASEWORKER, settings=mail_settings)
        sub_id = notifications.subscribe(s, staff.id, "d@example.org", 60).id
        s.commit()

    def digest(now: Any) -> tuple[int, int]:
        with unit_of_work(engine) as s:
            sub = s.get(NotificationSubscription, sub_id)
            assert sub is not None
            return _new_since_last_digest(s, sub, now)

    with unit_of_work(engine) as s:
        add_cases(s, 3, urgent=1)
    assert digest(today + timedelta(hours=9)) == (3, 1)
    assert digest(today + timedelta(hours=10)) == (0, 0)  # nothing new: nothing re-counted
    with unit_of_work(engine) as s:
        add_cases(s, 2, urgent=2)
    assert digest(today + timedelta(hours=11)) == (2, 2)
    # Across midnight: the rest of the old day and the new day's cases, once each.
    tomorrow = today + timedelta(days=1)
    with unit_of_work(engine) as s:
        add_cases(s, 1)
        add_cases(s, 4, day=tomorrow)
    assert digest(tomorrow + timedelta(hours=1)) == (5, 0)
    assert digest(tomorrow + timedelta(hours=2)) == (0, 0)
