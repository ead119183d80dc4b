"""Structured logging that cannot carry a client's IP address or user agent.

Two layers keep submitters unidentifiable in logs:
1. ``api.core.privacy.ClientAnonymityMiddleware`` removes the peer address and the
   identifying headers from the request before any route, dependency or log call sees them.
2. ``ClientIdentityFilter`` sits on every handler and scrubs IP addresses and user-agent
   strings from any record that still mentions one (uvicorn's own loggers included), and
   uvicorn's access log is replaced by ``dokaz.access``, which logs route, status and time.

Requests are named by their route template (``/api/v1/uploads/{token}``), never by the
concrete path: paths carry capabilities (a tus upload's secret, ids), and a log line is
one more copy of them on the server the threat model assumes seized.

And one keeps them from being dated (threat model property 13): every record emitted while
a public request is handled (the access line, intake's own lines, anything) carries a time
cut to the minute, so an ISP's record of who reached Tor when cannot be matched to a log
line to the second. Staff routes (``STAFF_PATH_PREFIXES``) keep exact times.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b")
# IPv6: either compressed ("::") or all eight groups, so clock times like 01:33:06 survive.
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){1,7}:(?:[0-9a-fA-F]{0,4}:?){0,7}[0-9a-fA-F]{0,4}(?![\w:])"
    r"|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])"
)
_UA = re.compile(
    r"(?i)(\b(?:user[-_ ]?agent|ua)[\"']?\s*[:=]\s*[\"']?)[^\"',}\n]*|"
    r"\b(?:Mozilla|Opera|curl|Wget|python-httpx|python-requests|okhttp|Dalvik)/[^\s\"']*"
    r"(?:\s+\([^)]*\))?(?:\s+[A-Za-z]+/[^\s\"']*)*"
)
REDACTED = "[redacted]"
UNMATCHED_ROUTE = "(unmatched)"

# Attributes of LogRecord that are not "extra" fields.
_STANDARD_ATTRS = set(
    vars(logging.LogRecord("x", 0, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's template for a log line, or a fixed placeholder: never the path."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else UNMATCHED_ROUTE
# Paths served to staff, partners and admins only; every other path is public (default:
# coarse), so a new public route cannot forget to be.
STAFF_PATH_PREFIXES = (
    "/api/v1/cases", "/api/v1/admin", "/api/v1/auth", "/api/v1/stats", "/api/v1/partner",
    "/api/v1/approvals", "/staff",
)
_coarse_times: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dokaz_coarse_log_times", default=False)


def is_staff_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in STAFF_PATH_PREFIXES)


def coarse_times_for(path: str) -> contextvars.Token[bool]:
    """Enter a request: its records get minute-precision times unless it is a staff path.
    Pass the returned token to :func:`end_coarse_times` when the request is done."""
    return _coarse_times.set(not is_staff_path(path))


def end_coarse_times(token: contextvars.Token[bool]) -> None:
    _coarse_times.reset(token)


def _minute(record: logging.LogRecord) -> None:
    start = record.created - record.relativeCreated / 1000
    record.created = float(int(record.created) // 60 * 60)
    record.msecs = 0.0
    record.relativeCreated = (record.created - start) * 1000


_base_factory: Callable[..., logging.LogRecord] | None = None


def install_coarse_record_times() -> None:
    """Wrap the log record factory once, so every record made during a public request
    (whichever logger or handler, uvicorn's and test captures included) is coarse."""
    global _base_factory
    if _base_factory is not None:
        return
    base = _base_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if _coarse_times.get():
            _minute(record)
        return record

    logging.setLogRecordFactory(factory)


def scrub(text: str) -> str:
    text = _IPV4.sub(REDACTED, text)
    text = _IPV6.sub(REDACTED, text)
    return _UA.sub(lambda m: (m.group(1) or "") + REDACTED, text)


# uvicorn's "listening on" lines, exactly as uvicorn (0.30 to 0.38) writes them. Their
# arguments are the server's own bound address (its config or its socket's name), which
# no client has: an operator needs to see it, so these are the only records whose address
# is kept. Matched on the template, so no client-supplied text can ask for the exemption.
_OWN_ADDRESS_TEMPLATES = frozenset({
    "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
    "Uvicorn running on %s://[%s]:%d (Press CTRL+C to quit)",
    "Uvicorn running on unix socket %s (Press CTRL+C to quit)",
    "Uvicorn running on socket %s (Press CTRL+C to quit)",
})
_OWN_ADDRESS = "_dokaz_own_address"

# Libraries whose INFO lines say nothing an operator acts on (Alembic's plugin set-up and
# "Context impl", httpx's line per request, ...): kept for DEBUG, quiet at INFO.
NOISY_LIBRARIES = ("alembic", "httpx", "httpcore", "botocore", "boto3", "s3transfer",
                   "urllib3", "multipart", "python_multipart")


class ClientIdentityFilter(logging.Filter):
    """Rewrites every record so no IP address or user agent survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _OWN_ADDRESS, False):  # the logger's filter saw it first
            return True
        own_address = (record.name.startswith("uvicorn")
                       and record.msg in _OWN_ADDRESS_TEMPLATES)
        try:
            message = record.getMessage()
        except Exception:  # a malformed %-format must not take logging down
            message = str(record.msg)
            own_address = False
        record.msg = message if own_address else scrub(message)
        record.args = None
        if own_address:
            setattr(record, _OWN_ADDRESS, True)
        # uvicorn's copy of its message with terminal colours: ours is the message.
        record.__dict__.pop("color_message", None)
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS:
                continue
            if key.lower() in {"client", "client_addr", "remote_addr", "ip", "user_agent"}:
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, scrub(value))
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            # Type only: exception messages and frames can hold protected values.
            payload["error_type"] = record.exc_info[0].__name__
        return _scrub_line(record, json.dumps(payload, ensure_ascii=False))


def _scrub_line(record: logging.LogRecord, line: str) -> str:
    """The formatted line scrubbed once more, except the server's own "listening on" line
    (see ``_OWN_ADDRESS_TEMPLATES``): it carries no extras and no client data."""
    return line if getattr(record, _OWN_ADDRESS, False) else scrub(line)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")
        )
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            line += f" error_type={record.exc_info[0].__name__}"
        return _scrub_line(record, line + (" " + extras if extras else ""))


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    install_coarse_record_times()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ClientIdentityFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.DEBUG if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
        lg.addFilter(ClientIdentityFilter())
    # uvicorn's access log prints the peer address; ours prints route, status and time.
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_log_config() -> dict[str, Any]:
    """Tell uvicorn to leave logging to us (it would install its own handlers)."""
    return {"version": 1, "disable_existing_loggers": False}
