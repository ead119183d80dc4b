"""Roles, and what each may do in broad strokes.

* ``admin``: users, partners, settings and the audit log; no case content by default
  (an admin holds no case-key wraps, so even a coerced admin cannot read testimony).
* ``coordinator``: assigns, verifies and closes cases; may list coarse metadata of all
  cases but still needs a key wrap to read any content.
* ``caseworker``: triage and follow-up of the cases wrapped to them.
* ``lawyer``: an external submitter with an account; submits on behalf of clients and
  sees only their own submissions.
* ``partner``: an NGO using an API key; anonymised aggregates only. Partners are not
  staff accounts and never sign in with a password.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    CASEWORKER = "caseworker"
    LAWYER = "lawyer"
    PARTNER = "partner"


# Roles that have a StaffUser row, a password, a TOTP secret and a key pair.
ACCOUNT_ROLES: frozenset[Role] = frozenset(
    {Role.ADMIN, Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER}
)
# Roles that may read case content at all (given a key wrap); admins and partners never.
READER_ROLES: frozenset[Role] = frozenset({Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER})
# Roles that may be put on intake duty (new submissions are wrapped to them).
INTAKE_ROLES: frozenset[Role] = frozenset({Role.COORDINATOR, Role.CASEWORKER})


def parse_account_role(value: str) -> Role:
    """Return the Role for an account, or raise ValueError with a readable message."""
    try:
        role = Role(value.strip().lower())
    except ValueError:
        names = ", ".join(sorted(r.value for r in ACCOUNT_ROLES))
        raise ValueError(f"Unknown role {value!r}; choose one of: {names}.") from None
    if role not in ACCOUNT_ROLES:
        raise ValueError("Partners use API keys, not accounts: see `dokaz partners`.")
    return role
