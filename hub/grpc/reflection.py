"""Server reflection under both names clients use. grpcio-reflection implements and ships only
``grpc.reflection.v1alpha``; ``grpc.reflection.v1`` (which grpcurl and newer clients ask for
first) has the same messages under another package, so one servicer answers both, and the v1
file descriptor is derived from the v1alpha one so that the service can be described through
reflection like every other it lists."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_FILE = "grpc/reflection/v1/reflection.proto"
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"


def v1_file() -> descriptor_pb2.FileDescriptorProto:
    """grpc's ``reflection/v1/reflection.proto``: the v1alpha file with the package renamed
    (and the v1 file's own options)."""
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    alpha = f".{file.package}."
    file.name, file.package = V1_FILE, V1_PACKAGE
    file.options.Clear()
    file.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    file.options.java_package = "io.grpc.reflection.v1"
    file.options.java_outer_classname = "ServerReflectionProto"
    file.options.java_multiple_files = True
    for field in (f for m in file.message_type for f in m.field if f.HasField("type_name")):
        field.type_name = field.type_name.replace(alpha, f".{V1_PACKAGE}.")
    for method in (m for s in file.service for m in s.method):
        method.input_type = method.input_type.replace(alpha, f".{V1_PACKAGE}.")
        method.output_type = method.output_type.replace(alpha, f".{V1_PACKAGE}.")
    return file


def _register_v1_file() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.AddSerializedFile(v1_file().SerializeToString())


def add_reflection(server: Any, services: list[str]) -> None:
    """Reflection of ``services`` and of itself (both versions) on ``server`` (a grpc server or
    anything with its ``add_generic_rpc_handlers``)."""
    _register_v1_file()
    servicer = reflection.aio.ReflectionServicer([*services, reflection.SERVICE_NAME, V1_SERVICE])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": v1}),)
    )
