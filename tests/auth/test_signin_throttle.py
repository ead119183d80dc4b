"""The sign-in delay schedule (api/auth/throttle.py) and the sign-in service under it:
free failures, doubling, the cap, forgetting, success giving back, client before account,
circuit counters shared through Redis, and every concurrent failure counted and audited
while the audit log's lock is contended (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, func, select

from api.audit import actions
from api.audit import service as audit_service
from api.audit.models import AuditEntry
from api.auth import login as login_service
from api.auth import passwords, throttle
from api.auth.login import sign_in
from api.auth.roles import Role
from api.auth.throttle import Backoff, ClientFailures, SignInThrottle, SignInWait
from api.auth.totp import code_for_step, step_at
from api.core.db import make_engine
from api.core.errors import RateLimited, Unauthorized
from api.core.models import utcnow
from api.core.settings import Settings
from tests.conftest import DbUnderTest, SharedRedis
from tests.factories import StaffHandle, create_staff

SCHEDULE = Backoff(free=3, first=2.0, cap=30.0, forget=600.0)


# ---- the schedule ----------------------------------------------------------------------


def test_free_failures_then_doubling_then_the_cap() -> None:
    assert [SCHEDULE.delay(n) for n in range(9)] == [0, 0, 0, 2, 4, 8, 16, 30, 30]
    assert SCHEDULE.delay(10_000) == 30  # no overflow, still the cap
    assert SCHEDULE.steps() == [2, 4, 8, 16, 30]


def test_the_wait_counts_from_the_last_failure_and_never_exceeds_the_cap() -> None:
    assert SCHEDULE.wait(5, since_last=3) == 5
    assert SCHEDULE.wait(5, since_last=8) == 0
    assert SCHEDULE.wait(50, since_last=0) == 30
    assert SCHEDULE.wait(50, since_last=-3600) == 30  # a clock that went backwards
    assert SCHEDULE.wait(50, since_last=600) == 0 and SCHEDULE.counted(50, 600) == 0
    assert SCHEDULE.counted(50, 599) == 50


def test_client_counts_in_memory() -> None:
    clients = ClientFailures(SCHEDULE)
    t = 1000.0
    for _ in range(3):
        assert clients.take("a:one", t) is None
    assert clients.take("a:one", t + 1) == pytest.approx(1.0)  # 2 s after the last one
    assert clients.take("a:two", t + 1) is None  # another client is not slowed
    assert clients.take("a:one", t + 2) is None  # the 4th, after its wait
    assert clients.take("a:one", t + 3) == pytest.approx(3.0)  # now 4 s
    clients.give_back("a:one")  # that 4th attempt succeeded after all
    assert clients.failures("a:one", t + 3) == 3
    assert clients.take("a:one", t + 4.5) is None
    assert clients.failures("a:one", t + 4.5 + 600) == 0  # forgotten when quiet


def test_circuit_counts_are_shared_through_redis_and_addresses_are_not(
        shared_redis: SharedRedis) -> None:
    one = ClientFailures(SCHEDULE, shared_redis.client, shared_redis.prefix)
    two = ClientFailures(SCHEDULE, shared_redis.client, shared_redis.prefix)  # a 2nd process
    t = time.time()
    for _ in range(3):
        assert one.take("c:circuit", t) is None
    assert two.take("c:circuit", t + 0.5) == pytest.approx(1.5)
    assert two.failures("c:circuit", t) == 3
    # The schedule in Redis is Backoff's: 2, 4, 8, 16, then the cap.
    last = t
    for expected in (4, 8, 16, 30, 30):
        last += SCHEDULE.wait(two.failures("c:circuit", last), 0)
        assert one.take("c:circuit", last) is None
        assert two.take("c:circuit", last) == pytest.approx(expected)
    one.give_back("c:circuit")
    assert two.failures("c:circuit", last) == 7
    for _ in range(3):
        assert one.take("a:address", t) is None
    assert two.take("a:address", t) is None  # never left the first process
    keys = [k.decode() for k in shared_redis.client.scan_iter(match=shared_redis.prefix + "*")]
    assert keys == [shared_redis.prefix + "signin:client:c:circuit"]
    ttl = shared_redis.client.pttl(keys[0])
    assert 0 < ttl <= 600_000  # forgotten with its quiet period, by Redis itself


def test_the_global_budget_holds_across_processes_through_redis(
        shared_redis: SharedRedis) -> None:
    settings = Settings(login_attempts_global_per_minute=3, **shared_redis.overrides)
    one, two = SignInThrottle(settings, shared_redis.client), SignInThrottle(
        settings, shared_redis.client)
    now = utcnow()
    for throttle_of in (one, two, one):
        throttle_of.take_client_and_global(None, now)
    with pytest.raises(RateLimited) as refused:
        two.take_client_and_global("a:someone", now)
    assert "too many sign-in attempts" in refused.value.message
    assert two.clients.failures("a:someone", now.timestamp()) == 0  # given back
    one.give_back_global()  # an attempt refused later on gives its place back
    two.take_client_and_global(None, now)


# ---- the service ------------------------------------------------------------------------


def _settings(database: DbUnderTest, tmp: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "login_free_failures_per_client": 2, "login_free_failures_per_account": 4,
        "login_first_delay_seconds": 1, "login_max_delay_per_client_seconds": 30,
        "login_max_delay_per_account_seconds": 60,
        "login_failures_forgotten_after_seconds": 600}
    values.update(overrides)
    return database.make_settings(tmp / "data", **values)


def _try(engine: Engine, settings: Settings, limits: SignInThrottle, client: str | None,
         username: str, password: str, now: datetime, code: str = "123456") -> Any:
    """The outcome of one sign-in: a LoginResult, or the refusal it raised."""
    call = functools.partial(sign_in, engine, settings, limits, client=client,
                             username=username, password=password, code=code, now=now)
    try:
        return anyio.run(call)
    except (Unauthorized, SignInWait) as refusal:
        return refusal


def _good_code(handle: StaffHandle, now: datetime) -> str:
    return code_for_step(handle.totp_secret, step_at(now))


def _account_failures(engine: Engine, settings: Settings, username: str, now: datetime,
                      limits: SignInThrottle) -> int:
    with Session(engine) as s:
        return throttle.account_failures(s, throttle.account_key(settings, username), now,
                                         limits.accounts)


def test_client_then_account_and_success_clears_the_account(
    database: DbUnderTest, engine: Engine, session: Session, tmp_path: Any
) -> None:
    settings = _settings(database, tmp_path)
    limits = SignInThrottle(settings)
    cw = create_staff(session, Role.CASEWORKER, settings=settings)
    name, now = cw.user.username, utcnow()
    # The sprayer's client: two free failures, then it waits, whatever name it tries.
    for _ in range(2):
        assert isinstance(_try(engine, settings, limits, "a:spray", name, "wrong-pw", now),
                          Unauthorized)
    refused = _try(engine, settings, limits, "a:spray", "someone-else", "wrong-pw", now)
    assert isinstance(refused, SignInWait) and refused.retry_after == 1
    assert "from here" in refused.message
    # Other clients: the account has 2 of its 4 free failures left.
    for client in ("a:b", "a:c"):
        assert isinstance(_try(engine, settings, limits, client, name, "wrong-pw", now),
                          Unauthorized)
    assert _account_failures(engine, settings, name, now, limits) == 4
    # Now the account waits, for everyone, the genuine person included (at most the cap).
    genuine = _try(engine, settings, limits, "a:genuine", name, cw.password, now,
                   _good_code(cw, now))
    assert isinstance(genuine, SignInWait) and "for this username" in genuine.message
    assert genuine.retry_after == 1 and limits.clients.failures("a:genuine", 0) == 0
    later = now + timedelta(seconds=1)
    result = _try(engine, settings, limits, "a:genuine", name, cw.password, later,
                  _good_code(cw, later))
    assert isinstance(result, login_service.LoginResult), result
    assert _account_failures(engine, settings, name, later, limits) == 0
    # A success gives the client's attempt back; a failure stays counted.
    assert limits.clients.failures("a:genuine", later.timestamp()) == 0
    assert limits.clients.failures("a:spray", later.timestamp()) == 2


def test_no_client_identity_means_only_the_account_and_global_limits(
    database: DbUnderTest, engine: Engine, tmp_path: Any
) -> None:
    settings = _settings(database, tmp_path)
    limits = SignInThrottle(settings)
    now = utcnow()
    for i in range(4):
        assert isinstance(_try(engine, settings, limits, None, f"name-{i}", "x", now),
                          Unauthorized)


def test_refused_attempts_run_no_argon2_and_count_nothing(
    database: DbUnderTest, engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(database, tmp_path, login_free_failures_per_client=50,
                         login_attempts_global_per_minute=5)
    limits = SignInThrottle(settings)
    checks: list[int] = []
    real = passwords.verify_password

    def counting(*args: Any) -> bool:
        checks.append(1)
        return real(*args)

    monkeypatch.setattr(passwords, "verify_password", counting)
    now = utcnow()
    for _ in range(4):
        _try(engine, settings, limits, "a:x", "ghost", "wrong-pw", now)
    assert len(checks) == 4
    for _ in range(5):
        assert isinstance(_try(engine, settings, limits, "a:x", "ghost", "wrong-pw", now),
                          SignInWait)
    assert len(checks) == 4
    assert _account_failures(engine, settings, "ghost", now, limits) == 4
    # The refusals gave back the client's count and the global budget they took: one
    # attempt of the five a minute is left for somebody else.
    assert limits.clients.failures("a:x", now.timestamp()) == 4
    assert isinstance(_try(engine, settings, limits, "a:y", "other", "wrong-pw", now),
                      Unauthorized)


def test_quiet_accounts_are_forgotten(
    database: DbUnderTest, engine: Engine, tmp_path: Any
) -> None:
    settings = _settings(database, tmp_path)
    limits = SignInThrottle(settings)
    now = utcnow()
    for i in range(4):
        _try(engine, settings, limits, f"a:{i}", "ghost", "wrong-pw", now)
    assert isinstance(_try(engine, settings, limits, "a:9", "ghost", "x", now), SignInWait)
    later = now + timedelta(seconds=600)
    assert _account_failures(engine, settings, "ghost", later, limits) == 0
    assert isinstance(_try(engine, settings, limits, "a:9", "ghost", "x", later),
                      Unauthorized)
    assert _account_failures(engine, settings, "ghost", later, limits) == 1


# ---- under load ---------------------------------------------------------------------------


@pytest.fixture
def impatient_engine(database: DbUnderTest) -> Iterator[Engine]:
    """The test database with short lock waits, so contention becomes transient errors
    (PostgreSQL ``lock_timeout``, SQLite ``busy_timeout``) rather than long queues."""
    if database.kind == "postgresql":
        eng = make_engine(database.settings, url=database.url,
                          connect_args={"options": "-c lock_timeout=1000"})
    else:
        eng = make_engine(database.settings, url=database.url)

        @event.listens_for(eng, "connect")
        def _short_busy(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=1000")

    yield eng
    eng.dispose()


def _hold_audit_lock(database: DbUnderTest, seconds: float, held: threading.Event) -> None:
    """Another transaction keeping audit entries from being written for ``seconds`` (a
    lock on the audit table, as a long maintenance statement takes; on SQLite the whole
    database). Appends take no shared chain lock any more, so the head row is no obstacle."""
    eng = make_engine(database.settings, url=database.url)
    try:
        with eng.connect() as conn:
            if database.kind == "postgresql":
                conn.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
            else:
                conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
            held.set()
            time.sleep(seconds)
            conn.rollback()
    finally:
        eng.dispose()


def test_concurrent_failures_are_all_counted_and_audited_despite_lock_contention(
    database: DbUnderTest, impatient_engine: Engine, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    n = 12
    settings = _settings(database, tmp_path, login_free_failures_per_account=n,
                         max_concurrent_argon2=n)
    limits = SignInThrottle(settings)
    with Session(impatient_engine, expire_on_commit=False) as s:
        cw = create_staff(s, Role.CASEWORKER, settings=settings)
    # Every attempt is counted before its Argon2; hold them all there, then let them
    # write their audit entries at once while another writer holds the audit lock.
    arrived, release = threading.Semaphore(0), threading.Event()
    real_check = login_service._check_password

    def gated_check(*args: Any) -> bool:
        arrived.release()
        release.wait(30)
        return real_check(*args)

    monkeypatch.setattr(login_service, "_check_password", gated_check)
    transient: list[str] = []
    real_transient = audit_service.is_transient

    def noting(exc: BaseException) -> bool:
        found = real_transient(exc)
        if found:
            transient.append(type(exc).__name__)
        return found

    monkeypatch.setattr(audit_service, "is_transient", noting)
    now = utcnow()
    outcomes: list[Any] = []

    async def attempt(i: int) -> None:
        try:
            await sign_in(impatient_engine, settings, limits, client=f"a:{i}",
                          username=cw.user.username, password=f"wrong-{i}", code="123456",
                          now=now)
        except Exception as exc:
            outcomes.append(exc)

    def release_under_contention() -> None:
        for _ in range(n):
            if not arrived.acquire(timeout=30):
                break  # some attempt ended before its Argon2: the outcomes say why
        held = threading.Event()
        holder = threading.Thread(target=_hold_audit_lock, args=(database, 3.0, held))
        holder.start()
        held.wait(10)
        release.set()
        holder.join()

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for i in range(n):
                tasks.start_soon(attempt, i)
            await anyio.to_thread.run_sync(release_under_contention)

    anyio.run(main)
    assert [type(o).__name__ for o in outcomes] == ["Unauthorized"] * n, [
        (type(o).__name__, str(o), repr(o.__context__)) for o in outcomes]
    assert transient, "the audit writes met no contention: the test proved nothing"
    assert "deferred audit work failed" not in caplog.text
    with Session(impatient_engine) as s:
        audited = s.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.action) == actions.LOGIN_FAILED)).one()
    assert audited == n
    assert _account_failures(impatient_engine, settings, cw.user.username, now, limits) == n
