import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.intake.conftest import each_backend, intake, intake_with
from tests.storage.moto_server import moto_s3

__all__ = ["each_backend", "intake", "intake_with", "moto_s3"]

TUS_JS = "tus-js-client@4"
NODE_DIR = Path(os.environ.get("DOKAZ_TEST_NODE_DIR",
                               Path.home() / ".cache" / "dokaz-tests" / "node-tus"))


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """A folder with tus-js-client installed from npm (as bench/tus_peers.py installs it),
    kept between runs (``DOKAZ_TEST_NODE_DIR``, default ``~/.cache/dokaz-tests/node-tus``);
    scripts/test.sh installs Node and npm and fills it before pytest runs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed (scripts/test.sh installs them)")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NODE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install it once
        if not (NODE_DIR / "node_modules" / "tus-js-client").is_dir():
            (NODE_DIR / "package.json").write_text('{"private": true, "type": "module"}')
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                            TUS_JS], cwd=NODE_DIR, check=True, timeout=600)
    return NODE_DIR
