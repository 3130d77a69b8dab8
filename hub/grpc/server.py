"""The grpc.aio server: plugin services, ``hub.v1.Hub``, the standard health service with one
entry per plugin service, server reflection, and the error table applied to every call."""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import quote

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hub import requestid
from hub.caller import Caller, Callers, bind_grpc
from hub.errors import HubError, StartupError
from hub.grpc.reflection import add_reflection
from hub.grpc.wire import Serialized
from hub.health import plugin_status
from hub.peer import invocation_metadata
from hub.registrations import GrpcService
from hub.upstream.freshness import grpc_trailers

log = logging.getLogger("hub.grpc")


class Undecodable:
    """What a method gets instead of its request when the bytes are not that message."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class Oversized:
    """What a method gets instead of a request larger than the plugin's body limit."""

    def __init__(self, size: int) -> None:
        self.size = size


REFUSED = (Undecodable, Oversized)  # what a unary method never gets: the Guard answers first
MAX_RECEIVE = 2**31 - 1  # bytes: the most grpc.max_receive_message_length takes (a C int)


def trailers(exc: HubError) -> tuple[tuple[str, str], ...]:
    """The ``hub-*`` (and ``retry-after``) trailers that carry a :class:`HubError`."""
    found = [("hub-status", str(exc.status))]
    if exc.reason is not None:
        found.append(("hub-reason", metadata_value(str(exc.reason))))
    if exc.plugin:
        found.append(("hub-plugin", metadata_value(exc.plugin)))
    if exc.retry_after is not None:
        found.append(("retry-after", str(exc.retry_after)))
    write_id = getattr(exc, "write_id", None)
    if write_id is not None:  # a write kept for later delivery: what to poll
        found.append(("hub-write-id", metadata_value(write_id)))
    return tuple(found)


def metadata_value(text: str) -> str:
    """``text`` as a metadata value: printable ASCII as it is, any other character (and ``%``)
    percent-encoded as UTF-8, as grpc encodes ``grpc-message``. grpc refuses any other value,
    and the call would end INTERNAL without its status or a single trailer."""
    if text.isascii() and text.isprintable() and "%" not in text:
        return text
    return "".join(c if " " <= c <= "~" and c != "%" else quote(c, safe="") for c in text)


def add_trailers(context: grpc.aio.ServicerContext, pairs: Iterable[tuple[str, str]]) -> None:
    """``pairs`` added to the call's trailing metadata (grpc.aio's setter replaces what was
    set, the request id among it)."""
    context.set_trailing_metadata((*(context.trailing_metadata() or ()), *pairs))


async def abort(context: grpc.aio.ServicerContext, exc: HubError) -> NoReturn:
    add_trailers(context, trailers(exc))
    await context.abort(exc.grpc_code, exc.message)
    raise AssertionError("context.abort returned")  # it always raises


class Guard:
    """Every handler the server gets passes through here, whichever service it belongs to
    (plugins, ``hub.v1.Hub``, health, reflection): its request deserializer returns
    :class:`Undecodable` rather than raise (grpc would answer UNKNOWN with the exception's class
    and text), and its method answers such a request, or such a message of a request stream,
    with INVALID_ARGUMENT and the ``hub-*`` trailers before the method runs."""

    def __init__(self, calls: Any, plugin: str | None, limit: int) -> None:
        self.calls = calls
        self.plugin = plugin
        self.limit = limit  # bytes: the plugin's REST body limit, so 413 is 413 everywhere

    def handler(self, method: str, handler: Any) -> Any:
        if handler is None or handler.request_deserializer is None:
            return handler
        kind = (
            ("stream" if handler.request_streaming else "unary")
            + "_"
            + ("stream" if handler.response_streaming else "unary")
        )
        behavior = getattr(handler, kind)
        if not (inspect.iscoroutinefunction(behavior) or inspect.isasyncgenfunction(behavior)):
            return handler  # grpc.aio runs other kinds in a thread: none are registered here
        decode = handler.request_deserializer

        def deserialize(raw: bytes) -> Any:
            if len(raw) > self.limit:
                return Oversized(len(raw))
            try:
                return decode(raw)
            except Exception as exc:
                return Undecodable(exc)

        plugin = self.plugin or "hub"
        if handler.request_streaming:
            checked = _checked_stream(behavior, self._messages, method, plugin)
        else:
            checked = _checked(behavior, self._request, method, plugin)
        return handler._replace(
            request_deserializer=deserialize,
            response_serializer=_passing_serialized(handler.response_serializer),
            **{kind: checked},
        )

    async def refuse(self, method: str, request: Undecodable, context: Any) -> NoReturn:
        self.calls.labels(method, "INVALID_ARGUMENT").inc()
        message = f"the request is not a valid message: {request.error}"
        await abort(context, HubError(400, message, reason="bad_message", plugin=self.plugin))

    async def _request(self, method: str, request: Any, context: Any) -> Any:
        if isinstance(request, Undecodable):
            await self.refuse(method, request, context)
        if isinstance(request, Oversized):
            self.calls.labels(method, "INVALID_ARGUMENT").inc()
            message = f"the request is {request.size} bytes; the limit is {self.limit} bytes"
            await abort(
                context, HubError(413, message, reason="payload_too_large", plugin=self.plugin)
            )
        return request

    async def _messages(self, method: str, requests: Any, context: Any) -> Any:
        async def checked() -> AsyncIterator[Any]:
            async for request in requests:
                yield await self._request(method, request, context)

        return checked()


def _passing_serialized(
    serialize: Callable[[Any], bytes] | None,
) -> Callable[[Any], bytes] | None:
    """``serialize``, except that a :class:`~hub.grpc.wire.Serialized` answer (assembled by
    the method from serialized parts) is sent as it is (with no serializer, grpc sends bytes
    as they are anyway)."""
    if serialize is None:
        return None

    def respond(message: Any) -> bytes:
        return message.data if type(message) is Serialized else serialize(message)

    return respond


class ServedCall:
    """The call's id (the client's ``x-request-id`` metadata when it is sane), sent back in the
    trailing metadata (a stream's also in its initial metadata, before the first message) and
    on every line logged while the call runs, and its access line with the status the call
    ended with. (A class rather than an ``asynccontextmanager``: it wraps every call, and a
    generator per call costs more.)

    Not in a unary call's initial metadata: grpc.aio sends custom initial metadata as a batch
    of its own (about a tenth of a short call's cost), while trailing metadata goes out with
    the answer and the status. Set as the call starts, it is in every trailer: an answer, the
    host's errors, a plugin's own ``context.abort``."""

    __slots__ = ("context", "method", "plugin", "request", "scope", "streaming")

    def __init__(
        self, plugin: str, method: str, context: grpc.aio.ServicerContext, streaming: bool = False
    ) -> None:
        self.plugin, self.method, self.context = plugin, method, context
        self.streaming = streaming

    def start(self) -> tuple[tuple[str, str], ...]:
        """The call's id in place (a unary call's whole start: no await); what it echoes."""
        metadata = dict(invocation_metadata(self.context))
        incoming = metadata.get(requestid.METADATA)
        self.scope = requestid.serving(incoming, "grpc", self.method, self.plugin, metadata)
        self.request = self.scope.__enter__()
        echoed = ((requestid.METADATA, self.request.id),)
        self.context.set_trailing_metadata(echoed)
        return echoed

    async def __aenter__(self) -> None:
        echoed = self.start()
        if self.streaming:
            try:
                await self.context.send_initial_metadata(echoed)
            except BaseException as exc:
                self.end(exc)
                raise

    async def __aexit__(self, kind: Any, failed: BaseException | None, trace: Any) -> None:
        self.end(failed)

    def end(self, failed: BaseException | None) -> None:
        try:
            code = self.context.code()
            if isinstance(code, grpc.StatusCode):
                status = code.name
            elif isinstance(failed, asyncio.CancelledError | GeneratorExit):
                status = "CANCELLED"  # the client went away
            else:
                status = "OK" if failed is None else "UNKNOWN"
            requestid.log_access(self.request, status)
        finally:
            if failed is None:
                self.scope.__exit__(None, None, None)
            else:
                self.scope.__exit__(type(failed), failed, failed.__traceback__)


def _checked_stream(behavior: Any, check: Any, method: str, plugin: str) -> Any:
    """``behavior`` of a request stream, whatever it answers (grpc.aio tells coroutines from
    async generators), given the stream with ``check`` applied to each message, the whole call
    :class:`ServedCall`."""
    if inspect.isasyncgenfunction(behavior):
        return _streaming(behavior, check, method, plugin)

    async def unary(requests: Any, context: Any) -> Any:
        async with ServedCall(plugin, method, context):
            return await behavior(await check(method, requests, context), context)

    return unary


def _streaming(behavior: Any, check: Any, method: str, plugin: str) -> Any:
    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        async with ServedCall(plugin, method, context, streaming=True):
            async for item in behavior(await check(method, request, context), context):
                yield item

    return streaming


def _checked(behavior: Any, check: Any, method: str, plugin: str) -> Any:
    """``behavior`` of a single request, of the same kind (grpc.aio tells coroutines from async
    generators), with ``check`` applied to its request first (awaited only for a request that
    fails it), the whole call :class:`ServedCall`."""
    if inspect.isasyncgenfunction(behavior):
        return _streaming(behavior, check, method, plugin)

    async def unary(request: Any, context: Any) -> Any:
        served = ServedCall(plugin, method, context)
        served.start()  # the same as ``async with``, without two coroutines per call
        try:
            if type(request) in REFUSED:
                await check(method, request, context)
            response = await behavior(request, context)
        except BaseException as exc:
            served.end(exc)
            raise
        served.end(None)
        return response

    return unary


class _GuardedHandlers(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, guard: Guard) -> None:
        self.inner = inner
        self.guard = guard

    def service(self, handler_call_details: Any) -> Any:
        handler = self.inner.service(handler_call_details)
        return self.guard.handler(handler_call_details.method, handler)


class Registrar:
    """The server as a generated ``add_XServicer_to_server`` sees it: every handler it adds is
    guarded by :class:`Guard`."""

    def __init__(self, server: grpc.aio.Server, guard: Guard) -> None:
        self.server = server
        self.guard = guard

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.server.add_generic_rpc_handlers(
            tuple(_GuardedHandlers(h, self.guard) for h in handlers)
        )

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.server.add_registered_method_handlers(
            service,
            {name: self.guard.handler(f"/{service}/{name}", h) for name, h in handlers.items()},
        )


class ErrorMapping:
    """Wraps each RPC method of a plugin's servicer once, at registration, so that the call's
    :class:`~hub.caller.Caller` is built (``caller_of(context)`` in the method), a
    :class:`HubError` becomes the status of the spec's table (with ``hub-status``,
    ``hub-reason``, ``hub-plugin`` and ``retry-after`` trailers) and any other exception a bare
    INTERNAL. (A grpc.aio interceptor would do the same at a cost on every call.)"""

    def __init__(self, metrics: Any, callers: Callers) -> None:
        self.calls = metrics.grpc_calls
        self.callers = callers

    def servicer(self, plugin: str, service: GrpcService) -> Any:
        """A stand-in for ``service.servicer`` whose methods know their caller and map
        errors."""
        try:
            descriptor = descriptor_pool.Default().FindServiceByName(service.name)
        except KeyError:
            raise StartupError(
                f"plugin {plugin}: gRPC service {service.name}: no such service in the loaded"
                " protos"
            ) from None
        methods: dict[str, Any] = {}
        for method in descriptor.methods:
            impl = getattr(service.servicer, method.name, None)
            if not callable(impl):
                raise StartupError(
                    f"plugin {plugin}: gRPC service {service.name}: the servicer has no method"
                    f" {method.name}{_near_miss(method.name, service.servicer)}"
                )
            full_name = f"/{service.name}/{method.name}"
            answers = method.output_type.full_name
            if _generated(impl):  # left to the generated base class: on purpose, or misspelt
                log.warning(
                    "plugin %s: gRPC service %s: %s is not implemented, it answers UNIMPLEMENTED%s",
                    plugin,
                    service.name,
                    method.name,
                    _near_miss(method.name, service.servicer),
                )
                impl = _unimplemented(method.server_streaming)
            if method.server_streaming:  # a request stream passes through as the request
                methods[method.name] = self._streaming(plugin, full_name, impl, answers)
            else:
                methods[method.name] = self._unary(plugin, full_name, impl, answers)
        return SimpleNamespace(**methods)

    async def _bound_caller(self, plugin: str, context: grpc.aio.ServicerContext) -> Caller:
        """The call's caller, what ``caller_of(context)`` returns, its password (if it sent
        one) checked off the event loop."""
        caller = self.callers.of_grpc(plugin, context)
        await caller.check_logins()
        bind_grpc(context, caller)
        return caller

    def _unary(
        self, plugin: str, name: str, impl: Callable[..., Any], answers: str
    ) -> Callable[..., Any]:
        ok = self.calls.labels(name, "OK")

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                caller = await self._bound_caller(plugin, context)
                response = impl(request, context)
                if inspect.isawaitable(response):
                    response = await response
                if type(response) is not Serialized:
                    _check_answer(name, response, answers)
            except Exception as exc:
                await self._abort(plugin, name, exc, context)
            if caller.upstream:
                add_trailers(context, grpc_trailers(caller))
            ok.inc()
            return response

        return call

    def _streaming(
        self, plugin: str, name: str, impl: Callable[..., Any], answers: str
    ) -> Callable[..., Any]:
        ok = self.calls.labels(name, "OK")

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                await self._bound_caller(plugin, context)
                async for item in impl(request, context):
                    if type(item) is not Serialized:
                        _check_answer(name, item, answers)
                    yield item
            except Exception as exc:
                await self._abort(plugin, name, exc, context)
            ok.inc()

        return call

    async def _abort(
        self, plugin: str, name: str, exc: Exception, context: grpc.aio.ServicerContext
    ) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        if not isinstance(exc, HubError):
            log.error("unhandled error in %s", name, exc_info=exc)
            self.calls.labels(name, "INTERNAL").inc()
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            return
        self.calls.labels(name, exc.grpc_code.name).inc()
        exc.plugin = exc.plugin or plugin  # the host's own (the database unavailable) name none
        await abort(context, exc)


def _generated(impl: Any) -> bool:
    """Whether ``impl`` is the generated servicer base class's stand-in (it raises
    ``NotImplementedError``): a method the plugin left out or misspelt."""
    return str(getattr(impl, "__module__", "")).endswith("_pb2_grpc")


def _unimplemented(streaming: bool) -> Callable[..., Any]:
    """What a method left to the generated base class does, as gRPC means it to: answer
    UNIMPLEMENTED (the base's own raises NotImplementedError, an INTERNAL here)."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
        yield None  # never reached: makes this an async generator

    return stream if streaming else unary


def _near_miss(method: str, servicer: Any) -> str:
    """A hint naming the servicer's own method that looks like ``method``, if one does."""
    own = [n for n in dir(servicer) if not n.startswith("_")]
    own = [n for n in own if not _generated(getattr(servicer, n))]
    close = difflib.get_close_matches(method, own, n=1)
    return f" (it has {close[0]}: a misspelling?)" if close else ""


def _check_answer(name: str, answer: Any, answers: str) -> None:
    """A method's answer must be the message its proto declares: another message would be sent
    as it is (the client decoding the wrong fields), a dict would end the call UNKNOWN with
    Python's error text for the client. A TypeError: INTERNAL, with the reason in the log."""
    descriptor = getattr(answer, "DESCRIPTOR", None)
    if getattr(descriptor, "full_name", None) != answers:
        raise TypeError(f"{name} answered {type(answer).__name__}, expected {answers}")


class GrpcServer:
    def __init__(self, hub: Any, reuse_port: bool = False) -> None:
        self.hub = hub
        # SO_REUSEPORT only among the workers of one hub (whose supervisor holds the port): a
        # second hub on the same port must fail, not silently share it
        limits = {plugin: api.max_body or hub.settings.max_body for plugin, api in hub.rest.items()}
        biggest = max([hub.settings.max_body, *limits.values()])
        # gRPC itself refuses (RESOURCE_EXHAUSTED, no trailers) only past 4x the largest body
        # limit; up to there the Guard answers 413 in the table's shape, like REST
        receive = min(max(4 * biggest, 4 * 1024 * 1024), MAX_RECEIVE)
        self.server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", int(reuse_port)),
                ("grpc.max_receive_message_length", receive),
            ]
        )
        errors = ErrorMapping(hub.metrics, hub.service(Callers))
        host = Registrar(self.server, Guard(hub.metrics.grpc_calls, None, hub.settings.max_body))
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, host)
        self.services: dict[str, str] = {}  # service name -> plugin
        for plugin, service in hub.grpc_services:
            if service.name in self.services:
                raise StartupError(
                    f"gRPC service {service.name} is registered by both "
                    f"{self.services[service.name]} and {plugin}"
                )
            guard = Guard(hub.metrics.grpc_calls, plugin, limits.get(plugin, hub.settings.max_body))
            service.add_to_server(errors.servicer(plugin, service), Registrar(self.server, guard))
            self.services[service.name] = plugin
        add_reflection(host, [*self.services, health.SERVICE_NAME])

    def bind(self, host: str, port: int) -> int:
        address = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        if port == 0:  # else checked at start (hub.serve); grpc would log a line of its own
            try:
                family, kind, _, _, where = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
                with socket.socket(family, kind) as probe:
                    probe.bind(where)
            except OSError as exc:
                problem = exc.strerror or exc
                raise OSError(f"cannot listen for gRPC on {address}: {problem}") from None
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
