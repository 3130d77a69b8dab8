"""The grpc.aio server: plugin services, ``hub.v1.Hub``, the standard health service with one
entry per plugin service, server reflection, and the error table applied to every call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hub.errors import HubError, StartupError
from hub.health import plugin_status

log = logging.getLogger("hub.grpc")


def authorization(context: grpc.aio.ServicerContext) -> str | None:
    """The ``authorization`` metadata of a call, as REST would read the header."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class ErrorMapping(grpc.aio.ServerInterceptor):
    """Turns a :class:`HubError` into the status of the spec's table (``retry-after`` and the
    plugin's own ``reason`` as trailers) and any other exception into a bare INTERNAL."""

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    response = await inner(request, context)
                except Exception as exc:
                    await self._abort(method, exc, context)
                self.metrics.grpc_calls.labels(method, "OK").inc()
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    async for item in stream(request, context):
                        yield item
                except Exception as exc:
                    await self._abort(method, exc, context)
                self.metrics.grpc_calls.labels(method, "OK").inc()

            return grpc.unary_stream_rpc_method_handler(
                streaming,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _abort(self, method: str, exc: Exception, context: grpc.aio.ServicerContext) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        if not isinstance(exc, HubError):
            log.error("unhandled error in %s", method, exc_info=exc)
            self.metrics.grpc_calls.labels(method, "INTERNAL").inc()
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
        self.metrics.grpc_calls.labels(method, exc.grpc_code.name).inc()
        await context.abort(exc.grpc_code, exc.message)


class GrpcServer:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.server = grpc.aio.server(interceptors=[ErrorMapping(hub.metrics)])
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.services: dict[str, str] = {}  # service name -> plugin
        for plugin, service in hub.grpc_services:
            if service.name in self.services:
                raise StartupError(
                    f"gRPC service {service.name} is registered by both "
                    f"{self.services[service.name]} and {plugin}"
                )
            service.add_to_server(service.servicer, self.server)
            self.services[service.name] = plugin
        reflection.enable_server_reflection(
            [*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )

    def bind(self, host: str, port: int) -> int:
        bound = self.server.add_insecure_port(
            f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        )
        if bound == 0:
            raise OSError(f"cannot listen for gRPC on {host}:{port}")
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
