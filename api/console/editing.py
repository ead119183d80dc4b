"""Saving one section of a case's metadata from a console form, and the two versions a
colleague's save in between leaves to compare.

Every editor (persons, acts, interventions) saves through the API's own metadata edit
(``api.cases.service.edit_metadata``) with the case version its form was opened at. A
form from an older version is never saved over a colleague's: the editor comes back with
both versions, theirs as stored now and the one just sent, so the person who knows why
merges them. This module holds that one mechanism; the editors only say what they send.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from api.auth.principals import Principal
from api.cases import service as cases_service
from api.cases.metadata.document import MetadataPatch
from api.cases.schemas import CaseDetail
from api.core.errors import InvalidInput, PreconditionFailed
from api.core.settings import Settings

# Containers in a validation error's location: the field is the innermost name that is not
# one of them (the form's own field names match the document's).
_CONTAINERS = frozenset({"acts", "interventions", "private", "detention", "torture",
                         "disappearance", "perpetrators", "method_details", "trial",
                         "appeals", "remedies", "evidence", "steps_taken"})
# Not shown in a comparison: ids name nothing to merge, provenance is read-only.
_NOT_COMPARED = frozenset({"id", "provenance", "wgeid_urgent"})


@dataclass(frozen=True)
class Refused:
    """Why a form was not saved: 409, a colleague saved first; 422, ``errors`` are wrong
    (``problem``: the service's own refusal, in its words, when it was the service that
    refused a valid document)."""

    status_code: int
    errors: list[str] = field(default_factory=list)
    problem: str = ""


FieldsOf = Callable[[ValidationError], list[str]]


def save_section(session: Session, principal: Principal, detail: CaseDetail, version: str,
                 section: str, items: list[dict[str, Any]], settings: Settings, *,
                 fields_of: FieldsOf | None = None,
                 refused_field: Callable[[InvalidInput], str] | None = None,
                 ) -> Refused | None:
    """Replace ``section`` of the case with ``items``, if the form's ``version`` is the
    case's; ``None`` when saved. The caller renders a refusal (and commits the audited
    read: nothing else changed).

    ``fields_of`` names the form's fields a refused document is wrong in (by default the
    innermost name of each error, :func:`field_errors`). ``refused_field``: the form's
    field a refusal of the service itself is about; without it such a refusal is raised
    (rendered as a page in one place, like any domain error). With it, what the service
    wrote before refusing is rolled back and the case must be read again by the caller."""
    if not version.isdigit() or int(version) != detail.version:
        return Refused(409)
    try:
        patch = MetadataPatch.model_validate({section: items})
    except ValidationError as exc:
        return Refused(422, fields_of(exc) if fields_of else field_errors(exc, section))
    try:
        cases_service.edit_metadata(session, principal, detail.id, patch, int(version),
                                    settings)
    except PreconditionFailed:  # saved between our read and our lock
        return Refused(409)
    except InvalidInput as exc:
        if refused_field is None:
            raise
        session.rollback()
        return Refused(422, [refused_field(exc)], problem=exc.message)
    return None


def field_errors(exc: ValidationError, section: str) -> list[str]:
    """Which fields of the form are wrong (the form's own field names, never the input);
    the item as a whole ("act", "intervention") when no one field is."""
    item = section.removesuffix("s")
    out = set()
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        out.add(next((p for p in reversed(loc) if p not in _CONTAINERS), item))
    return sorted(out)


@dataclass(frozen=True)
class Difference:
    """One field the two versions disagree on: ``name`` is its label's key, ``path``
    where it is in the item (``detention.court_type``, ``perpetrators.2.degree``)."""

    name: str
    path: str
    theirs: str
    mine: str


def differences(theirs: Mapping[str, Any], mine: Mapping[str, Any]) -> list[Difference]:
    """The fields whose values differ between two versions of one item, flattened."""
    a, b = dict(_flatten(theirs)), dict(_flatten(mine))
    out = []
    for path in sorted(a.keys() | b.keys()):
        left, right = a.get(path, ""), b.get(path, "")
        if left != right:
            name = next(p for p in reversed(path.split(".")) if not p.isdigit())
            out.append(Difference(name, path, left, right))
    return out


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _NOT_COMPARED:
                yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        for n, item in enumerate(value, start=1):
            yield from _flatten(item, f"{prefix}.{n}")
    elif isinstance(value, bool):
        yield prefix, "✓" if value else "✗"
    elif value is not None and value != "" and value != []:
        yield prefix, ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def stored_id(value: str, known: Iterable[uuid.UUID | None]) -> str | None:
    """A posted row id, only if it is one of the stored rows' (a new row gets a new id:
    a form never chooses the id of a row that is not already the item's)."""
    return value if value and value in {str(k) for k in known if k} else None
