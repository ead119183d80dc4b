"""Signing in, sessions and password changes.

Sign-in takes the same path for every failure: throttle checks, one user lookup, exactly
one Argon2 password check (against a dummy hash when the username does not exist), then
the same generic 401. So an unknown username, a wrong password, a disabled account and a
wrong code cannot be told apart, by the message or by the time taken.

Failures must be counted and audited although the request's transaction is rolled back:
that work is handed to ``api.audit.service.after_outcome`` and runs in its own
transaction once the request's transaction has ended.

A session token is ``dks_`` + 256 random bits. The server keeps only its SHA-256 and the
staff private key encrypted under a key derived from the token (crypto.staff_keys), so
neither the database nor any process without the token can use the key; revoking or
expiring a session wipes that blob.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from api.audit import actions
from api.audit.service import after_outcome, record, record_separately
from api.auth import passwords, repository, throttle, totp
from api.auth.models import StaffSession, StaffUser
from api.auth.roles import ACCOUNT_ROLES, Role
from api.core.errors import InvalidInput, Unauthorized
from api.core.settings import Settings
from crypto.errors import CryptoError
from crypto.keys import random_token
from crypto.redaction import REDACTED, redacting
from crypto.staff_keys import (
    encrypt_for_session,
    reseal_private_key,
    session_token_hash,
    unseal_private_key,
)

TOKEN_PREFIX = "dks_"  # noqa: S105 (a prefix, not a secret)
TOUCH_EVERY = timedelta(seconds=60)
LOGIN_FAILED_MESSAGE = (
    "Sign-in failed: the username, password or six-digit code is not right. "
    "Codes can be used only once; wait for the next one if you just used it."
)


def unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, headers={"WWW-Authenticate": "Bearer"})


@redacting(lambda r: f"user={r.user.username!r}, token={REDACTED}")
@dataclass(frozen=True)
class LoginResult:
    token: str
    session: StaffSession
    user: StaffUser


def _fail(session: Session, settings: Settings, key: str, now: datetime,
          user: StaffUser | None, reason: str) -> Unauthorized:
    # Plain values only: the work runs after the rollback has expired every ORM object.
    user_id = user.id if user else None
    # The attempted name is recorded only when it is an account: an unknown "name" is
    # often a password typed into the wrong field, and the log is permanent.
    target = user.username if user else None

    def work(engine: Engine) -> None:
        throttle.count_failure(engine, key, now)
        record_separately(
            engine, action=actions.LOGIN_FAILED, actor_id=user_id,
            actor_kind="staff" if user_id else "anonymous", target=target,
            details={"reason": reason}, now=now,
        )

    after_outcome(session, work)
    return Unauthorized(LOGIN_FAILED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


def login(
    session: Session, settings: Settings, *, username: str, password: str, code: str,
    now: datetime, limiter: throttle.GlobalLimiter,
) -> LoginResult:
    limiter.hit()
    key = throttle.account_key(settings, username)
    throttle.check_account(session, key, now, settings.login_attempts_per_account_per_hour)
    user = repository.get_by_username(session, username)
    stored_hash = user.password_hash if user is not None else passwords.dummy_hash(settings)
    password_ok = passwords.verify_password(settings, stored_hash, password)
    if user is None:
        raise _fail(session, settings, key, now, None, "unknown_user")
    if not password_ok:
        raise _fail(session, settings, key, now, user, "bad_password")
    if user.disabled_at is not None or Role(user.role) not in ACCOUNT_ROLES:
        raise _fail(session, settings, key, now, user, "disabled")
    if user.totp_secret is None:
        raise _fail(session, settings, key, now, user, "totp_not_set_up")
    secret = totp.open_secret(settings, user.id, user.totp_secret)
    step = totp.match_step(secret, code, now, user.totp_last_step)
    if step is None:
        raise _fail(session, settings, key, now, user, "bad_code")

    private_key = passwords.bounded(
        settings, lambda: unseal_private_key(user.sealed_private_key, password)
    )
    user.totp_last_step = step
    user.last_login_at = now
    if passwords.needs_rehash(settings, user.password_hash):
        user.password_hash = passwords.hash_password(settings, password)
    token = TOKEN_PREFIX + random_token(32)
    session_id = uuid.uuid4()
    row = StaffSession(
        id=session_id, user_id=user.id, token_hash=session_token_hash(token),
        session_key=encrypt_for_session(private_key, token, str(session_id)),
        created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(user)
    session.add(row)
    throttle.clear(session, key)
    session.flush()
    record(session, action=actions.LOGIN, actor_id=user.id, target=user.username,
           details={"session_id": str(session_id)}, now=now)
    return LoginResult(token, row, user)


def authenticate(
    session: Session, settings: Settings, token: str, now: datetime
) -> tuple[StaffSession, StaffUser]:
    """The live session and user for a bearer token, or a 401 saying why not."""
    again = " Please sign in again."
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise unauthorized("This is not a staff session token." + again)
    row = repository.session_by_token_hash(session, session_token_hash(token))
    if row is None:
        raise unauthorized("This session is not known (it may have been removed)." + again)
    if row.revoked_at is not None or row.session_key is None:
        raise unauthorized("This session was ended (signed out or revoked)." + again)
    if row.expires_at <= now:
        _wipe_later(session, row.id, now, "expired")
        raise unauthorized(
            f"Sessions last at most {settings.session_absolute_hours} hours; "
            "this one has expired." + again
        )
    if row.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        _wipe_later(session, row.id, now, "idle")
        raise unauthorized(
            f"This session expired after {settings.session_idle_minutes} minutes "
            "without activity." + again
        )
    user = repository.get_staff(session, row.user_id)
    if user is None or user.disabled_at is not None or Role(user.role) not in ACCOUNT_ROLES:
        raise unauthorized("This account is disabled." + again)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now  # written with the request; at most once a minute
        session.add(row)
    return row, user


def _wipe_later(session: Session, session_id: uuid.UUID, now: datetime, reason: str) -> None:
    def work(engine: Engine) -> None:
        from api.core.db import unit_of_work

        with unit_of_work(engine) as s:
            repository.wipe_session(s, session_id, now, reason)

    after_outcome(session, work)


def logout(session: Session, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> None:
    repository.revoke_sessions(session, user_id, now, "logout", only=session_id)
    record(session, action=actions.LOGOUT, actor_id=user_id,
           details={"session_id": str(session_id)}, now=now)


def revoke_own_session(
    session: Session, user_id: uuid.UUID, target: uuid.UUID, now: datetime
) -> bool:
    ended = repository.revoke_sessions(session, user_id, now, "user", only=target)
    if ended:
        record(session, action=actions.SESSION_REVOKED, actor_id=user_id,
               details={"session_id": str(target)}, now=now)
    return bool(ended)


def change_password(
    session: Session, settings: Settings, user: StaffUser, *, current: str, new: str,
    now: datetime,
) -> int:
    """Re-seal the private key under the new password and end every session."""
    key = throttle.account_key(settings, user.username)
    # A stolen session must not become an unthrottled password oracle.
    throttle.check_account(session, key, now, settings.login_attempts_per_account_per_hour)
    if not passwords.verify_password(settings, user.password_hash, current):
        after_outcome(session, lambda engine: throttle.count_failure(engine, key, now))
        raise InvalidInput("The current password is not right.", details={"fields": [
            {"path": "current_password", "message": "not right", "type": "wrong_password"}]})
    if new == current:
        raise InvalidInput("The new password must differ from the current one.")
    passwords.check_password_policy(new, user.username)
    params = passwords.kdf_params(settings)
    try:
        user.sealed_private_key = passwords.bounded(
            settings, lambda: reseal_private_key(user.sealed_private_key, current, new, params)
        )
    except CryptoError:
        # Login hash and sealed key disagree: never write a key nobody can open.
        raise InvalidInput("The current password does not open your key; ask an admin.") \
            from None
    user.password_hash = passwords.hash_password(settings, new)
    user.password_changed_at = now
    session.add(user)
    ended = repository.revoke_sessions(session, user.id, now, "password_change")
    session.flush()
    record(session, action=actions.PASSWORD_CHANGED, actor_id=user.id, target=user.username,
           details={"sessions_ended": ended}, now=now)
    return ended

