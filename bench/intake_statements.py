"""What writing a report's statements into the case costs intake: one run, interleaved.

Times :func:`api.intake.service.create_submission` (the one transaction of a report: case,
key wraps, submission, receipt and now the intake statements) with the statements written
and with them skipped, alternating, on a scratch SQLite file or PostgreSQL database built
by the migrations. The report names a submitter (a relative), a victim and a witness, two
act categories and three consent scopes (sharing with the UN counts for its four
mechanisms), so 3 persons, 2 acts and 14 consent rows are written. The receipt's Argon2id
runs before the transaction in intake and is left out here.

Prints the median and p95 of each and the ratio of the medians; exits 1 when the ratio
is above ``--target`` (default 2.0).

    .venv/bin/python bench/intake_statements.py [--engine sqlite|postgresql] [--n 200]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlmodel import Session  # noqa: E402

import api.models  # noqa: F401, E402
from api.auth.roles import Role  # noqa: E402
from api.cases.metadata import statements as metadata_statements  # noqa: E402
from api.core import migrations  # noqa: E402
from api.core.db import make_engine  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from api.intake import service  # noqa: E402
from api.intake.schemas import SubmissionIn  # noqa: E402
from api.storage import get_storage  # noqa: E402
from crypto import Receipt as ReceiptCode  # noqa: E402
from tests.factories import create_recovery_key_text, create_staff, sample_report  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--n", type=int, default=200, help="reports per mode")
    ap.add_argument("--target", type=float, default=2.0)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="dokaz-bench-"))
    (root / "data").mkdir(mode=0o700)
    db_name = f"dokaz_bench_{secrets.token_hex(4)}"
    if args.engine == "sqlite":
        url = f"sqlite:///{root / 'bench.sqlite3'}"
    else:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}"
    settings = Settings.model_validate({
        "data_dir": root / "data", "database_url": url,
        "kdf_profile": "fast-insecure-for-tests", "log_format": "text"})
    try:
        migrations.upgrade(settings, url=url)
        engine = make_engine(settings, url=url)
        with Session(engine, expire_on_commit=False) as s:
            create_recovery_key_text(s)
            for _ in range(3):
                create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=settings)
        ctx = service.IntakeContext(settings, get_storage(settings))
        data = SubmissionIn.model_validate(sample_report(
            reporter={"role": "relative", "name": "A. Relative"},
            acts=["detention", "torture"],
            persons=[{"role": "victim", "name": "B. Victim", "sex": "male"},
                     {"role": "witness"}],
            consent={"internal_handling": True, "aggregate_statistics": True,
                     "share_un": True}))
        prepared = service.prepare_receipt(settings)
        real = metadata_statements.add

        def skipped(*_a: Any, **_k: Any) -> None:
            return None

        times: dict[str, list[float]] = {"with statements": [], "without": []}
        warmup = 10
        for i in range(2 * (args.n + warmup)):
            mode = "with statements" if i % 2 == 0 else "without"
            metadata_statements.add = real if i % 2 == 0 else skipped  # type: ignore[assignment,unused-ignore]
            receipt = service.PreparedReceipt(ReceiptCode.generate(), prepared.verifier,
                                              prepared.kek)
            with Session(engine, expire_on_commit=False) as s:
                t0 = time.perf_counter()
                service.create_submission(s, ctx, data, [], receipt)
                s.commit()
                if i >= 2 * warmup:
                    times[mode].append(time.perf_counter() - t0)
        metadata_statements.add = real
        engine.dispose()
    finally:
        if args.engine == "postgresql":
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    for mode, values in times.items():
        print(f"{args.engine} {mode:16s} median {statistics.median(values) * 1000:6.1f} ms"
              f"  p95 {_pct(values, 0.95) * 1000:6.1f} ms  (n={len(values)})")
    ratio = statistics.median(times["with statements"]) / statistics.median(times["without"])
    ok = ratio <= args.target
    print(f"ratio of medians {ratio:.2f} (target <= {args.target}): {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
