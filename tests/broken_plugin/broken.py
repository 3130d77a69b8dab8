"""A single-file plugin that breaks each rule the conformance check enforces, once: the check
must name every breach (tests/test_conformance.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import strawberry
from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, empty_pb2

from hub.api import HubApi
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, RestApi

SERVICE = "hub.broken.v1.Broken"


async def crash(request: web.Request) -> web.Response:
    raise KeyError("a bug")  # a 500


async def own_error(request: web.Request) -> web.Response:
    return web.json_response({"detail": "not the renderer's shape"}, status=400)


async def anything(request: web.Request) -> web.Response:
    return web.json_response({})  # an unknown path answered 200


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def boom(self) -> int:
        raise ValueError("a bug")  # INTERNAL

    @strawberry.field
    def too_big(self) -> int:
        return 2**31  # no GraphQL Int: the hub's own fault, INTERNAL, not the client's

    @strawberry.field
    def missing(self) -> int:
        return None  # type: ignore[return-value]  # null for a non-null field: INTERNAL


@strawberry.type
class BrokenSubscription:
    @strawberry.subscription
    async def broken_ticks(self) -> AsyncIterator[int]:
        ticks: list[int] = []
        yield ticks[0]  # an IndexError: INTERNAL

    @strawberry.subscription
    async def broken_quiet(self, topic: str) -> AsyncIterator[int]:
        """Waits for events that never come: no breach (``topic``: made up by the check)."""
        await asyncio.Event().wait()
        yield 0


def _describe() -> None:
    """``service Broken { rpc Fail(google.protobuf.Empty) returns (google.protobuf.Empty); }``"""
    file = descriptor_pb2.FileDescriptorProto(
        name="hub/broken/v1/broken.proto",
        package="hub.broken.v1",
        dependency=[empty_pb2.DESCRIPTOR.name],
    )
    method = file.service.add(name="Broken").method.add(name="Fail")
    method.input_type = method.output_type = ".google.protobuf.Empty"
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(file.name)
    except KeyError:
        pool.AddSerializedFile(file.SerializeToString())


class BrokenServicer:
    async def Fail(self, request: Any, context: Any) -> Any:
        raise RuntimeError("a bug")  # a bare INTERNAL, no hub-status


def add_to_server(servicer: Any, server: Any) -> None:
    handler = grpc.unary_unary_rpc_method_handler(
        servicer.Fail,
        request_deserializer=empty_pb2.Empty.FromString,
        response_serializer=empty_pb2.Empty.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Fail": handler}),)
    )


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    register(
        RestApi(
            routes=[
                web.get("/items", crash, allow_head=False),
                web.post("/items", own_error),
                web.get("/{tail:.*}", anything, allow_head=False),
            ]
        )
    )


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    register(GraphQLPart(query=BrokenQuery, subscription=BrokenSubscription))


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    _describe()
    register(GrpcService(SERVICE, BrokenServicer(), add_to_server))
