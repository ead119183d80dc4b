"""Creating and administering staff accounts (used by the admin API and the CLI).

Every change is audited. ``Actor`` says who did it: a signed-in admin or the command
line (whoever runs ``dokaz`` on the server).

Lost passwords: the private key is sealed under the password and the recovery key opens
cases, not private keys, so a password cannot be "recovered". An admin runs
``dokaz users reset-password`` (new password, new key pair; the old wraps are deleted as
nobody can open them any more) and then re-grants the person's cases with
``dokaz keys grant``, which needs the offline recovery key.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.audit import actions
from api.audit.service import record
from api.auth import passwords, repository, totp
from api.auth.models import StaffUser
from api.auth.roles import ACCOUNT_ROLES, INTAKE_ROLES, Role
from api.core.errors import Conflict, InvalidInput, found
from api.core.settings import Settings
from crypto.keys import StaffKeyPair
from crypto.redaction import SHOWN_ONCE, redacting
from crypto.staff_keys import seal_private_key

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


@dataclass(frozen=True)
class Actor:
    kind: str  # "staff" or "cli"
    id: uuid.UUID | None = None


CLI = Actor("cli")


@redacting(lambda t: f"user={t.user.username!r}, provisioning_uri={SHOWN_ONCE}")
@dataclass(frozen=True)
class NewTotp:
    user: StaffUser
    provisioning_uri: str


def _audit(session: Session, actor: Actor, action: str, user: StaffUser, **details: object) -> None:
    record(session, action=action, actor_id=actor.id, actor_kind=actor.kind,
           target=user.username, details={"user_id": str(user.id), **details})  # type: ignore[dict-item]


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise InvalidInput(
            "Usernames are 3 to 64 characters: Latin letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _new_totp(settings: Settings, user: StaffUser) -> str:
    secret = totp.new_secret()
    user.totp_secret = totp.seal_secret(settings, user.id, secret)
    user.totp_last_step = 0
    return totp.provisioning_uri(secret, user.username)


def _set_password_and_keys(
    settings: Settings, user: StaffUser, password: str, now: datetime
) -> None:
    pair = StaffKeyPair.generate()
    params = passwords.kdf_params(settings)
    user.public_key = pair.public_bytes
    user.sealed_private_key = seal_private_key(pair.private_bytes, password, params)
    user.password_hash = passwords.hash_password(settings, password)
    user.password_changed_at = now


def create_user(
    session: Session, settings: Settings, *, username: str, role: Role | str, password: str,
    actor: Actor, now: datetime, on_intake_duty: bool = False,
) -> NewTotp:
    """Create an account with a fresh key pair; return it with the TOTP URI (show once).

    This executes directly. Made on the server's shell (actor "cli", host access) the
    account is an approved reader at once; made by a signed-in admin it is not, and the
    admin API goes through ``api.approvals.service.create_account`` instead, which turns
    a coordinator role and intake duty into requests a second person must approve.
    """
    role = Role(role)
    if role not in ACCOUNT_ROLES:
        raise InvalidInput("Partners use API keys, not accounts.")
    name = normalise_username(username)
    passwords.check_password_policy(password, name)
    if on_intake_duty and role not in INTAKE_ROLES:
        raise InvalidInput("Only coordinators and caseworkers can be on intake duty.")
    if repository.get_by_username(session, name) is not None:
        raise Conflict("That username is taken.")
    user = StaffUser(id=uuid.uuid4(), username=name, role=role.value, password_hash="",
                     public_key=b"", sealed_private_key=b"", on_intake_duty=on_intake_duty,
                     created_at=now,
                     reader_approved_on=now.date() if actor.kind == "cli" else None)
    _set_password_and_keys(settings, user, password, now)
    uri = _new_totp(settings, user)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("That username is taken.") from None
    _audit(session, actor, actions.USER_CREATED, user, role=role.value,
           on_intake_duty=on_intake_duty)
    return NewTotp(user, uri)


def require_user(session: Session, user_id: uuid.UUID) -> StaffUser:
    return found(repository.get_staff(session, user_id), "No such user.")


def require_username(session: Session, username: str) -> StaffUser:
    return found(repository.get_by_username(session, username),
                 f"No user called {username.strip().lower()!r}.")


def _keep_an_admin(session: Session, user: StaffUser) -> None:
    if user.role == Role.ADMIN and user.disabled_at is None and \
            repository.count_active_admins(session) <= 1:
        raise Conflict("This is the last active admin; create another admin first.")


def disable_user(session: Session, user: StaffUser, *, actor: Actor, now: datetime) -> StaffUser:
    if user.disabled_at is None:
        _keep_an_admin(session, user)
        user.disabled_at = now
        ended = repository.revoke_sessions(session, user.id, now, "disabled")
        session.add(user)
        session.flush()
        _audit(session, actor, actions.USER_DISABLED, user, sessions_ended=ended)
    return user


def enable_user(session: Session, user: StaffUser, *, actor: Actor, now: datetime) -> StaffUser:
    if user.disabled_at is not None:
        user.disabled_at = None
        session.add(user)
        session.flush()
        _audit(session, actor, actions.USER_ENABLED, user)
    return user


def set_role(session: Session, user: StaffUser, role: Role | str, *, actor: Actor) -> StaffUser:
    """Change a role now. Callers: the CLI, and api.approvals (the API asks it first)."""
    new_role = Role(role)
    if new_role not in ACCOUNT_ROLES:
        raise InvalidInput("Partners use API keys, not accounts.")
    if new_role.value == user.role:
        return user
    if new_role != Role.ADMIN:
        _keep_an_admin(session, user)
    old = user.role
    user.role = new_role.value
    if new_role not in INTAKE_ROLES:
        user.on_intake_duty = False
    session.add(user)
    session.flush()
    _audit(session, actor, actions.ROLE_CHANGE, user, old_role=old, new_role=new_role.value)
    return user


def set_intake_duty(session: Session, user: StaffUser, on_duty: bool, *, actor: Actor) -> StaffUser:
    """Change duty now. Callers: the CLI, and api.approvals (the API asks it first)."""
    if on_duty and Role(user.role) not in INTAKE_ROLES:
        raise InvalidInput("Only coordinators and caseworkers can be on intake duty.")
    if user.on_intake_duty != on_duty:
        user.on_intake_duty = on_duty
        session.add(user)
        session.flush()
        _audit(session, actor, actions.INTAKE_DUTY_CHANGED, user, on_intake_duty=on_duty)
    return user


def set_language(session: Session, user: StaffUser, language: str | None) -> StaffUser:
    """The account's console language (one of ``languages``, or None for the browser's).

    A preference of the person themselves, so not audited: it changes no one's access."""
    if user.language != language:
        user.language = language
        session.add(user)
        session.flush()
    return user


def adopt_language(session: Session, user_id: uuid.UUID, language: str) -> None:
    """The language someone signed in with becomes theirs, unless they chose one already."""
    user = require_user(session, user_id)
    if user.language is None:
        set_language(session, user, language)


def reset_totp(
    session: Session, settings: Settings, user: StaffUser, *, actor: Actor, now: datetime
) -> NewTotp:
    """New TOTP secret (lost phone); ends the person's sessions."""
    uri = _new_totp(settings, user)
    ended = repository.revoke_sessions(session, user.id, now, "totp_reset")
    session.add(user)
    session.flush()
    _audit(session, actor, actions.TOTP_RESET, user, sessions_ended=ended)
    return NewTotp(user, uri)


def revoke_user_sessions(session: Session, user: StaffUser, *, actor: Actor, now: datetime) -> int:
    ended = repository.revoke_sessions(session, user.id, now, "admin")
    _audit(session, actor, actions.SESSION_REVOKED, user, sessions_ended=ended)
    return ended


def reset_password(
    session: Session, settings: Settings, user: StaffUser, password: str, *,
    actor: Actor, now: datetime,
) -> int:
    """Forgotten password: new password AND new key pair. Returns the wraps dropped.

    The old private key is sealed under the forgotten password, so the case keys wrapped
    to it are unreachable; they are deleted and must be re-granted with ``dokaz keys
    grant`` (which needs the offline recovery key).
    """
    from api.keys.service import drop_wraps_of_recipient

    passwords.check_password_policy(password, user.username)
    _set_password_and_keys(settings, user, password, now)
    ended = repository.revoke_sessions(session, user.id, now, "password_reset")
    dropped = drop_wraps_of_recipient(session, user.id)
    session.add(user)
    session.flush()
    _audit(session, actor, actions.PASSWORD_RESET, user, sessions_ended=ended,
           wraps_dropped=dropped)
    if dropped:
        _audit(session, actor, actions.KEY_REVOKE, user, wraps=dropped, reason="password_reset")
    return dropped
