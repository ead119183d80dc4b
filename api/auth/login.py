"""Signing in, sessions and password changes.

Sign-in takes the same path for every failure: throttle checks, one user lookup, exactly
one Argon2 password check (against a dummy hash when the username does not exist), then
the same generic 401. So an unknown username, a wrong password, a disabled account and a
wrong code cannot be told apart, by the message or by the time taken.

:func:`sign_in` (and :func:`change_password`) are async and run in steps, because Argon2
must never run inside a database transaction nor in a thread that waits for an Argon2
slot: every Argon2 call goes through :func:`api.ingress.argon2.run_argon2`, whose waiting
happens in the event loop, and each database step is a short transaction of its own in a
worker thread (``api.core.db.in_transaction``), as intake and follow-up do. The steps are
plain functions of a ``Session`` and plain values, so the rules stay free of the web
framework; an orchestrating coroutine rather than an awaitable verifier passed into one
sync function, because a sync function would have to hold its transaction (on SQLite the
whole database's write lock) while Argon2 runs:

1. :func:`_begin`: the throttles (``api.auth.throttle``) count this attempt before any
   Argon2 (a refused attempt costs nothing more), and the account is looked up; what the
   later steps need is copied into plain values (:class:`_Found`);
2. the password is checked (Argon2, outside any transaction); then disabled accounts,
   TOTP set-up and the code are judged from those values; the private key is unsealed
   (Argon2);
3. :func:`_finish`: one transaction locks the account row, re-checks what may have
   changed meanwhile (the code's step against a concurrent sign-in, the password against a
   concurrent change, the account being disabled), creates the session, clears the
   account's failures and audits the sign-in.

A failure was counted in step 1 already, so counting never depends on its audit entry;
the entry is written in a transaction of its own, tried again after transient database
errors (``api.audit.service.with_retries_async``). A success gives the client's count back.

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
from api.audit.service import after_outcome, record, record_separately, with_retries_async
from api.auth import passwords, repository, throttle, totp
from api.auth.models import StaffSession, StaffUser
from api.auth.roles import ACCOUNT_ROLES, Role
from api.auth.throttle import SignInThrottle
from api.core.db import in_transaction
from api.core.errors import Conflict, InvalidInput, Unauthorized
from api.core.settings import Settings
from api.core.touch import touch_if_stale
from api.ingress.argon2 import Priority, run_argon2
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


@redacting(lambda f: f"user={f.username!r}, hash={REDACTED}, key={REDACTED}")
@dataclass(frozen=True)
class _Found:
    """The account as step 1 found it (plain values: no ORM object outlives its step)."""

    user_id: uuid.UUID | None
    username: str | None
    password_hash: str | None  # None: no such account; the dummy hash is checked instead
    sealed_private_key: bytes
    usable: bool  # not disabled, and a role that may sign in
    totp_secret: bytes | None
    totp_last_step: int


def _found(user: StaffUser | None) -> _Found:
    if user is None:
        return _Found(None, None, None, b"", False, None, 0)
    return _Found(user.id, user.username, user.password_hash, user.sealed_private_key,
                  user.disabled_at is None and Role(user.role) in ACCOUNT_ROLES,
                  user.totp_secret, user.totp_last_step)


def _begin(session: Session, backoff: throttle.Backoff, key: str, username: str,
           now: datetime) -> _Found:
    throttle.take_account(session, key, now, backoff)
    return _found(repository.get_by_username(session, username))


def _check_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    """Argon2 (run through run_argon2): the account's hash, or the dummy hash for a name
    that is no account, so both cost the same."""
    return passwords.verify_password(
        settings, password_hash or passwords.dummy_hash(settings), password)


def _judge(settings: Settings, found: _Found, password_ok: bool, code: str,
           now: datetime) -> tuple[str | None, int]:
    """(why the sign-in fails or None, the code's TOTP step), after the password check."""
    if found.user_id is None:
        return "unknown_user", 0
    if not password_ok:
        return "bad_password", 0
    if not found.usable:
        return "disabled", 0
    if found.totp_secret is None:
        return "totp_not_set_up", 0
    secret = totp.open_secret(settings, found.user_id, found.totp_secret)
    step = totp.match_step(secret, code, now, found.totp_last_step)
    return ("bad_code", 0) if step is None else (None, step)


def _finish(session: Session, settings: Settings, found: _Found, key: str, step: int,
            private_key: bytes, new_hash: str | None, now: datetime) -> LoginResult | str:
    """The session, or why the sign-in fails after all (what changed since step 1)."""
    assert found.user_id is not None
    user = repository.get_staff(session, found.user_id, for_update=True)
    if user is None or user.disabled_at is not None or Role(user.role) not in ACCOUNT_ROLES:
        return "disabled"
    if user.password_hash != found.password_hash:
        return "bad_password"  # changed meanwhile: the password checked is no longer it
    if step <= user.totp_last_step:
        return "bad_code"  # a concurrent sign-in used this code (or a later one) first
    user.totp_last_step = step
    user.last_login_at = now
    if new_hash is not None:
        user.password_hash = new_hash
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
    throttle.clear_account(session, key)
    session.flush()
    record(session, action=actions.LOGIN, actor_id=user.id, target=user.username,
           details={"session_id": str(session_id)}, now=now)
    return LoginResult(token, row, user)


async def _fail(engine: Engine, found: _Found, reason: str, now: datetime) -> Unauthorized:
    """Audit a failed sign-in (it was counted before its password was checked) and return
    the one generic 401."""
    # The attempted name is recorded only when it is an account: an unknown "name" is
    # often a password typed into the wrong field, and the log is permanent.
    await with_retries_async(lambda: record_separately(
        engine, action=actions.LOGIN_FAILED, actor_id=found.user_id,
        actor_kind="staff" if found.user_id else "anonymous", target=found.username,
        details={"reason": reason}, now=now,
    ))
    return unauthorized(LOGIN_FAILED_MESSAGE)


async def sign_in(
    engine: Engine, settings: Settings, limits: SignInThrottle, *, client: str | None,
    username: str, password: str, code: str, now: datetime,
) -> LoginResult:
    """Sign in with username, password and TOTP code (see the module docstring)."""
    key = throttle.account_key(settings, username)
    limits.take_client_and_global(client, now)
    try:
        found = await in_transaction(
            engine, lambda s: _begin(s, limits.accounts, key, username, now))
    except BaseException:
        # Refused by the account's wait (or the database): this attempt checked nothing.
        limits.give_back_client(client)
        limits.give_back_global()
        raise
    password_ok = await run_argon2(settings, _check_password, settings,
                                   found.password_hash, password,
                                   priority=Priority.STAFF)
    reason, step = _judge(settings, found, password_ok, code, now)
    if reason is not None:
        raise await _fail(engine, found, reason, now)
    try:
        private_key = await run_argon2(settings, unseal_private_key,
                                       found.sealed_private_key, password,
                                       priority=Priority.STAFF)
    except CryptoError:
        # Login hash and sealed key disagree (an admin must look); to the caller, a failure.
        raise await _fail(engine, found, "sealed_key_unreadable", now) from None
    assert found.password_hash is not None
    new_hash = (await run_argon2(settings, passwords.hash_password, settings, password,
                                 priority=Priority.STAFF)
                if passwords.needs_rehash(settings, found.password_hash) else None)
    outcome = await in_transaction(engine, lambda s: _finish(
        s, settings, found, key, step, private_key, new_hash, now))
    if isinstance(outcome, str):
        raise await _fail(engine, found, outcome, now)
    limits.give_back_client(client)
    return outcome


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
        _touch_later(session, row.id, now)
    return row, user


def _touch_later(session: Session, session_id: uuid.UUID, now: datetime) -> None:
    """Mark the session used, after the request's transaction (api/core/touch.py): never
    with the request, where the row stayed locked, and every other request carrying
    the same token waited, until the commit."""
    table = StaffSession.__table__  # type: ignore[attr-defined]

    def work(engine: Engine) -> None:
        touch_if_stale(engine, table, "last_seen_at", session_id, now, TOUCH_EVERY)

    after_outcome(session, work)


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


@redacting(lambda c: f"user={c.username!r}, hash={REDACTED}, key={REDACTED}")
@dataclass(frozen=True)
class _Changing:
    user_id: uuid.UUID
    username: str
    password_hash: str
    sealed_private_key: bytes


def _begin_change(session: Session, backoff: throttle.Backoff, settings: Settings,
                  user_id: uuid.UUID, current: str, new: str, now: datetime) -> _Changing:
    user = repository.get_staff(session, user_id)
    if user is None:
        raise unauthorized("This account no longer exists. Please sign in again.")
    # The cheap refusals first: they need no Argon2 and count no attempt.
    if new == current:
        raise InvalidInput("The new password must differ from the current one.")
    passwords.check_password_policy(new, user.username)
    # A stolen session must not become an unthrottled password oracle: the attempt is
    # counted against the account before the current password is checked.
    throttle.take_account(session, throttle.account_key(settings, user.username), now, backoff)
    return _Changing(user.id, user.username, user.password_hash, user.sealed_private_key)


def _finish_change(session: Session, settings: Settings, changing: _Changing,
                   sealed: bytes, new_hash: str, now: datetime) -> int:
    user = repository.get_staff(session, changing.user_id, for_update=True)
    if user is None or user.password_hash != changing.password_hash:
        raise Conflict("Your password was changed at the same time from another session. "
                       "Sign in again with the new password.")
    user.sealed_private_key = sealed
    user.password_hash = new_hash
    user.password_changed_at = now
    session.add(user)
    throttle.give_back_account(session, throttle.account_key(settings, user.username))
    ended = repository.revoke_sessions(session, user.id, now, "password_change")
    session.flush()
    record(session, action=actions.PASSWORD_CHANGED, actor_id=user.id, target=user.username,
           details={"sessions_ended": ended}, now=now)
    return ended


async def change_password(
    engine: Engine, settings: Settings, limits: SignInThrottle, user_id: uuid.UUID, *,
    current: str, new: str, now: datetime,
) -> int:
    """Re-seal the private key under the new password and end every session (in steps,
    like :func:`sign_in`: no transaction is open while Argon2 runs)."""
    changing = await in_transaction(engine, lambda s: _begin_change(
        s, limits.accounts, settings, user_id, current, new, now))
    if not await run_argon2(settings, passwords.verify_password, settings,
                            changing.password_hash, current,
                            priority=Priority.STAFF):
        # Counted in _begin_change already; nothing to write.
        raise InvalidInput("The current password is not right.", details={"fields": [
            {"path": "current_password", "message": "not right", "type": "wrong_password"}]})
    key = throttle.account_key(settings, changing.username)
    try:
        sealed = await run_argon2(settings, reseal_private_key, changing.sealed_private_key,
                                  current, new, passwords.kdf_params(settings),
                                  priority=Priority.STAFF)
    except CryptoError:
        await in_transaction(engine, lambda s: throttle.give_back_account(s, key))
        # Login hash and sealed key disagree: never write a key nobody can open.
        raise InvalidInput("The current password does not open your key; ask an admin.") \
            from None
    new_hash = await run_argon2(settings, passwords.hash_password, settings, new,
                                priority=Priority.STAFF)
    return await in_transaction(engine, lambda s: _finish_change(
        s, settings, changing, sealed, new_hash, now))
