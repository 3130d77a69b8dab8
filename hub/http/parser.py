"""One HTTP/1.1 request grammar for every connection.

aiohttp's fast parser (llhttp) knows a fixed list of methods and refuses the rest, ERA's
``LOOKUP`` among them. Switching a connection to another parser when such a method appears means
two grammars and a hand-over point where bytes one parser took as a body may be read again by the
other as a request (smuggling). So every connection is parsed, from its first byte, by aiohttp's
pure-Python parser, which accepts any RFC 9110 token as a method, made strict where it is lax:
methods are case-sensitive (it upper-cases them, so ``get`` would be served as ``GET``), and a
CONNECT does not turn the rest of the connection into a tunnel."""

from __future__ import annotations

from aiohttp.http_parser import TOKENRE, HttpRequestParserPy, RawRequestMessage
from aiohttp.streams import StreamReader

NO_TUNNEL = ""  # a method name no request has
Parsed = tuple[list[tuple[RawRequestMessage, StreamReader]], bool, bytes]


class StrictRequestParser(HttpRequestParserPy):
    """aiohttp's Python request parser with case-sensitive methods, and the state the header
    timeout needs: how many request heads were complete, and whether another has begun."""

    heads_parsed = 0

    def feed_data(self, data: bytes) -> Parsed:  # type: ignore[override]
        # The hub is no proxy: a CONNECT is framed like any other request (and answered 405),
        # never taken as the start of a tunnel whose bytes would swallow pipelined requests.
        return super().feed_data(data, METH_CONNECT=NO_TUNNEL)

    def parse_message(self, lines: list[bytes]) -> RawRequestMessage:
        self.heads_parsed += 1
        method = lines[0].partition(b" ")[0]
        if method == method.upper() or not TOKENRE.fullmatch(method.decode("latin-1")):
            return super().parse_message(lines)
        # aiohttp would upper-case it and apply CONNECT's or OPTIONS's target rules to ``connect``
        # or ``options``: parse it as a method without rules of its own, then put it back
        neutral = [b"GET" + lines[0][len(method) :], *lines[1:]]
        return super().parse_message(neutral)._replace(method=method.decode("ascii"))

    @property
    def reading_head(self) -> bool:
        """Bytes of a request head are buffered, its blank line not yet seen. (Not while a body
        is being read, after an upgrade, or while pipelined requests wait for the handler.)"""
        waiting = bool(self._max_msg_queue_size) and self._msg_in_flight >= self._max_msg_queue_size
        in_body = self._payload_parser is not None or self._upgraded
        return not waiting and not in_body and bool(self._lines or self._tail)
