"""Staff sign-in behind Tor (issue 15), on SQLite and PostgreSQL, with production Argon2:
failures slow the sender, then the account, never for an hour; a spray neither shuts out a
genuine caseworker nor starves the thread pool, and every failure it got is audited.

Who "one client" is: on the staff port of a Tor deployment there is no circuit (the staff
onion service sends no PROXY header, so every connection comes from the local tor), and
sign-in counts no per-client failures there (``api.auth.dependencies.signin_client``):
the account's delays and the global budget are its limits. Where sign-in is served on the
PROXY-protocol port itself (no staff port), the client is the Tor circuit.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, col, func, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.auth import throttle
from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.core.models import utcnow
from api.core.settings import Settings
from tests.factories import StaffHandle, create_staff
from tests.system.live import LiveApi, free_port
from tests.system.tor.proxied import wait_ready
from tests.system.tor_deployment import TorDeployment, circuit_client, tor_deployment

pytestmark = pytest.mark.slow

CAP = 8  # seconds: the longest wait, small so the test can wait it out
SIGN_IN = {
    "DOKAZ_KDF_PROFILE": "standard",  # production Argon2: the finding needs its cost
    "DOKAZ_LOGIN_FREE_FAILURES_PER_CLIENT": "3",
    "DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT": "5",
    "DOKAZ_LOGIN_FIRST_DELAY_SECONDS": "1",
    "DOKAZ_LOGIN_MAX_DELAY_PER_CLIENT_SECONDS": str(CAP),
    "DOKAZ_LOGIN_MAX_DELAY_PER_ACCOUNT_SECONDS": str(CAP),
    "DOKAZ_LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS": "600",
    "DOKAZ_LOGIN_ATTEMPTS_GLOBAL_PER_MINUTE": "600",
}
LOGIN = "/api/v1/auth/login"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TorDeployment]:
    with tor_deployment(request.param, tmp_path_factory.mktemp(f"signin-{request.param}"),
                        **SIGN_IN) as served:
        yield served


def _caseworker(tor: TorDeployment) -> StaffHandle:
    standard: Settings = tor.dep.settings.model_copy(update={"kdf_profile": "standard"})
    with Session(tor.dep.engine, expire_on_commit=False) as s:
        return create_staff(s, Role.CASEWORKER, settings=standard)


def _right(handle: StaffHandle) -> dict[str, str]:
    return {"username": handle.user.username, "password": handle.password,
            "code": code_for_step(handle.totp_secret, step_at(utcnow()))}


def _wrong(username: str) -> dict[str, str]:
    return {"username": username, "password": "wrong-" + secrets.token_hex(6),
            "code": "123456"}


def _retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= CAP, (retry, response.text)  # never an hour
    return retry


def _sign_in_within_the_cap(client: httpx.Client, handle: StaffHandle) -> tuple[str, float]:
    """Sign in, waiting out each 429 as a person would; (token, seconds waited)."""
    waited = 0.0
    for _ in range(10):
        response = client.post(LOGIN, json=_right(handle))
        if response.status_code == 200:
            return response.json()["token"], waited
        retry = _retry_after(response)
        waited += retry
        time.sleep(retry)
    raise AssertionError(f"no sign-in after waiting {waited} s: {response.text}")


def _failed_audited(tor: TorDeployment) -> int:
    with Session(tor.dep.engine) as s:
        return int(s.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.action) == actions.LOGIN_FAILED)).one())


def test_ten_wrong_passwords_slow_the_sprayer_and_the_caseworker_signs_in_within_the_cap(
        tor: TorDeployment) -> None:
    handle = _caseworker(tor)
    sent: list[float] = []  # when each attempt that became a failure was sent
    with tor.staff() as sprayer:
        statuses = []
        for _ in range(10):
            sent_at = time.monotonic()
            statuses.append(sprayer.post(LOGIN, json=_wrong(handle.user.username)).status_code)
            if statuses[-1] == 401:
                sent.append(sent_at)
        # The account's free failures, then the sprayer waits; what it sent while waiting
        # checked nothing and counted nothing (and ran no Argon2).
        assert statuses[:5] == [401] * 5 and 429 in statuses[5:], statuses
        while len(sent) < 10:  # the rest of ten wrong passwords, each wait waited out
            sent_at = time.monotonic()
            response = sprayer.post(LOGIN, json=_wrong(handle.user.username))
            if response.status_code == 429:
                time.sleep(_retry_after(response))
                continue
            assert response.status_code == 401, response.text
            sent.append(sent_at)
        done = time.monotonic()
    # Failures 6 to 10 each waited 1, 2, 4, 8 and 8 s (the cap) after the one before.
    assert done - sent[4] >= 1 + 2 + 4 + CAP + CAP - 0.5, (done - sent[4])
    with tor.staff() as genuine:  # another connection: a caseworker at their own computer
        token, waited = _sign_in_within_the_cap(genuine, handle)
        assert waited <= CAP
        cases = genuine.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert cases.status_code == 200, cases.text


def test_on_a_single_port_the_sprayers_circuit_waits_and_another_circuit_does_not(
        tor: TorDeployment) -> None:
    port = free_port()
    # The first wait is longer here, so the sprayer's quick attempts all fall inside it.
    env = {**SIGN_IN, "DOKAZ_CLIENT_IDENTITY": "proxy-protocol",
           "DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT": "10", "DOKAZ_LOGIN_FIRST_DELAY_SECONDS": "4"}
    api = LiveApi(tor.dep.env(**env),
                  tor.dep.root / f"api-{len(tor.dep.apis)}.log", port)
    tor.dep.apis.append(api)
    wait_ready(api)
    handle = _caseworker(tor)
    try:
        with circuit_client(port, 7001) as sprayer, circuit_client(port, 7002) as genuine:
            statuses = [sprayer.post(LOGIN, json=_wrong(handle.user.username))
                        for _ in range(10)]
            assert [r.status_code for r in statuses] == [401] * 3 + [429] * 7
            assert "from here" in statuses[-1].json()["error"]["message"]
            _retry_after(statuses[-1])
            # The account has 3 of its 10 free failures: the other circuit is not slowed.
            signed_in = genuine.post(LOGIN, json=_right(handle))
            assert signed_in.status_code == 200, signed_in.text
    finally:
        api.stop()


def test_a_spray_neither_shuts_out_a_caseworker_nor_starves_the_routes_and_is_audited(
        tor: TorDeployment) -> None:
    handle = _caseworker(tor)
    before = _failed_audited(tor)
    stop = threading.Event()
    received: list[tuple[str, int]] = []
    lock = threading.Lock()

    def spray() -> None:
        with tor.staff() as client:
            while not stop.is_set():
                name = "user-" + secrets.token_hex(6)
                with contextlib.suppress(httpx.HTTPError):
                    status = client.post(LOGIN, json=_wrong(name)).status_code
                    with lock:
                        received.append((name, status))

    sprayers = [threading.Thread(target=spray) for _ in range(32)]
    for thread in sprayers:
        thread.start()
    timings: list[float] = []
    try:
        time.sleep(3)  # the spray is in full swing
        with tor.staff() as genuine:
            token, waited = _sign_in_within_the_cap(genuine, handle)
            assert waited <= CAP
            bearer = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                started = time.monotonic()
                cases = genuine.get("/api/v1/cases", headers=bearer)
                timings.append(time.monotonic() - started)
                assert cases.status_code == 200, cases.text
                time.sleep(0.5)
    finally:
        stop.set()
        for thread in sprayers:
            thread.join(120)
    # A functional check that listing cases never waits behind Argon2 (no timing claim).
    assert max(timings) < 2, timings
    statuses = [status for _, status in received]
    failures = statuses.count(401)
    assert failures > 0 and set(statuses) <= {401, 429}, set(statuses)
    assert _failed_audited(tor) - before == failures
    # Counted too: each failure is on its (hashed) name's counter.
    with Session(tor.dep.engine) as s:
        counted = sum(
            throttle.account_failures(s, throttle.account_key(tor.dep.settings, name), utcnow(),
                                      throttle.Backoff(5, 1, CAP, 600))
            for name, status in received if status == 401)
    assert counted == failures
