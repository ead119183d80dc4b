"""The OpenAPI document, complete: every ``$ref`` in it resolves.

FastAPI puts a model under ``components/schemas`` only when a route takes or returns it
as a parameter. The public doors read their bodies themselves (``api/ingress``: limits
enforced while bytes arrive), so their body models appear in no signature and a
hand-written ``requestBody`` that names one pointed at nothing. A route names such a
model through :func:`body_schema_ref`; :func:`add_body_models` then adds the models the
document refers to, with their nested models, next to the ones FastAPI generated
(``api/app.py`` applies it to the document it serves).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

REF_PREFIX = "#/components/schemas/"

# Models named by body_schema_ref, by component name. Filled at import time of the
# routers (module constants), read when a document is built.
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def body_schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A ``$ref`` to ``model`` for a hand-written ``openapi_extra``; the document built by
    :func:`add_body_models` will add the model to the document."""
    name = model.__name__
    known = _BODY_MODELS.setdefault(name, model)
    if known is not model:
        raise RuntimeError(f"two body models are documented as {name!r}")
    return {"$ref": REF_PREFIX + name}


def refs_in(node: Any) -> Iterator[str]:
    """Every ``$ref`` value anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def add_body_models(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (FastAPI's document) with the body models its paths refer to added under
    ``components/schemas``, with their nested models. Once per document: a second pass
    would find its own renamed models and take them for clashes."""
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    refs = set(refs_in(doc.get("paths", {})))
    for name, model in _BODY_MODELS.items():
        if REF_PREFIX + name in refs:
            _add_model(schemas, name, model)
    return doc


def _add_model(schemas: dict[str, Any], name: str, model: type[BaseModel]) -> None:
    # Validation mode: a request body, described as a client must send it.
    top = model.model_json_schema(ref_template=REF_PREFIX + "{model}", mode="validation")
    defs: dict[str, Any] = top.pop("$defs", {})
    # A nested model may share its name with another model of the API (intake's Person
    # and the case metadata's are not the same shape): it is then named after the body.
    renamed = {n: f"{name}.{n}" for n, schema in defs.items()
               if schemas.get(n, schema) != schema}
    if name in schemas and schemas[name] != top:
        raise RuntimeError(f"the OpenAPI component {name!r} has two shapes")
    for n, schema in [(name, top), *defs.items()]:
        schemas[renamed.get(n, n)] = _rename_refs(schema, renamed)


def _rename_refs(node: Any, renamed: dict[str, str]) -> Any:
    if not renamed:
        return node
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target = value.removeprefix(REF_PREFIX)
                out[key] = REF_PREFIX + renamed.get(target, target)
            else:
                out[key] = _rename_refs(value, renamed)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renamed) for item in node]
    return node
