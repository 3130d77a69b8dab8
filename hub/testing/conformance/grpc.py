"""Every gRPC service a plugin registers is listed and described by server reflection and has
an entry in the standard health service; every unary-request method, called without a
credential, with a wrong one and with bytes that are no message, answers OK or a status per
the error table carried by ``hub-*`` trailers (never a bare status, never a server error)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub.errors import HubError
from hub.testing.clients import bearer
from hub.testing.conformance.judge import STREAM_WAIT, WRONG_TOKEN, owned_by, table_status

UNDECODABLE = b"\xff"  # a truncated tag: no message type parses it


async def _reflect(channel: grpc.aio.Channel, **ask: str) -> Any:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def one() -> AsyncIterator[Any]:
        yield reflection_pb2.ServerReflectionRequest(**ask)

    async for answer in stub.ServerReflectionInfo(one()):
        return answer
    raise AssertionError("server reflection answered nothing")


async def described(channel: grpc.aio.Channel, service: str) -> list[Any] | str:
    """The service's methods as reflection describes them, or what is wrong."""
    listed = await _reflect(channel, list_services="")
    if service not in {s.name for s in listed.list_services_response.service}:
        return f"gRPC {service}: not listed by server reflection"
    files = await _reflect(channel, file_containing_symbol=service)
    for raw in files.file_descriptor_response.file_descriptor_proto:
        file = descriptor_pb2.FileDescriptorProto.FromString(raw)
        for found in file.service:
            if f"{file.package}.{found.name}" == service:
                return list(found.method)
    return f"gRPC {service}: reflection does not describe it"


async def _health(channel: grpc.aio.Channel, service: str) -> str | None:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    except grpc.aio.AioRpcError as exc:
        return f"gRPC {service}: the health service answers {exc.code().name} for it"
    return None


def calls(method: Any) -> Iterator[tuple[str, bytes, tuple[tuple[str, str], ...], int | None]]:
    """``(who, request, metadata, the one status the host gives)`` for one method."""
    yield "without a credential", b"", (), None
    yield "with a wrong credential", b"", bearer(WRONG_TOKEN), None
    yield "with bytes that are no message", UNDECODABLE, (), 400


async def _call(channel: grpc.aio.Channel, path: str, method: Any, request: bytes, metadata: Any):
    if method.server_streaming:
        stream = channel.unary_stream(path)(request, metadata=metadata)
        try:
            async with asyncio.timeout(STREAM_WAIT):
                async for _ in stream:
                    break
        except TimeoutError:
            pass
        finally:
            stream.cancel()
    else:
        await channel.unary_unary(path)(request, metadata=metadata, timeout=30)


def judge(what: str, exc: grpc.aio.AioRpcError, plugin: str, expected: int | None) -> str | None:
    trailers = dict(exc.trailing_metadata() or ())
    status = table_status(trailers.get("hub-status"))
    code = exc.code()
    if status is None:
        return f"gRPC {what}: {code.name} without a hub-status trailer ({exc.details()!r})"
    if code != HubError(status, "").grpc_code:
        return f"gRPC {what}: {code.name} with hub-status {status}, not per the error table"
    if status >= 500 or (expected is not None and status != expected):
        return f"gRPC {what}: hub-status {status} ({exc.details()!r})"
    if not owned_by(plugin, trailers.get("hub-plugin")):
        return f"gRPC {what}: hub-plugin is {trailers.get('hub-plugin')!r}"
    return None


async def problems(channel: grpc.aio.Channel, services: list[str], plugin: str) -> list[str]:
    found = []
    for service in services:
        methods = await described(channel, service)
        if isinstance(methods, str):
            found.append(methods)
            continue
        if problem := await _health(channel, service):
            found.append(problem)
        for method in methods:
            if method.client_streaming:
                continue  # no plugin registers one; probing it needs a stream of messages
            path = f"/{service}/{method.name}"
            for who, request, metadata, expected in calls(method):
                try:
                    await _call(channel, path, method, request, metadata)
                except grpc.aio.AioRpcError as exc:
                    if problem := judge(f"{path} {who}", exc, plugin, expected):
                        found.append(problem)
                else:
                    if expected is not None:
                        found.append(f"gRPC {path} {who}: OK, expected hub-status {expected}")
    return found
