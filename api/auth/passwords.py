"""Login password hashes and the password policy.

Login hashes are argon2-cffi ``PasswordHasher`` strings (Argon2id). They are separate from
the Argon2id key that seals the staff private key (crypto.staff_keys), which has its own
salt, so checking a login never yields the key-encryption key.

The functions here are plain, blocking Argon2 computations (each costs 64 MiB with the
standard profile). On a request's path they run only through
:func:`api.ingress.argon2.run_argon2`, the one async limiter of ``max_concurrent_argon2``
for the whole host: a request waiting for a slot waits in the event loop, never in a worker
thread, so a burst of sign-ins cannot take the thread pool that every other route needs.
Command-line tools call them directly (one at a time by nature).

The policy: at least 12 characters, not the username, not (a padded or repeated form of)
one of the 30,000 most common passwords shipped in ``data/common-passwords.txt`` (see its
header for provenance and licence).
"""

from __future__ import annotations

import re
import secrets
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.core.errors import InvalidInput
from api.core.settings import Settings
from crypto.passwords import Argon2Params

MIN_LENGTH = 12
MAX_LENGTH = 256  # long enough for any passphrase, short enough to bound the work


def kdf_params(settings: Settings) -> Argon2Params:
    """Argon2id parameters for the sealed private key (and the login hash)."""
    if settings.kdf_profile == "fast-insecure-for-tests":
        return Argon2Params.for_tests()
    return Argon2Params.default()


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: Settings) -> PasswordHasher:
    p = kdf_params(settings)
    return _hasher(p.time_cost, p.memory_kib, p.parallelism)


def hash_password(settings: Settings, password: str) -> str:
    return str(hasher(settings).hash(password))


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(24))


def dummy_hash(settings: Settings) -> str:
    """A hash of a random secret with the current parameters, for unknown usernames."""
    p = kdf_params(settings)
    return _dummy_hash(p.time_cost, p.memory_kib, p.parallelism)


def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    """Constant-cost check. Unknown users are checked against :func:`dummy_hash` so the
    answer takes as long as for a real account with a wrong password."""
    try:
        return bool(hasher(settings).verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    try:
        return bool(hasher(settings).check_needs_rehash(password_hash))
    except InvalidHashError:
        return True


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("api.auth").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


_EDGE = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _is_repetition(text: str) -> str | None:
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why this password is refused (a sentence for a person), or None if acceptable."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    if password.strip() != password:
        return "The password must not start or end with a space."
    lowered = password.casefold()
    if username and len(username) >= 3 and username.casefold() in lowered:
        return "The password must not contain the username."
    if len(set(lowered)) < 5:
        return "The password has too few different characters."
    common = common_passwords()
    core = _EDGE.sub("", lowered)
    unit = _is_repetition(lowered) or _is_repetition(core) if core else None
    if lowered in common or (core and core in common) or not core or (
        unit is not None and (len(unit) <= 4 or unit in common)
    ):
        return ("This password is on the list of the most common passwords. "
                "Choose another, for example three or four unrelated words.")
    return None


def check_password_policy(password: str, username: str | None = None) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, details={"fields": [{"path": "password", "message": problem,
                                                         "type": "password_policy"}]})
