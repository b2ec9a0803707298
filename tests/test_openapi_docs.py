"""The OpenAPI document is complete enough for a field coordinator to try every operation
from /docs: each says what it does, belongs to a tag group, answers with a described body
and an example of it, takes an example body, explains every parameter and lists its errors.

The document is built from the app itself (no server needed: building the app opens no
connection), and every gap is listed at once, so the failure is a to-do list.
"""

from __future__ import annotations

from typing import Any

import pytest

from survey.config import Settings

JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")
METHODS = ("get", "put", "post", "delete", "patch")
NO_BODY = ("204", "304")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from api.app import create_app

    # create_app opens its pool in the lifespan only: this database is never reached
    app = create_app(Settings(database_url="postgresql://127.0.0.1:1/unused"))
    return app.openapi()


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _is_json(media_type: str) -> bool:
    return media_type in JSON_TYPES or media_type.split(";")[0].endswith("+json")


def exemplified(schema: dict[str, Any] | None, document: dict[str, Any],
                seen: frozenset[str] = frozenset()) -> bool:
    """Whether Swagger UI can show a realistic example of `schema`: the schema (or what it
    refers to) carries `example`/`examples`, or it is an object each of whose properties
    does, or an enum, a default, a constant or a file."""
    if not schema:
        return False
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:  # a recursive schema: the outer level decides
            return True
        return exemplified(_resolve(schema, document), document, seen | {ref})
    if any(key in schema for key in ("example", "examples", "enum", "const", "default")):
        return True
    if schema.get("format") == "binary" or "contentMediaType" in schema:
        return True  # a file: Swagger UI offers a file picker
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"]
            return bool(branches) and all(exemplified(b, document, seen) for b in branches)
    if "allOf" in schema:
        return all(exemplified(b, document, seen) for b in schema["allOf"])
    if schema.get("type") == "array":
        return exemplified(schema.get("items"), document, seen)
    properties = schema.get("properties")
    if properties:
        return all(exemplified(p, document, seen) for p in properties.values())
    return schema.get("type") == "boolean"


def _media_example(media: dict[str, Any], document: dict[str, Any]) -> bool:
    return "example" in media or "examples" in media or exemplified(media.get("schema"),
                                                                        document)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def gaps_of(path: str, method: str, operation: dict[str, Any],
            document: dict[str, Any]) -> list[str]:
    """What `operation` lacks for a reader of /docs, one line a gap."""
    gaps: list[str] = []
    if not (operation.get("description") or "").strip():
        gaps.append("no description (a one-line route docstring)")
    if not operation.get("tags"):
        gaps.append("no tags")
    responses = operation.get("responses", {})
    ok = {code: r for code, r in responses.items() if code.startswith("2")}
    if not ok:
        gaps.append("no documented 2xx response")
    for code, response in ok.items():
        if code in NO_BODY:
            continue
        content = response.get("content") or {}
        if not content:
            gaps.append(f"{code}: no content type")
        for media_type, media in content.items():
            schema = media.get("schema")
            if _is_json(media_type):
                if not schema:
                    gaps.append(f"{code} {media_type}: no schema (response model)")
                elif not _media_example(media, document):
                    gaps.append(f"{code} {media_type}: no example")
            elif not schema and not (media.get("description") or "").strip():
                gaps.append(f"{code} {media_type}: neither schema nor description")
    body = operation.get("requestBody")
    if body is not None:
        for media_type, media in body.get("content", {}).items():
            if not media.get("schema"):
                gaps.append(f"request {media_type}: no schema")
            elif not _media_example(media, document):
                gaps.append(f"request {media_type}: no example")
    for parameter in operation.get("parameters", []):
        if parameter["in"] in ("path", "query", "header") and not parameter.get("description"):
            gaps.append(f"{parameter['in']} parameter {parameter['name']!r}: no description")
    problems = [code for code, r in responses.items() if code[0] in "45"
                and "application/problem+json" in (r.get("content") or {})]
    if not problems:
        gaps.append("no documented error response")
    return [f"{method.upper()} {path}: {gap}" for gap in gaps]


def test_every_operation_is_documented_for_a_coordinator(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) > 100  # the record API, OGC API, tiles and reports are all there
    gaps = [gap for path, method, operation in operations
            for gap in gaps_of(path, method, operation, document)]
    assert not gaps, f"{len(gaps)} gaps in the OpenAPI document:\n" + "\n".join(gaps)


def test_every_tag_group_is_described(document: dict[str, Any]) -> None:
    used = {tag for _, _, operation in _operations(document) for tag in operation["tags"]}
    described = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    missing = sorted(tag for tag in used if not described.get(tag))
    assert not missing, f"tags without a description: {missing}"
    assert not set(described) - used, "a described tag no operation uses"


def test_the_checker_finds_what_is_missing(document: dict[str, Any]) -> None:
    bare = {"responses": {"200": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"local_id": {"type": "string"}}}}}}},
            "parameters": [{"in": "query", "name": "bbox", "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}
    gaps = gaps_of("/x", "post", bare, document)
    assert [gap.split(": ", 1)[1] for gap in gaps] == [
        "no description (a one-line route docstring)", "no tags",
        "200 application/json: no example", "request application/json: no example",
        "query parameter 'bbox': no description", "no documented error response"]
    described = {"type": "object", "properties": {"local_id": {
        "type": "string", "examples": ["UA-KH-000123"]}}}
    assert exemplified(described, document)
    assert exemplified({"anyOf": [described, {"type": "null"}]}, document)
    assert not exemplified({"type": "array", "items": {"type": "string"}}, document)


def _models() -> list[type[Any]]:
    import importlib
    import pkgutil

    from pydantic import BaseModel

    import api

    found: dict[str, type[Any]] = {}
    for module_info in pkgutil.walk_packages(api.__path__, "api."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseModel)
                    and value.__module__ == module.__name__):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_model_examples_are_valid_records() -> None:
    """An example a coordinator copies from /docs is one the API accepts or gives."""
    wrong: list[str] = []
    checked = 0
    for model in _models():
        extra = model.model_config.get("json_schema_extra")
        examples = extra.get("examples", []) if isinstance(extra, dict) else []
        for example in examples:
            checked += 1
            try:
                model.model_validate(example)
            except ValueError as exc:
                wrong.append(f"{model.__module__}.{model.__qualname__}: {exc}")
    assert checked > 20
    assert not wrong, "\n".join(wrong)
