"""The gRPC host itself, over a real grpc.aio client: every service the hub serves (health,
reflection v1 and v1alpha, ``hub.v1.Hub``, plugin services) answers bytes that are not its
request message with INVALID_ARGUMENT and the ``hub-status`` trailer, and reflection describes
every service it lists, itself included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.hubproc import ADMIN_TOKEN, HubProcess

CORRUPT = b"\x0a\x05ab"  # field 1, length 5, then only two bytes: no message decodes it
SERVICES = {
    "hub.v1.Hub",
    "hub.era.v1.Era",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}


def identity(raw: bytes) -> bytes:
    return raw


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(Path(tmp_path_factory.mktemp("grpc")) / "data").start()
    yield process
    process.stop()


@pytest.fixture
async def channel(hub: HubProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(hub.grpc) as chan:
        yield chan


def assert_bad_message(error: grpc.aio.AioRpcError, plugin: str | None) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert error.details().startswith("the request is not a valid message:"), error
    trailers = dict(error.trailing_metadata() or ())
    assert trailers["hub-status"] == "400" and trailers["hub-reason"] == "bad_message"
    assert trailers.get("hub-plugin") == plugin


@pytest.mark.parametrize(
    ("method", "plugin"),
    [
        ("/grpc.health.v1.Health/Check", None),
        ("/hub.v1.Hub/ListPlugins", "hub"),
        ("/hub.era.v1.Era/Get", "era"),
    ],
)
async def test_undecodable_unary_requests_are_invalid_argument(
    channel: grpc.aio.Channel, method: str, plugin: str | None
) -> None:
    """Health was UNKNOWN ("Unexpected <class 'DecodeError'>") with no trailer."""
    call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(CORRUPT, metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),), timeout=10)
    assert_bad_message(info.value, plugin)


async def test_undecodable_health_watch_is_invalid_argument(channel: grpc.aio.Channel) -> None:
    call = channel.unary_stream(
        "/grpc.health.v1.Health/Watch",
        request_serializer=identity,
        response_deserializer=identity,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in call(CORRUPT, timeout=10):
            pass
    assert_bad_message(info.value, None)


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_undecodable_reflection_messages_are_invalid_argument(
    channel: grpc.aio.Channel, version: str
) -> None:
    """A good message is answered; the bad one after it ends the stream with the status."""
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=identity,
        response_deserializer=identity,
    )
    good = reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()
    stream = call(iter([good, CORRUPT]), timeout=10)
    answers = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for answer in stream:
            answers.append(reflection_pb2.ServerReflectionResponse.FromString(answer))
    assert_bad_message(info.value, None)
    assert len(answers) == 1 and answers[0].list_services_response.service


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_describes_every_service_it_lists(
    channel: grpc.aio.Channel, version: str
) -> None:
    """It listed grpc.reflection.v1.ServerReflection but could not describe it."""
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    listing = [
        a
        async for a in call(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
    ]
    names = {s.name for s in listing[0].list_services_response.service}
    assert names >= SERVICES
    asks = [reflection_pb2.ServerReflectionRequest(file_containing_symbol=n) for n in names]
    for name, answer in zip(
        sorted(names),
        [
            a
            async for a in call(
                iter(sorted(asks, key=lambda r: r.file_containing_symbol)), timeout=10
            )
        ],
        strict=True,
    ):
        assert not answer.HasField("error_response"), (name, answer.error_response)
        pool = DescriptorPool()
        files = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in answer.file_descriptor_response.file_descriptor_proto
        ]
        for file in reversed(files):  # dependencies come after the file that needs them
            pool.AddSerializedFile(file.SerializeToString())
        assert pool.FindServiceByName(name).full_name == name


def test_a_reflection_client_resolves_the_v1_service(hub: HubProcess) -> None:
    """What grpcurl does with ``describe grpc.reflection.v1.ServerReflection``."""
    with grpc.insecure_channel(hub.grpc) as chan:
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(chan))
        service = pool.FindServiceByName("grpc.reflection.v1.ServerReflection")
        method = service.methods_by_name["ServerReflectionInfo"]
        assert method.input_type.full_name == "grpc.reflection.v1.ServerReflectionRequest"
        assert method.output_type.full_name == "grpc.reflection.v1.ServerReflectionResponse"
        request = pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest")
        assert request.fields_by_name["list_services"].number == 7
        response = pool.FindFileByName("grpc/reflection/v1/reflection.proto")
        assert response.package == "grpc.reflection.v1"


async def test_a_request_over_the_body_limit_is_413_as_over_rest(
    channel: grpc.aio.Channel,
) -> None:
    """Between the plugin's body limit (era: the hub's 1 MiB) and gRPC's own cap, the answer
    is the table's 413 with its trailers, not grpc's bare RESOURCE_EXHAUSTED; under the limit
    the same bytes reach the method."""
    from hub_era.v1 import era_pb2

    metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    big = era_pb2.CreateRequest(
        integration_point=era_pb2.IntegrationPointInput(code="big", type="t", url="u" * 1_100_000)
    )
    call = channel.unary_unary("/hub.era.v1.Era/Create", identity, identity)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(big.SerializeToString(), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value
    trailers = dict(refused.value.trailing_metadata() or ())
    assert trailers["hub-status"] == "413" and trailers["hub-reason"] == "payload_too_large"
    assert trailers["hub-plugin"] == "era"
    small = era_pb2.CreateRequest(
        integration_point=era_pb2.IntegrationPointInput(code="small", type="t", url="u" * 1000)
    )
    assert await call(small.SerializeToString(), metadata=metadata)
