"""Job payloads can hold ids, enums and integers only: no free text is representable."""

from __future__ import annotations

import enum
import typing
import uuid

import pytest
from pydantic import ValidationError

from api.jobs import kinds
from workers.registry import load_builtin_jobs

ALLOWED = (uuid.UUID, int, bool)


def _allowed(annotation: object) -> bool:
    if isinstance(annotation, type):
        return issubclass(annotation, ALLOWED) or issubclass(annotation, enum.Enum)
    args = typing.get_args(annotation)
    return bool(args) and all(a is type(None) or _allowed(a) for a in args)


def test_every_payload_field_is_an_id_enum_or_integer() -> None:
    load_builtin_jobs()
    for kind, model in kinds.PAYLOADS.items():
        assert model.model_config.get("extra") == "forbid", kind
        for name, field in model.model_fields.items():
            assert _allowed(field.annotation), f"{kind}.{name}: {field.annotation}"
            if field.annotation is int:
                assert any(getattr(m, "le", None) for m in field.metadata), f"{kind}.{name}"


def test_every_registered_job_has_a_payload_model() -> None:
    assert set(load_builtin_jobs()) <= set(kinds.PAYLOADS)


@pytest.mark.parametrize("payload", [
    {"case_id": str(uuid.uuid4()), "note": "free text"},
    {"case_id": "Ivan Petrov"},
    {},
])
def test_text_in_a_payload_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        kinds.validate("shred_case", payload)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(kinds.UnknownJobKind):
        kinds.validate("send_narrative", {})
