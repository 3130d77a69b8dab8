"""Let extension HTTP methods such as ERA's ``LOOKUP`` through.

aiohttp parses requests with llhttp, which only knows a fixed list of methods and answers any
other with 400. Connections start on llhttp; the first time one sends a method llhttp refuses,
that connection switches to aiohttp's pure-Python parser, which accepts any RFC 9110 token.
Ordinary traffic keeps the fast parser.

The chunk that failed is parsed again by the new parser, from the first request that starts in
it: bytes at its head that still belong to the previous request's body (a client that sent a
body the handler never read, e.g. after an early 401/405/413) were already consumed by llhttp
and are skipped. (Not covered: a request's *headers* split across reads with an extension method
pipelined right behind them, and more than aiohttp's 32 pipelined requests in one read.)"""

from __future__ import annotations

from typing import Any

from aiohttp import http_parser, web_protocol
from aiohttp.http_exceptions import BadHttpMethod

_FAST = web_protocol.HttpRequestParser
_TOLERANT = http_parser.HttpRequestParserPy


class ExtensionMethodParser:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._parser: Any = _FAST(*args, **kwargs)
        self._fast = _FAST is not _TOLERANT
        self._body: Any = None  # the payload of the last request while its body may be arriving
        self._body_length = 0  # its Content-Length

    def feed_data(self, data: bytes, *args: Any) -> Any:
        if not self._fast:
            return self._parser.feed_data(data, *args)
        owed = self._body_length - self._body.total_bytes if self._body is not None else 0
        try:
            result = self._parser.feed_data(data, *args)
        except BadHttpMethod:
            self._fast = False
            self._parser = _TOLERANT(*self._args, **self._kwargs)
            return self._parser.feed_data(data[max(owed, 0):], *args)
        self._track(result[0])
        return result

    def _track(self, messages: Any) -> None:
        """Remember the last request's payload when its body is framed by Content-Length."""
        if not messages:
            return
        message, payload = messages[-1]
        length = message.headers.get("Content-Length", "")
        if message.chunked or message.compression or not length.isdigit() or int(length) == 0:
            self._body = None
        else:
            self._body, self._body_length = payload, int(length)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def install() -> None:
    """Make aiohttp's request handler build :class:`ExtensionMethodParser` (idempotent)."""
    if _FAST is not _TOLERANT:
        web_protocol.HttpRequestParser = ExtensionMethodParser  # type: ignore[misc,assignment]
