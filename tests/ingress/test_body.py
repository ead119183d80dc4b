"""Body reading without a request: which kind a body is, a JSON body within its limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import BaseModel

from api.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from api.ingress.body import BodyKind, InvalidJson, body_kind, parse_json_model, read_json_body


class _Doc(BaseModel):
    text: str


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(("header", "kind"), [
    ("application/json", BodyKind.JSON),
    ("Application/JSON; charset=utf-8", BodyKind.JSON),
    ("multipart/form-data; boundary=abc", BodyKind.MULTIPART),
])
def test_body_kind(header: str, kind: BodyKind) -> None:
    assert body_kind(header, "say how") is kind


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/x-www-form-urlencoded"])
def test_other_kinds_get_the_doors_own_415(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="say how"):
        body_kind(header, "say how")


def test_json_body_is_bounded_while_it_arrives() -> None:
    assert anyio.run(read_json_body, _chunks(b'{"te', b'xt": "a"}'), 20) == b'{"text": "a"}'
    with pytest.raises(PayloadTooLarge, match="for its text"):
        anyio.run(read_json_body, _chunks(b"x" * 15, b"x" * 15), 20)


def test_json_model_errors() -> None:
    assert parse_json_model(b'{"text": "a"}', _Doc).text == "a"
    for raw, phrase in ((b"  ", "empty"), (b"\xff", "UTF-8"), (b"{", "not valid JSON")):
        with pytest.raises(InvalidJson, match=phrase):
            parse_json_model(raw, _Doc)
    with pytest.raises(InvalidInput) as caught:
        parse_json_model(b'{"text": 5, "secret": "canary"}', _Doc)
    assert "canary" not in str(caught.value.details)
