"""Plain resolver fields called without strawberry's per-call machinery.

For every field with a resolver, strawberry wraps the call in a chain built for field extensions
and permission classes, and converts every argument through its generic converter, also those
(``Int``, ``String``, ``JSON``) whose value it hands over as graphql-core gave it. On a list
query those steps cost more than the SQL. For a field with no extensions, permission classes
or exception handlers, :func:`lighten` puts a resolver in its place that does the same with what
is worked out once per field: the ``Info`` object, the arguments renamed to Python names
(converted by strawberry only when they are input types, enums, lists or other non-scalar
types), ``self``/``root``/``parent``/``info`` passed where the resolver asks. Any other field
keeps strawberry's resolver."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

Converter = Callable[[Any, Any], Any]  # (value, strawberry info) -> the Python value


def lighten(schema: GraphQLSchema, config: StrawberryConfig, scalars: Mapping[Any, Any]) -> None:
    """Give each plain resolver field of ``schema``'s query and mutation types (and every type
    they reach) the lean resolver."""
    subscription = schema.subscription_type
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type is subscription:
            continue
        if graphql_type.name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if isinstance(definition, StrawberryField) and _plain(definition):
                field.resolve = _resolver(definition, config, scalars)


def _plain(field: StrawberryField) -> bool:
    resolver = field.base_resolver
    return (
        resolver is not None
        and callable(resolver.wrapped_func)
        and not field.extensions
        and not field.permission_classes
    )


def _resolver(
    field: StrawberryField, config: StrawberryConfig, scalars: Mapping[Any, Any]
) -> Callable[..., Any]:
    resolver = field.base_resolver
    assert resolver is not None
    call: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
    takes_self = resolver.self_parameter is not None
    sources = [
        p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None
    ]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    arguments = [
        (config.name_converter.from_argument(a), str(a.python_name), _converter(a, config, scalars))
        for a in field.arguments
    ]
    make_info = config.info_class
    converted = any(convert is not None for _, _, convert in arguments)

    def resolve(source: Any, info: GraphQLResolveInfo, **values: Any) -> Any:
        # strawberry's Info only when the resolver or a conversion reads it
        strawberry_info = (
            make_info(_raw_info=info, _field=field) if info_name is not None or converted else None
        )
        kwargs: dict[str, Any] = {}
        for name, python_name, convert in arguments:
            if name in values:
                value = values[name]
                kwargs[python_name] = value if convert is None else convert(value, strawberry_info)
        for name in sources:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = strawberry_info
        return call(source, **kwargs) if takes_self else call(**kwargs)

    return resolve


def _converter(
    argument: Any, config: StrawberryConfig, scalars: Mapping[Any, Any]
) -> Converter | None:
    """None when strawberry would hand the value over as it is (a scalar, or an optional one);
    else strawberry's own conversion."""
    kind = argument.type
    if isinstance(kind, StrawberryOptional) and not isinstance(kind, StrawberryMaybe):
        kind = kind.of_type
    if kind is not GlobalID and not isinstance(kind, StrawberryMaybe) and is_scalar(kind, scalars):
        return None
    name = config.name_converter.from_argument(argument)
    maybe = isinstance(argument.type, StrawberryMaybe)  # a null is Some(None) there

    def convert(value: Any, info: Any) -> Any:
        if value is None and not maybe:  # what strawberry makes of a null, without its walk
            return None
        return convert_argument(value, argument.type, scalars, config, info, path=(name,))

    return convert
