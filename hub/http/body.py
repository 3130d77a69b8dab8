"""Reading request bodies the same way for every plugin: size limit first, then a clear 400."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from hub.errors import HubError

MAX_BODY_KEY = web.RequestKey("hub_max_body", int)
PLUGIN_KEY = web.RequestKey("hub_plugin", str)


def too_large(limit: int) -> HubError:
    return HubError(413, f"request body is larger than {limit} bytes", reason="payload_too_large")


async def read_body(request: web.Request) -> bytes:
    limit = request.get(MAX_BODY_KEY, 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except RequestPayloadError as exc:  # a Content-Encoding or chunked framing that is broken
        detail = getattr(exc.__cause__, "message", None) or str(exc)
        raise HubError(400, f"request body cannot be read: {detail}", reason="bad_body") from None
    except ConnectionResetError:  # the client left before sending all it announced
        message = "request body is incomplete: the connection closed"
        raise HubError(400, message, reason="bad_body") from None
    return b"".join(chunks)


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The parsed JSON body; ``HubError(400)`` saying what is wrong with it otherwise."""
    raw = await read_body(request)
    if not raw.strip():
        if required:
            raise HubError(400, "request body is empty: expected JSON", reason="bad_json")
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HubError(400, f"request body is not valid JSON: {exc}", reason="bad_json") from None
