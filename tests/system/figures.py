"""Figures the system suite measured (fuzz cases, crashes, losses), for the closing note.

Each test appends one JSON line to ``test-artifacts/system-figures.jsonl`` (ignored by
git); the line is also printed, so ``pytest -s`` shows it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def record(name: str, **values: Any) -> None:
    line = json.dumps({"test": name, "at": int(time.time()), "pid": os.getpid(), **values},
                      sort_keys=True)
    path = ROOT / "test-artifacts" / "system-figures.jsonl"
    path.parent.mkdir(exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    print(line)
