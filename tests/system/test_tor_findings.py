"""Issue 15's findings behind Tor, as regression tests (tests/system/tor_deployment.py).

Each test replays one finding against ``dokaz serve`` with ``proxy-protocol`` and a staff
port, on SQLite and PostgreSQL, every client speaking as a Tor circuit of its own, and
asserts what a person sees: the status, the ``Retry-After``, the message.

The limits are the shipped defaults (read from :class:`Settings`, not copied), not the
wide-open ones the other system tests use: the findings were about those defaults.
Every test uses its own circuit ids, so one test's spent budgets never refuse another's.

The last finding (N API processes, N times weaker limits) needs two processes on one
store: PostgreSQL and Redis only, because several ``dokaz serve`` on one SQLite file are
not a documented deployment (README, Deployment at scale: the embedded default is one
``dokaz serve``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from api.core.models import day_ceil, utcnow
from api.core.settings import Settings
from crypto import parse_receipt
from crypto.receipts import Receipt
from tests.conftest import REDIS_URL, SharedRedis
from tests.factories import create_recovery_key_text
from tests.system.live import deployment
from tests.system.test_hostile_inputs import web_fields
from tests.system.tor_deployment import TorDeployment, tor_deployment
from tests.system.traffic import Sent, Submitter, multipart_body

pytestmark = pytest.mark.slow


def default(name: str) -> int:
    value = Settings.model_fields[name].default
    assert isinstance(value, int)
    return value


PER_CIRCUIT = default("intake_rate_per_client_per_hour")  # 30
GLOBAL_PER_MINUTE = default("intake_rate_global_per_minute")  # 600
RECEIPT_ATTEMPTS = default("receipt_attempts_per_hour")  # 5
DEFAULT_LIMITS = {
    "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR": str(PER_CIRCUIT),
    "DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE": str(GLOBAL_PER_MINUTE),
    "DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR": str(RECEIPT_ATTEMPTS),
}
HOUR = 3600
PEOPLE = 40  # genuine reporters within a minute (finding 2)
PER_CIRCUIT_OF_TWO = 4  # finding 5: low, so alternating between two processes exhausts it
WRONG = "That receipt is not right."  # api.followup.service.WRONG_RECEIPT, its start
TOO_MANY = "Too many wrong receipts were tried."  # api.followup.service.TOO_MANY
TOO_MANY_SUBMISSIONS = "You have sent many submissions in a short time."

_circuits = count(100_000)


def new_circuit() -> int:
    return next(_circuits)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TorDeployment]:
    with tor_deployment(request.param, tmp_path_factory.mktemp(f"findings-{request.param}"),
                        **DEFAULT_LIMITS) as served:
        with Session(served.dep.engine) as s:
            create_recovery_key_text(s)
        yield served


# ---- clients ---------------------------------------------------------------------------


def submit_api(client: httpx.Client) -> Sent:
    """A genuine report through the API (multipart, one small file); 201 with a receipt."""
    sent = Submitter(str(client.base_url).rstrip("/"), file_sizes=(1024,)).send(client)
    assert sent.status is not None, sent.error  # an HTTP answer, whatever it says
    return sent


def form_token(client: httpx.Client, path: str) -> str:
    """GET the page as a browser does: the form cookie lands in ``client``'s jar."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


def submit_form(client: httpx.Client) -> httpx.Response:
    """A genuine report through the no-JavaScript form (/report), with a file."""
    token = form_token(client, "/report?lang=en")
    ctype, body = multipart_body([("csrf", token), *web_fields(lang="en")],
                                 [("files", "notes.txt", b"what I saw")])
    return client.post("/report", content=body, headers={"Content-Type": ctype})


def receipt_on_page(html: str) -> str:
    """The receipt the receipt page shows, its groups joined as the person types them."""
    groups = re.findall(r'<span class="group">([A-Z0-9]{4})</span>', html)
    return "-".join(groups)


def followup_api(client: httpx.Client, receipt: str) -> httpx.Response:
    return client.post("/api/v1/followup/session", json={"receipt": receipt})


def followup_form(client: httpx.Client, receipt: str) -> httpx.Response:
    token = form_token(client, "/followup?lang=en")
    return client.post("/followup", data={"csrf": token, "lang": "en", "action": "login",
                                          "receipt": receipt})


def random_receipt() -> str:
    """A well-formed receipt nobody was given (120 random secret bits; the lookup part is
    random too, so it almost surely names no receipt row)."""
    return Receipt.generate().text


def wrong_secret_for(receipt: str) -> str:
    """A well-formed guess at ``receipt``: its lookup part, another secret."""
    real = parse_receipt(receipt)
    guess = Receipt(lookup=real.lookup, secret=Receipt.generate().secret)
    assert guess.secret != real.secret
    return guess.text


def genuine_receipt(tor: TorDeployment) -> str:
    with tor.circuit(new_circuit()) as client:
        sent = submit_api(client)
    assert sent.acknowledged and sent.receipt is not None, sent.error
    return sent.receipt


def retry_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict) and "error" in body, body
    error: dict[str, Any] = body["error"]
    return error


# ---- 1. a malformed flood spends its sender's budget only -------------------------------


MALFORMED: list[tuple[str, bytes]] = [
    ("application/json", b'{"role": "witness", '),  # bad JSON
    ("application/json", b"{}"),  # every required field missing
    ("text/plain", b"they took him"),  # a content type intake does not take
    ("application/json", b'{"role": "nobody", "narrative": 5}'),  # wrong values
]


def test_a_malformed_flood_refuses_no_one_else_and_its_sender_pays(tor: TorDeployment
                                                                   ) -> None:
    flood = PER_CIRCUIT + 8  # more than the finding's 28, and past the sender's budget
    statuses: list[int] = []
    with tor.circuit(new_circuit()) as flooder:
        for i in range(flood):
            ctype, body = MALFORMED[i % len(MALFORMED)]
            response = flooder.post("/api/v1/submissions", content=body,
                                    headers={"Content-Type": ctype})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert 0 < retry_after(response) <= HOUR
                assert error_of(response)["message"].startswith(TOO_MANY_SUBMISSIONS)
        # Each malformed request spent one of the sender's submissions, and nothing else:
        # a clear 4xx while its budget lasted, then its own 429.
        assert all(400 <= s < 500 and s != 429 for s in statuses[:PER_CIRCUIT]), statuses
        assert statuses[PER_CIRCUIT:] == [429] * (flood - PER_CIRCUIT), statuses
        # Its genuine report is refused too now: the flood was paid from its budget.
        assert submit_api(flooder).status == 429
        assert submit_form(flooder).status_code == 429

    # Everyone else submits, right after the flood, on the API and on the form.
    with tor.circuit(new_circuit()) as other:
        sent = submit_api(other)
        assert sent.acknowledged, sent.error
        page = submit_form(other)
        assert page.status_code == 200, page.text[:500]
        assert len(receipt_on_page(page.text)) == 39, page.text[:2000]
    with tor.circuit(new_circuit()) as third:
        page = submit_form(third)
        assert page.status_code == 200 and len(receipt_on_page(page.text)) == 39


# ---- 2. more than 30 genuine reports an hour across all Tor users -------------------


def test_forty_genuine_reports_from_forty_circuits_are_all_accepted(tor: TorDeployment
                                                                    ) -> None:
    """40 people within a minute: more than one circuit's hourly budget (30) and far
    inside the default global budget (600 a minute), which nothing here raises."""
    assert PER_CIRCUIT < PEOPLE <= GLOBAL_PER_MINUTE

    def one(i: int) -> int:
        with tor.circuit(new_circuit()) as client:
            # Half through the API, half through the form: both doors share the budget.
            if i % 2:
                sent = submit_api(client)
                assert sent.status == 201 and sent.receipt, sent.error
                return 201
            page = submit_form(client)
            assert page.status_code != 200 or len(receipt_on_page(page.text)) == 39
            return page.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(PEOPLE)))
    assert sorted(statuses) == [200] * (PEOPLE // 2) + [201] * (PEOPLE // 2), statuses


# ---- 3. random well-formed receipts refuse no one else's ----------------------------


def test_random_receipts_do_not_lock_out_a_genuine_receipt(tor: TorDeployment) -> None:
    receipt = genuine_receipt(tor)
    tries = RECEIPT_ATTEMPTS + 2
    with tor.circuit(new_circuit()) as guesser:
        statuses = [followup_api(guesser, random_receipt()) for _ in range(tries)]
        for wrong in statuses[:RECEIPT_ATTEMPTS]:
            assert wrong.status_code == 401, wrong.text
            assert error_of(wrong)["message"].startswith(WRONG)
        for refused in statuses[RECEIPT_ATTEMPTS:]:
            assert refused.status_code == 429, refused.text
            assert 0 < retry_after(refused) <= HOUR
            assert error_of(refused)["message"] == TOO_MANY + (
                " For your safety, please wait before trying again.")
    with tor.circuit(new_circuit()) as page_guesser:
        pages = [followup_form(page_guesser, random_receipt()) for _ in range(tries)]
        assert [p.status_code for p in pages] == [401] * RECEIPT_ATTEMPTS + [429] * 2
        assert WRONG in pages[0].text and TOO_MANY in pages[-1].text

    # The holder of a real receipt, on another circuit, opens a session on both.
    with tor.circuit(new_circuit()) as holder:
        opened = followup_api(holder, receipt)
        assert opened.status_code == 201, opened.text
        assert opened.json()["token"]
        page = followup_form(holder, receipt)
        assert page.status_code == 200, page.text[:500]
        assert re.search(r'name="session" value="[^"]+"', page.text)


# ---- 4. concurrent guesses at one receipt -------------------------------------------


def test_concurrent_guesses_at_one_receipt_are_held_to_its_budget(tor: TorDeployment
                                                                  ) -> None:
    """40 wrong guesses at once from 40 circuits: the attempt is reserved before Argon2,
    so only the receipt's budget of them is ever checked (401); the rest are refused
    without Argon2 (429). The receipt is then locked for at least an hour, until the next
    00:00 UTC after it (known and documented behaviour, api/followup/service.py): its
    genuine holder is told plainly to wait, not that the receipt is wrong."""
    receipt = genuine_receipt(tor)
    guesses = [wrong_secret_for(receipt) for _ in range(40)]

    def guess(text: str) -> httpx.Response:
        with tor.circuit(new_circuit()) as client:
            return followup_api(client, text)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, guesses))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * RECEIPT_ATTEMPTS + [429] * (40 - RECEIPT_ATTEMPTS), statuses

    locked_until = day_ceil(utcnow() + timedelta(hours=1))
    with tor.circuit(new_circuit()) as holder:
        refused = followup_api(holder, receipt)
        assert refused.status_code == 429, refused.text
        assert error_of(refused)["message"].startswith(TOO_MANY)
        wait = retry_after(refused)
        assert HOUR - 60 <= wait <= (locked_until - utcnow()).total_seconds() + 60
        page = followup_form(holder, receipt)
        assert page.status_code == 429 and TOO_MANY in page.text


# ---- 5. several API processes share every limit -------------------------------------


@pytest.fixture
def two_processes(tmp_path_factory: pytest.TempPathFactory, shared_redis: SharedRedis
                  ) -> Iterator[tuple[TorDeployment, TorDeployment]]:
    env = {"DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR": str(PER_CIRCUIT_OF_TWO),
           "DOKAZ_REDIS_URL": REDIS_URL, "DOKAZ_REDIS_KEY_PREFIX": shared_redis.prefix,
           "DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR": str(RECEIPT_ATTEMPTS)}
    with deployment("postgresql", tmp_path_factory.mktemp("findings-two")) as dep:
        with Session(dep.engine) as s:
            create_recovery_key_text(s)
        first = TorDeployment(dep, **env)
        second = TorDeployment(dep, **env)
        yield first.wait_ready(), second.wait_ready()


def test_two_processes_count_one_circuit_once(
        two_processes: tuple[TorDeployment, TorDeployment]) -> None:
    first, second = two_processes
    assert first.api.proc.pid != second.api.proc.pid
    circuit = new_circuit()
    with first.circuit(circuit) as a, second.circuit(circuit) as b:
        sides = [a, b]
        statuses = [submit_api(sides[i % 2]).status for i in range(PER_CIRCUIT_OF_TWO + 2)]
        # Exactly the budget across both processes, not twice it.
        assert statuses == [201] * PER_CIRCUIT_OF_TWO + [429, 429], statuses

    receipt = genuine_receipt(first)
    guesser = new_circuit()
    with first.circuit(guesser) as a, second.circuit(guesser) as b:
        sides = [a, b]
        answers = [followup_api(sides[i % 2], random_receipt())
                   for i in range(RECEIPT_ATTEMPTS + 2)]
        assert [r.status_code for r in answers] == \
            [401] * RECEIPT_ATTEMPTS + [429, 429], [r.text for r in answers]

    # The receipt's own counter (in the database), guesses alternating between processes
    # from a fresh circuit each.
    answers = []
    for i in range(RECEIPT_ATTEMPTS + 2):
        with (first if i % 2 else second).circuit(new_circuit()) as client:
            answers.append(followup_api(client, wrong_secret_for(receipt)))
    assert [r.status_code for r in answers] == [401] * RECEIPT_ATTEMPTS + [429, 429]
    with second.circuit(new_circuit()) as holder:
        assert followup_api(holder, receipt).status_code == 429

