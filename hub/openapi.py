"""OpenAPI 3.1 documents of the plugins' REST surfaces, made from what a plugin declares anyway:
its routes (method and path, path parameters), the :func:`operation` each handler carries (its
query parameters, body and answers, as typed records or JSON Schema), where its clients present
credentials (``RestApi.presented_in``) and its error shape (``RestApi.render_error``, asked for a
sample). A plugin author writes no document by hand.

Served at ``/<plugin>/openapi.json`` (and ``/openapi.json`` at the root of a plugin's own
listener), with an index at ``/openapi`` and a browsable view at ``/openapi/ui``."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

from hub.caller import Cookie, Header, Query
from hub.errors import HubError
from hub.records import PLAIN, SPEC_KEY, camel

Schema = dict[str, Any]
Shape = type | Schema | None  # a record type (dataclass), a JSON Schema, or no body
OPERATION_ATTR = "__hub_operation__"
PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
STANDARD_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ERROR_STATUSES = (400, 401, 403, 404, 405, 409, 413, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Param:
    """A query, header or cookie parameter (path parameters come from the route itself)."""

    name: str
    schema: Shape = str
    where: Literal["query", "header", "cookie"] = "query"
    required: bool = False
    description: str = ""
    repeated: bool = False  # may be given several times (an array)


@dataclass(frozen=True)
class Operation:
    """What a REST handler takes and answers. ``responses`` maps a status to the body's shape
    (a record type, a JSON Schema, or None for no body); ``errors`` are the statuses answered in
    the plugin's error shape; ``camel_case``: records are rendered with camelCased keys;
    ``security``: which of the plugin's credential forms this route takes (None: all)."""

    summary: str
    params: Sequence[Param] = ()
    body: Shape = None
    body_types: Sequence[str] = ("application/json",)
    body_required: bool = True
    responses: Mapping[int, Shape] = field(default_factory=lambda: {200: None})
    response_type: str = "application/json"
    errors: Sequence[int] = (400, 401)
    camel_case: bool = False
    security: Sequence[str] | None = None
    description: str = ""


def operation(summary: str, **details: Any) -> Callable[[Any], Any]:
    """``@operation("List integration points", params=[...], responses={200: Page})`` on a
    handler: what the plugin's OpenAPI document says of it."""
    described = Operation(summary, **details)

    def mark(handler: Any) -> Any:
        setattr(handler, OPERATION_ATTR, described)
        return handler

    return mark


def described(handler: Any) -> Operation | None:
    return getattr(handler, OPERATION_ATTR, None)


# -- JSON Schema of typed records --------------------------------------------------------------
class Schemas:
    """Component schemas made from record types, each once, referenced by ``$ref``."""

    def __init__(self, camel_case: bool = False) -> None:
        self.components: dict[str, Schema] = {}
        self.camel_case = camel_case

    def of(self, shape: Any, camel_case: bool = False) -> Schema:
        if isinstance(shape, dict):  # a JSON Schema: the record types inside it are made too
            return {key: self._within(value, camel_case) for key, value in shape.items()}
        origin = typing.get_origin(shape)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(shape) if a is not type(None)]
            inner = [self.of(a, camel_case) for a in options]
            nullable = len(options) < len(typing.get_args(shape))
            if len(inner) == 1 and not nullable:
                return inner[0]
            return {"anyOf": inner + ([{"type": "null"}] if nullable else [])}
        if origin in (list, tuple, Sequence, typing.Sequence):
            args: list[Any] = [a for a in typing.get_args(shape) if a is not Ellipsis]
            return {"type": "array", "items": self.of(args[0], camel_case) if args else {}}
        if origin in (dict, Mapping, typing.Mapping):
            pair = typing.get_args(shape)
            values = self.of(pair[1], camel_case) if len(pair) == 2 else {}
            return {"type": "object", "additionalProperties": values}
        if origin is Literal:
            return {"enum": list(typing.get_args(shape))}
        simple = {
            str: {"type": "string"},
            int: {"type": "integer"},
            float: {"type": "number"},
            bool: {"type": "boolean"},
            bytes: {"type": "string"},
            datetime.datetime: {"type": "string", "format": "date-time"},
            Any: {},
            object: {},
        }
        if shape in simple:
            return dict(simple[shape])
        if dataclasses.is_dataclass(shape):
            return self._record(typing.cast(type, shape), camel_case)
        return {}

    def _within(self, value: Any, camel_case: bool) -> Any:
        """A value inside a JSON Schema: a record type (``{"data": Device}``) is its schema."""
        if isinstance(value, list):
            return [self._within(item, camel_case) for item in value]
        if isinstance(value, (dict, type)) or typing.get_origin(value) is not None:
            return self.of(value, camel_case)
        return value

    def _record(self, cls: type, camel_case: bool) -> Schema:
        name = cls.__name__ + ("Camel" if camel_case and not self.camel_case else "")
        if name not in self.components:
            self.components[name] = {}  # a record that contains itself refers to itself
            hints = typing.get_type_hints(cls)
            properties: Schema = {}
            required = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                key = camel(f.name) if camel_case else f.name
                rules = f.metadata.get(SPEC_KEY, PLAIN)
                schema = self.of(hints[f.name], camel_case)
                if rules.flag:
                    schema = {"type": "integer", "enum": [0, 1]}
                properties[key] = schema
                if not rules.omit_none:
                    required.append(key)
            self.components[name] = {
                "type": "object",
                "properties": properties,
                "required": required,
            }
        return {"$ref": f"#/components/schemas/{name}"}


def example_schema(value: Any) -> Schema:
    """The schema of a JSON value by its example: what a plugin's error renderer writes."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {k: example_schema(v) for k, v in value.items()},
            "required": list(value),
        }
    return {}


def error_shape(render: Callable[[HubError], web.Response]) -> tuple[str, Schema]:
    """The media type and schema of the plugin's error body, from one it renders."""
    sample = render(HubError(400, "a message", reason="a_reason", plugin="x"))
    media = sample.content_type or "application/json"
    body = sample.body if isinstance(sample.body, bytes) else b""
    try:
        return media, example_schema(orjson.loads(body))
    except orjson.JSONDecodeError:
        return media, {"type": "string"}


# -- the document -------------------------------------------------------------------------------
def security_schemes(presented_in: Sequence[Any], auth: Sequence[str]) -> dict[str, Schema]:
    """The ways a plugin's REST clients present credentials, as OpenAPI security schemes."""
    schemes: dict[str, Schema] = {}
    for form in presented_in:
        if isinstance(form, Header) and form.name.lower() == "authorization":
            for scheme in auth:
                schemes[scheme] = {"type": "http", "scheme": scheme}
        elif isinstance(form, Header):
            schemes[form.name] = {"type": "apiKey", "in": "header", "name": form.name}
        elif isinstance(form, Query):
            schemes[form.name] = {"type": "apiKey", "in": "query", "name": form.name}
        elif isinstance(form, Cookie):
            schemes[form.name] = {"type": "apiKey", "in": "cookie", "name": form.name}
    return schemes


def document(plugin: str, version: str, api: Any, server: str) -> Schema:
    """The OpenAPI 3.1 document of one plugin's REST surface, served under ``server``."""
    schemas = Schemas()
    error_media, error_schema = error_shape(api.render_error)
    schemas.components["Error"] = error_schema
    schemes = security_schemes(api.presented_in, getattr(api, "auth_schemes", ("bearer",)))
    paths: dict[str, Schema] = {}
    for route in api.routes:
        if not isinstance(route, web.RouteDef) or route.method == "*":
            continue  # "*": a catch-all answering unknown paths and methods, not an operation
        method = route.method.lower()
        described = getattr(route.handler, OPERATION_ATTR, None) or Operation(
            _summary(route.handler)
        )
        path = PATH_PARAM.sub(r"{\1}", route.path)
        item = paths.setdefault(path, {})
        made = _operation(described, route.path, schemas, schemes, error_media)
        if method in STANDARD_METHODS:
            item[method] = made
        else:  # ERA's LOOKUP: OpenAPI 3.1 has no place for it; 3.2 names the place so
            item.setdefault("x-additionalOperations", {})[route.method] = made
    return {
        "openapi": "3.1.0",
        "info": {"title": f"hub: {plugin}", "version": version},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": schemes},
        "security": [{name: []} for name in schemes],
    }


def _summary(handler: Any) -> str:
    """The first line of an undescribed handler's docstring, else its name. A handler may be
    any callable aiohttp takes: a ``functools.partial`` (whose own docstring is partial's), an
    object with ``__call__`` (no ``__name__``), a docstring of white space only."""
    target = handler.func if isinstance(handler, functools.partial) else handler
    lines = (getattr(target, "__doc__", None) or "").strip().splitlines()
    return lines[0] if lines else getattr(target, "__name__", type(target).__name__)


def _operation(
    described: Operation, path: str, schemas: Schemas, schemes: Mapping[str, Schema], error: str
) -> Schema:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAM.findall(path)
    ]
    for param in described.params:
        schema = schemas.of(param.schema, described.camel_case)
        if param.repeated:
            schema = {"type": "array", "items": schema}
        entry: Schema = {"name": param.name, "in": param.where, "schema": schema}
        if param.required:
            entry["required"] = True
        if param.description:
            entry["description"] = param.description
        if param.repeated:
            entry["explode"] = True
        parameters.append(entry)
    out: Schema = {"summary": described.summary, "parameters": parameters, "responses": {}}
    if described.description:
        out["description"] = described.description
    if described.body is not None:
        body_schema = schemas.of(described.body, described.camel_case)
        out["requestBody"] = {
            "required": described.body_required,
            "content": {media: {"schema": body_schema} for media in described.body_types},
        }
    for status, shape in described.responses.items():
        answer: Schema = {"description": _phrase(status)}
        if shape is not None:
            schema = schemas.of(shape, described.camel_case)
            answer["content"] = {described.response_type: {"schema": schema}}
        out["responses"][str(status)] = answer
    for status in sorted(set(described.errors) | {500}):
        out["responses"].setdefault(
            str(status),
            {
                "description": _phrase(status),
                "content": {error: {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
    if described.security is not None:
        out["security"] = [{name: []} for name in described.security if name in schemes]
        if not described.security:
            out["security"] = []
    return out


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return str(status)


# -- serving ---------------------------------------------------------------------------------
def plugin_version(hub: Any, plugin: str) -> str:
    """The document's ``info.version``: the plugin's distribution version ("0" if unknown)."""
    info = hub.plugins.get(plugin)
    return str(getattr(info, "version", None) or "0")


def plugin_routes(hub: Any, plugin: str, api: Any, prefix: str) -> list[web.RouteDef]:
    """``openapi.json`` beside the plugin's routes; ``prefix`` is where they are served
    (``/<plugin>``, or empty at the root of its own listener)."""
    made: dict[str, bytes] = {}

    async def serve(request: web.Request) -> web.Response:
        if "doc" not in made:  # made on first use: every plugin's routes are known by then
            version = plugin_version(hub, plugin)
            made["doc"] = orjson.dumps(document(plugin, version, api, prefix or "/"))
        # any origin may read it: Swagger UI on the hub's main port reads the documents of
        # plugins on listeners of their own
        headers = {"Access-Control-Allow-Origin": "*"}
        return web.Response(body=made["doc"], content_type="application/json", headers=headers)

    return [web.get("/openapi.json", serve, allow_head=False)]


def index_route(entries: Callable[[], list[dict[str, str]]]) -> web.RouteDef:
    """``/openapi``: every plugin's document, where it is served."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps({"documents": entries()}), content_type="application/json"
        )

    return web.get("/openapi", index, allow_head=False)


# -- as files ----------------------------------------------------------------------------------
def built_in_documents(plugins: Sequence[str]) -> dict[str, Schema]:
    """Each plugin's document as a hub running just ``plugins`` serves it under ``/<plugin>``,
    made without serving (a fresh data directory): what ``make openapi`` writes to
    ``openapi/`` and ``hub schema check`` compares with a release's files."""
    import tempfile

    from hub.app import Hub
    from hub.config import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        hub = Hub(Settings(data_dir=data_dir), env={"HUB_PLUGINS": ",".join(plugins)})
        try:
            return {
                name: document(name, plugin_version(hub, name), api, f"/{name}")
                for name, api in sorted(hub.rest.items())
            }
        finally:
            hub.close()


def document_text(doc: Schema) -> str:
    """A document as its file holds it: indented, keys sorted, so a change is a readable diff."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def write_documents(directory: str, plugins: Sequence[str]) -> None:
    """``make openapi``: ``<directory>/<plugin>.json`` for each of ``plugins`` with a REST
    surface, and no file left for a plugin that has none any more."""
    from pathlib import Path

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    documents = built_in_documents(plugins)
    for stale in target.glob("*.json"):
        if stale.stem not in documents:
            stale.unlink()
    for name, doc in documents.items():
        (target / f"{name}.json").write_text(document_text(doc))
