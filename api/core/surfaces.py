"""The two surfaces ``dokaz serve`` can listen on, and who a client is on each.

With ``DOKAZ_STAFF_PORT`` set the service listens twice: the public surface (the form,
intake, uploads, follow-up, vocabularies) on ``DOKAZ_PORT`` and the staff surface
(sign-in, cases, administration, partner statistics) on the staff port, each a separate
app that answers 404 for the other's routes. Unset, one app serves :attr:`Surface.ALL`.
Which router belongs to which surface is declared once, in :mod:`api.app`.

The public port may sit behind Tor's onion service with a PROXY protocol header on every
connection; the staff port is a second onion service that sends none (see
docs/deployment-tor.md), so its clients are told apart by address.
"""

from __future__ import annotations

from enum import Enum

from api.core.settings import ClientIdentitySetting, Settings


class Surface(Enum):
    """Where a router is served, or which routers an app serves: ``ALL`` is both (one
    app on one port, or a router such as health that every surface answers)."""

    ALL = "all"
    PUBLIC = "public"
    STAFF = "staff"

    def serves(self, placed: Surface) -> bool:
        """Whether an app of this surface serves a router placed on ``placed``."""
        return Surface.ALL in (self, placed) or self is placed


def client_identity_for(settings: Settings, surface: Surface) -> ClientIdentitySetting:
    """Who one client is on ``surface``: the PROXY protocol belongs to the public port
    only, since the staff onion service writes no header. ``none`` stays ``none``: a
    deployment that hides its clients hides them from both ports."""
    if surface is Surface.STAFF and settings.client_identity == "proxy-protocol":
        return "address"
    return settings.client_identity
