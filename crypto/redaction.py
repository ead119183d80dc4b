"""Reprs of values that hold a secret: one decorator, so no such type writes its own.

A key, a receipt, a session token or a one-time secret must not reach a log line, an
exception message or a template by way of ``repr()``, ``str()`` or an f-string. A class
decorated with :func:`redacting` says once what its repr may show; ``str`` is the same
text, never the default that some types would fill with their fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["REDACTED", "SHOWN_ONCE", "redacting"]

# What stands where a secret would: kept, but never shown.
REDACTED = "<redacted>"
# A secret handed out once (a new API key, a TOTP set-up link) and not kept in plaintext.
SHOWN_ONCE = "<shown once>"

_C = TypeVar("_C", bound=type)


def redacting(shown: Callable[[Any], str]) -> Callable[[_C], _C]:
    """Class decorator: ``repr`` and ``str`` are ``TypeName(<shown(self)>)``.

    ``shown`` names only what may be seen (ids, a public lookup, a username) and puts
    :data:`REDACTED` or :data:`SHOWN_ONCE` in place of each secret. The type's own name
    is used, so subclasses are named as themselves. Put it above ``@dataclass``, which
    would otherwise write a repr of every field.
    """

    def render(self: object) -> str:
        return f"{type(self).__name__}({shown(self)})"

    def decorate(cls: _C) -> _C:
        for name in ("__repr__", "__str__"):
            setattr(cls, name, render)
        return cls

    return decorate
