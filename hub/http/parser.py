"""Let extension HTTP methods such as ERA's ``LOOKUP`` through.

aiohttp parses requests with llhttp, which only knows a fixed list of methods and answers any
other with 400. Connections start on llhttp; the first time one sends a method llhttp refuses,
that connection switches to aiohttp's pure-Python parser, which accepts any RFC 9110 token.
Ordinary traffic keeps the fast parser."""

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

    def feed_data(self, data: bytes, *args: Any) -> Any:
        try:
            return self._parser.feed_data(data, *args)
        except BadHttpMethod:
            if isinstance(self._parser, _TOLERANT):
                raise
            self._parser = _TOLERANT(*self._args, **self._kwargs)
            return self._parser.feed_data(data, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def install() -> None:
    """Make aiohttp's request handler build :class:`ExtensionMethodParser` (idempotent)."""
    if _FAST is not _TOLERANT:
        web_protocol.HttpRequestParser = ExtensionMethodParser  # type: ignore[misc,assignment]
