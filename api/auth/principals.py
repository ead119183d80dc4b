"""Who is calling, as plain values: a signed-in staff member or a partner's API key.

Kept apart from :mod:`api.auth.dependencies` (which reads them from a request) so that
services can take a principal without importing the web framework.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from api.auth import login as login_service
from api.auth.roles import Role
from crypto.staff_keys import decrypt_for_session


@dataclass(frozen=True)
class Principal:
    """A signed-in staff member (admin, coordinator, caseworker or lawyer) for one request.

    Holds the request's bearer token and the session's encrypted private key, both hidden
    from ``repr`` and comparisons; ``private_key()`` decrypts the key on demand.
    """

    user_id: uuid.UUID
    username: str
    role: Role
    session_id: uuid.UUID
    _token: str = field(default="", repr=False, compare=False)
    _session_key: bytes | None = field(default=None, repr=False, compare=False)

    def private_key(self) -> bytes:
        """The staff X25519 private key (32 bytes). Do not store or log it."""
        if self._session_key is None or not self._token:
            raise login_service.unauthorized("This session holds no key. Please sign in again.")
        return decrypt_for_session(self._session_key, self._token, str(self.session_id))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Principal cannot be pickled: it carries a session token")


@dataclass(frozen=True)
class PartnerPrincipal:
    partner_id: uuid.UUID
    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]
