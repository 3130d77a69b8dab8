"""The grpc.aio server: plugin services, ``hub.v1.Hub``, the standard health service with one
entry per plugin service, server reflection, and the error table applied to every call."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from hub.errors import HubError, StartupError
from hub.health import plugin_status
from hub.registry import GrpcService

log = logging.getLogger("hub.grpc")
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def authorization(context: grpc.aio.ServicerContext) -> str | None:
    """The ``authorization`` metadata of a call, as REST would read the header."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class Undecodable:
    """What a method gets instead of its request when the bytes are not that message."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _lenient(handler: Any) -> Any:
    """``handler`` with a request deserializer that returns :class:`Undecodable` rather than
    raise: grpc would answer UNKNOWN with the exception's class and text."""
    if handler is None or handler.request_streaming or handler.request_deserializer is None:
        return handler
    decode = handler.request_deserializer

    def deserialize(raw: bytes) -> Any:
        try:
            return decode(raw)
        except Exception as exc:
            return Undecodable(exc)

    return handler._replace(request_deserializer=deserialize)


class _LenientHandlers(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self.inner = inner

    def service(self, handler_call_details: Any) -> Any:
        return _lenient(self.inner.service(handler_call_details))


class _Registrar:
    """The server as a generated ``add_XServicer_to_server`` sees it: every handler it adds gets
    a request deserializer from :func:`_lenient`."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.server.add_generic_rpc_handlers(tuple(_LenientHandlers(h) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.server.add_registered_method_handlers(
            service, {name: _lenient(h) for name, h in handlers.items()}
        )


def _decoded(request: Any) -> Any:
    if isinstance(request, Undecodable):
        raise HubError(
            400, f"the request is not a valid message: {request.error}", reason="bad_message"
        )
    return request


class ErrorMapping:
    """Wraps each RPC method of a plugin's servicer once, at registration, so that a
    :class:`HubError` becomes the status of the spec's table (with ``hub-status``,
    ``hub-reason``, ``hub-plugin`` and ``retry-after`` trailers) and any other exception a bare
    INTERNAL. (A grpc.aio interceptor would do the same at a cost on every call.)"""

    def __init__(self, metrics: Any) -> None:
        self.calls = metrics.grpc_calls

    def servicer(self, service: GrpcService) -> Any:
        """A stand-in for ``service.servicer`` whose methods map errors."""
        try:
            descriptor = descriptor_pool.Default().FindServiceByName(service.name)
        except KeyError:
            raise StartupError(
                f"gRPC service {service.name}: no such service in the loaded protos"
            ) from None
        methods: dict[str, Any] = {}
        for method in descriptor.methods:
            impl = getattr(service.servicer, method.name)
            full_name = f"/{service.name}/{method.name}"
            if method.client_streaming:
                methods[method.name] = impl
            elif method.server_streaming:
                methods[method.name] = self._streaming(full_name, impl)
            else:
                methods[method.name] = self._unary(full_name, impl)
        return SimpleNamespace(**methods)

    def _unary(self, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        ok = self.calls.labels(name, "OK")

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                response = impl(_decoded(request), context)
                if inspect.isawaitable(response):
                    response = await response
            except Exception as exc:
                await self._abort(name, exc, context)
            ok.inc()
            return response

        return call

    def _streaming(self, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        ok = self.calls.labels(name, "OK")

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in impl(_decoded(request), context):
                    yield item
            except Exception as exc:
                await self._abort(name, exc, context)
            ok.inc()

        return call

    async def _abort(self, name: str, exc: Exception, context: grpc.aio.ServicerContext) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        if not isinstance(exc, HubError):
            log.error("unhandled error in %s", name, exc_info=exc)
            self.calls.labels(name, "INTERNAL").inc()
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            return
        trailers: list[tuple[str, str]] = [("hub-status", str(exc.status))]
        if exc.reason is not None:
            trailers.append(("hub-reason", str(exc.reason)))
        if exc.plugin:
            trailers.append(("hub-plugin", exc.plugin))
        if exc.retry_after is not None:
            trailers.append(("retry-after", str(exc.retry_after)))
        context.set_trailing_metadata(tuple(trailers))
        self.calls.labels(name, exc.grpc_code.name).inc()
        await context.abort(exc.grpc_code, exc.message)


class GrpcServer:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        # no SO_REUSEPORT: a second hub on the same port must fail, not silently share it
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        errors = ErrorMapping(hub.metrics)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.services: dict[str, str] = {}  # service name -> plugin
        for plugin, service in hub.grpc_services:
            if service.name in self.services:
                raise StartupError(
                    f"gRPC service {service.name} is registered by both "
                    f"{self.services[service.name]} and {plugin}"
                )
            service.add_to_server(errors.servicer(service), _Registrar(self.server))
            self.services[service.name] = plugin
        self._enable_reflection()

    def _enable_reflection(self) -> None:
        """Server reflection under both names clients use: grpcio-reflection implements only
        ``v1alpha``, whose messages are wire-identical to ``v1`` (grpcurl and newer clients ask
        for ``v1`` first), so one servicer answers both."""
        names = [*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
        servicer = reflection.aio.ReflectionServicer(names)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, self.server)
        v1 = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": v1}),)
        )

    def bind(self, host: str, port: int) -> int:
        address = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        try:
            bound = self.server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise OSError(f"cannot listen for gRPC on {address}: in use or not available")
        return bound

    async def refresh_health(self) -> None:
        """Set each plugin service's status from its plugin's probes (run as a timer)."""
        results = await self.hub.health()
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        overall = serving
        for name, plugin in self.services.items():
            status = serving if plugin_status(results, plugin) != "down" else not_serving
            if status == not_serving:
                overall = not_serving
            await self.health.set(name, status)
        await self.health.set("", overall)

    async def start(self) -> None:
        await self.refresh_health()
        await self.server.start()

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
