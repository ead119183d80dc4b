"""An API process does not load what only some of its requests need.

Resident memory is budgeted (bench/upload.py: < 150 MiB while a body streams, the app at
rest included), and a module imported at start stays resident for good. OpenDP (about
15 MiB) is needed only once an organisation switches a partner to differential privacy,
Alembic with Mako (about 15 MiB) only to migrate or to name the revisions for /readyz.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.system.live import ROOT

LAZY = ("opendp", "alembic", "mako")

PROBE = """
import json, sys
from api.app import create_app
from api.core.settings import get_settings
create_app(get_settings())
print(json.dumps(sorted(m for m in {lazy!r} if m in sys.modules)))
"""


def test_the_app_starts_without_opendp_or_alembic(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(lazy=LAZY)], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={"DOKAZ_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
