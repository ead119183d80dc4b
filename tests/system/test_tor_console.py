"""The staff console as the deployment runs it (tests/system/tor_deployment.py): several
``dokaz serve`` processes on one PostgreSQL, one S3 store and one Redis, the public port
behind the PROXY protocol, the console on the staff port, all over real HTTP.

* A caseworker signs in through the console's form on one process, reads the queue and
  the case (a file downloaded and checked against its SHA-256) on the other, and replies;
  the submitter reads the reply through a circuit on the first. The session, the sign-in
  form's token and the page CSRF token hold in every process, a forged post is refused in
  every process, and signing out on one ends the session in all.
* Sign-in throttling is shared: an account's failures on one process's staff port slow
  the account on the other's (the database); where the console is served on the PROXY
  port itself, one circuit's failures on one process make that circuit wait on the other
  (Redis), while another circuit signs in at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer
from redis import Redis
from sqlmodel import Session

from api.auth.roles import Role
from api.auth.totp import code_for_step, step_at
from api.core.models import utcnow
from api.core.settings import Settings
from api.storage import get_storage
from tests.conftest import REDIS_URL
from tests.console.helpers import csrf_of
from tests.factories import StaffHandle, create_recovery_key_text, create_staff
from tests.storage.moto_server import MotoS3
from tests.system.live import Deployment, LiveApi, deployment, free_port
from tests.system.tor.proxied import wait_ready
from tests.system.tor_deployment import TorDeployment, circuit_client
from tests.system.traffic import Submitter

pytestmark = pytest.mark.slow

FREE_PER_CLIENT = 2
FREE_PER_ACCOUNT = 3
THROTTLE = {
    "DOKAZ_LOGIN_FREE_FAILURES_PER_CLIENT": str(FREE_PER_CLIENT),
    "DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT": str(FREE_PER_ACCOUNT),
    # Long enough that the next attempt always falls inside the first wait.
    "DOKAZ_LOGIN_FIRST_DELAY_SECONDS": "60",
    "DOKAZ_LOGIN_MAX_DELAY_PER_CLIENT_SECONDS": "120",
    "DOKAZ_LOGIN_MAX_DELAY_PER_ACCOUNT_SECONDS": "120",
    "DOKAZ_LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS": "600",
}
CASE_LINK = re.compile(r'href="/staff/cases/([0-9a-f-]{36})">([A-Z0-9-]+)<')
FILE_LINK = re.compile(r'href="(/staff/cases/[0-9a-f-]{36}/attachments/[0-9a-f-]{36})"')


@dataclass
class Cluster:
    dep: Deployment
    served: list[TorDeployment]  # each: a public PROXY port and a staff port
    single: list[LiveApi]  # each: everything on one PROXY-protocol port (no staff port)
    store: dict[str, Any]  # the S3 settings every process has

    def staff(self, n: int) -> str:
        return self.served[n].staff_url

    def handle(self, role: Role, *, on_intake_duty: bool = False) -> StaffHandle:
        with Session(self.dep.engine, expire_on_commit=False) as s:
            return create_staff(s, role, settings=self.dep.settings,
                                on_intake_duty=on_intake_duty)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    redis = Redis.from_url(REDIS_URL)
    prefix = f"dokaz-console-{secrets.token_hex(4)}:"
    try:
        s3 = MotoS3(f"http://127.0.0.1:{moto_port}")
        store = s3.settings_overrides(s3.new_bucket())
        env = {f"DOKAZ_{k.upper()}": str(v) for k, v in store.items()}
        env.update(THROTTLE, DOKAZ_REDIS_URL=REDIS_URL, DOKAZ_REDIS_KEY_PREFIX=prefix)
        with deployment("postgresql", tmp_path_factory.mktemp("console"), **env) as dep:
            with Session(dep.engine) as s:
                create_recovery_key_text(s)
            served = [TorDeployment(dep) for _ in range(2)]
            for one in served:
                one.wait_ready()
            # Per circuit, the account may fail often: the circuit's count is what shows.
            single = [LiveApi(dep.env(DOKAZ_CLIENT_IDENTITY="proxy-protocol",
                                      DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT="100"),
                              dep.root / f"single-{n}.log") for n in range(2)]
            dep.apis.extend(single)
            for api in single:
                wait_ready(api)
            yield Cluster(dep, served, single, store)
    finally:
        for key in redis.scan_iter(match=prefix + "*"):
            redis.delete(key)
        redis.close()
        moto.stop()


def sign_in_form(client: httpx.Client, form_from: str, post_to: str, handle: StaffHandle, *,
                 password: str | None = None) -> httpx.Response:
    """The console's sign-in form fetched from one process and posted to another."""
    page = client.get(f"{form_from}/staff/sign-in?lang=en")
    assert page.status_code == 200, page.text
    return client.post(f"{post_to}/staff/sign-in", data={
        "csrf": csrf_of(page.text), "lang": "en", "username": handle.user.username,
        "password": password or handle.password,
        "code": code_for_step(handle.totp_secret, step_at(utcnow()))},
        follow_redirects=False)


def test_a_console_session_read_and_reply_across_processes(cluster: Cluster) -> None:
    worker = cluster.handle(Role.CASEWORKER, on_intake_duty=True)
    one, two = cluster.staff(0), cluster.staff(1)
    with cluster.served[0].circuit(11) as public:
        sent = Submitter(str(public.base_url).rstrip("/"), file_sizes=(6000,)).send(public)
    assert sent.acknowledged, sent.error
    s3 = get_storage(Settings.model_validate({
        "data_dir": cluster.dep.data_dir, "kdf_profile": "fast-insecure-for-tests",
        **cluster.store}))
    assert list(s3.iter_blobs()), "the file is not in the S3 store"

    with httpx.Client(timeout=60) as browser:
        signed = sign_in_form(browser, one, two, worker)  # form token made by the other
        assert signed.status_code == 303, signed.text
        queue = browser.get(f"{one}/staff/queue?tab=all")
        assert queue.status_code == 200
        cases = {ref: cid for cid, ref in CASE_LINK.findall(queue.text)}
        case = cases[str(sent.reference)]
        page = browser.get(f"{two}/staff/cases/{case}")
        assert page.status_code == 200 and sent.canary in page.text
        [link] = FILE_LINK.findall(page.text)
        download = browser.get(f"{one}{link}")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() in sent.file_hashes

        csrf = csrf_of(page.text)  # the page's token, from process two
        thread = page.text.split('name="thread_id" value="')[1].split('"')[0]
        reply = f"Reply {secrets.token_hex(4)}: which district court?"
        forged = browser.post(f"{one}/staff/cases/{case}/messages", follow_redirects=False,
                              data={"csrf": "0" * 32, "thread_id": thread, "body": "forged"})
        assert forged.status_code == 403
        replied = browser.post(f"{one}/staff/cases/{case}/messages", follow_redirects=False,
                               data={"csrf": csrf, "thread_id": thread, "body": reply})
        assert replied.status_code == 303, replied.text
        after = browser.get(f"{two}{replied.headers['location']}")
        assert reply in after.text and "forged" not in after.text

        # The submitter reads it through another circuit, on the other process.
        with cluster.served[1].circuit(12) as back:
            opened = back.post("/api/v1/followup/session", json={"receipt": sent.receipt})
            assert opened.status_code == 201, opened.text
            messages = back.get("/api/v1/followup/messages", headers={
                "Authorization": f"Bearer {opened.json()['token']}"}).json()
            assert [m["text"] for m in messages if m["direction"] == "to_you"] == [reply]

        out = browser.post(f"{two}/staff/sign-out", data={"csrf": csrf},
                           follow_redirects=False)
        assert out.status_code == 303
    # The old cookie, sent again on purpose: the session ended in every process.
    stale = {"Cookie": f"dokaz_staff={signed.cookies['dokaz_staff']}"}
    assert httpx.get(f"{one}/staff/queue", headers=stale).status_code == 401


def test_an_accounts_failures_on_one_staff_port_slow_it_on_the_other(cluster: Cluster) -> None:
    target = cluster.handle(Role.CASEWORKER)
    with httpx.Client(timeout=60) as sprayer:
        for n in range(FREE_PER_ACCOUNT):
            wrong = sign_in_form(sprayer, cluster.staff(n % 2), cluster.staff(n % 2), target,
                                 password="wrong-" + secrets.token_hex(4))
            assert wrong.status_code == 401, wrong.text
    with httpx.Client(timeout=60) as genuine:  # the other process, a fresh browser
        waiting = sign_in_form(genuine, cluster.staff(1), cluster.staff(1), target)
        assert waiting.status_code == 429, waiting.text
        assert 1 <= int(waiting.headers["Retry-After"]) <= 120
        assert genuine.get(f"{cluster.staff(1)}/staff/queue").status_code == 401


def test_a_circuits_failures_on_one_process_make_it_wait_on_the_other(cluster: Cluster
                                                                       ) -> None:
    target = cluster.handle(Role.CASEWORKER)
    first, second = (api.port for api in cluster.single)
    with circuit_client(first, 7001) as sprayer:
        for _ in range(FREE_PER_CLIENT):
            wrong = sign_in_form(sprayer, "", "", target, password="wrong-" + secrets.token_hex(4))
            assert wrong.status_code == 401, wrong.text
    with circuit_client(second, 7001) as same_circuit:
        waiting = sign_in_form(same_circuit, "", "", target)
        assert waiting.status_code == 429, waiting.text  # counted in Redis, not in memory
    with circuit_client(second, 7002) as other, circuit_client(first, 7002) as other_again:
        signed = sign_in_form(other, "", "", target)
        assert signed.status_code == 303, signed.text
        # The session from process two is good on process one, for the same circuit.
        session = {"Cookie": f"dokaz_staff={signed.cookies['dokaz_staff']}"}
        assert other_again.get("/staff/queue", headers=session).status_code == 200
