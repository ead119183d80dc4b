"""What ``dokaz fsck`` found: findings with counts and identifiers, never content.

A finding is either a *problem* (the store is inconsistent: the command exits non-zero)
or a *note* (expected transient state, such as a blob of a request still in flight, or
an expired upload the workers have not deleted yet). Identifiers are row ids and
generated blob names; both are random and say nothing about a case's content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 20


@dataclass
class Finding:
    check: str
    message: str
    ids: list[str] = field(default_factory=list)
    problem: bool = True

    @property
    def count(self) -> int:
        return len(self.ids)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "count": self.count,
                "ids": self.ids, "problem": self.problem}


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)

    def add(self, check: str, message: str, ids: list[str], *, problem: bool = True) -> None:
        if ids:
            self.findings.append(Finding(check, message, sorted(ids), problem))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts, "repaired": self.repaired,
                "findings": [f.as_dict() for f in self.findings]}

    def lines(self) -> list[str]:
        out = ["checked: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        for f in self.findings:
            shown = ", ".join(f.ids[:MAX_LISTED])
            more = f" (+{f.count - MAX_LISTED} more)" if f.count > MAX_LISTED else ""
            label = "PROBLEM" if f.problem else "note"
            out.append(f"{label} [{f.check}] {f.count}: {f.message}: {shown}{more}")
        for what, n in self.repaired.items():
            out.append(f"repaired [{what}] {n}")
        out.append("fsck: OK" if self.ok else f"fsck: {len(self.problems)} kind(s) of problem")
        return out
