"""Reading request bodies the same way for every plugin: size limit first, then a clear 400; a
body whose next bytes do not come within ``http_body_timeout`` is a 408."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDict

from hub.errors import HubError, quoted
from hub.http.protocol import HubRequestHandler

MAX_BODY_KEY = web.RequestKey("hub_max_body", int)
PLUGIN_KEY = web.RequestKey("hub_plugin", str)
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
MAX_FIELDS = 1000
BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]")  # RFC 2046
HEADER = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
PLAIN_TRANSFER = ("7bit", "8bit", "binary")
CHUNK = 64 * 1024


def too_large(limit: int) -> HubError:
    return HubError(413, f"request body is larger than {limit} bytes", reason="payload_too_large")


def timed_out(seconds: float) -> HubError:
    message = f"request body timed out: no bytes for {seconds:g} seconds"
    return HubError(408, message, reason="request_timeout")


async def read_body(request: web.Request) -> bytes:
    limit = request.get(MAX_BODY_KEY, 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        if request.content.is_eof():  # all of it came with the head (a small body does)
            body = request.content.read_nowait()
            if len(body) > limit:
                raise too_large(limit)
            return body
        return b"".join(await _arriving(request, limit))
    except RequestPayloadError as exc:  # a Content-Encoding or chunked framing that is broken
        detail = getattr(exc.__cause__, "message", None) or str(exc)
        raise HubError(400, f"request body cannot be read: {detail}", reason="bad_body") from None
    except ConnectionResetError:  # the client left before sending all it announced
        message = "request body is incomplete: the connection closed"
        raise HubError(400, message, reason="bad_body") from None


async def _arriving(request: web.Request, limit: int) -> list[bytes]:
    """The chunks of a body still arriving, each awaited for at most the listener's body
    timeout: its whole may take as long as it takes, a pause may not."""
    protocol = request.protocol
    idle = None  # an application served by plain aiohttp (a test's) waits without end
    if isinstance(protocol, HubRequestHandler):
        idle = protocol.listener.limits.body_timeout
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(None) as deadline:
            while True:
                deadline.reschedule(None if idle is None else loop.time() + idle)
                chunk = await request.content.read(CHUNK)
                if not chunk:
                    return chunks
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:  # only the deadline above raises it, and only on a hub listener
        if not isinstance(protocol, HubRequestHandler):
            raise
        protocol.body_stalled(request)
        raise timed_out(protocol.listener.limits.body_timeout) from None


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


@dataclass(frozen=True)
class FormFile:
    """A multipart part sent as a file (it has a ``filename``)."""

    filename: str
    content_type: str
    data: bytes


def bad_form(message: str) -> HubError:
    return HubError(400, message, reason="bad_body")


async def read_form(request: web.Request) -> MultiDict[str | FormFile]:
    """A ``multipart/form-data`` or urlencoded body, read under the plugin's size limit like any
    other and parsed strictly here (not by aiohttp, whose multipart reader raises a dozen kinds
    of exception): anything malformed is a 400 saying what."""
    raw = await read_body(request)
    if request.content_type == MULTIPART:
        return _multipart(raw, request.headers.get("Content-Type", ""))
    if request.content_type == URLENCODED:
        return _urlencoded(raw, request.charset or "utf-8")
    raise bad_form(f"Content-Type: expected {MULTIPART} or {URLENCODED}")


def _decoded(raw: bytes, charset: str, what: str) -> str:
    try:
        return raw.decode(charset)
    except LookupError:
        raise bad_form(f"{what}: unknown charset {quoted(charset)}") from None
    except ValueError:
        raise bad_form(f"{what}: not valid {charset} text") from None


def _urlencoded(raw: bytes, charset: str) -> MultiDict[str | FormFile]:
    text = _decoded(raw, charset, "body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise bad_form("body: a percent-encoded value is not valid UTF-8") from None
    except ValueError:
        raise bad_form(f"body: more than {MAX_FIELDS} fields") from None
    return MultiDict(pairs)


def _params(header: str, value: str) -> Message:
    """``value`` as an email header, for its standard parameter parsing (quotes, RFC 2231)."""
    message = Message()
    message[header] = value
    return message


def _param(message: Message, name: str, header: str) -> str | None:
    value = message.get_param(name, header=header)
    return None if value is None else collapse_rfc2231_value(value)


def _multipart(raw: bytes, content_type: str) -> MultiDict[str | FormFile]:
    """RFC 7578: parts between ``--boundary`` lines, each with its headers, a blank line and
    its content; a preamble and an epilogue are allowed, nothing else."""
    boundary = _param(_params("Content-Type", content_type), "boundary", "content-type")
    if boundary is None or not BOUNDARY.fullmatch(boundary):
        raise bad_form(f"Content-Type: {MULTIPART} needs a boundary of 1 to 70 characters")
    fields: MultiDict[str | FormFile] = MultiDict()
    sections = (b"\r\n" + raw).split(b"\r\n--" + boundary.encode())
    for number, section in enumerate(sections[1:], 1):
        if section.startswith(b"--"):
            return fields  # the closing boundary; what follows is the epilogue
        if number > MAX_FIELDS:
            raise bad_form(f"body: more than {MAX_FIELDS} parts")
        padding, newline, part = section.partition(b"\r\n")
        if padding.strip(b" \t") or not newline:
            raise bad_form(f"body: part {number}: the boundary line must end with CRLF")
        fields.add(*_part(part, number))
    if len(sections) == 1:
        raise bad_form(f"body: no part starts with the boundary {quoted(boundary)}")
    raise bad_form(f"body: the closing boundary --{boundary}-- is missing")


def _part(part: bytes, number: int) -> tuple[str, str | FormFile]:
    where = f"body: part {number}"
    if part.startswith(b"\r\n"):
        head, content = b"", part[2:]
    else:
        head, blank, content = part.partition(b"\r\n\r\n")
        if not blank:
            raise bad_form(f"{where}: no blank line ends its headers")
    headers: dict[str, str] = {}
    for line in _decoded(head, "utf-8", f"{where} headers").split("\r\n") if head else ():
        match = HEADER.fullmatch(line)
        if match is None:
            raise bad_form(f"{where}: header line {quoted(line)} is not 'Name: value'")
        name = match[1].lower()
        if name in headers:
            raise bad_form(f"{where}: header {match[1]} is given twice")
        headers[name] = match[2]
    disposition = _params("Content-Disposition", headers.get("content-disposition", ""))
    name = _param(disposition, "name", "content-disposition")
    if disposition.get_content_disposition() != "form-data" or not name:
        raise bad_form(f'{where}: expected Content-Disposition: form-data; name="..."')
    transfer = headers.get("content-transfer-encoding", "binary").lower()
    if transfer not in PLAIN_TRANSFER:
        raise bad_form(f"{where} ({name}): Content-Transfer-Encoding {transfer} is not supported")
    kind = _params("Content-Type", headers.get("content-type", "text/plain"))
    filename = _param(disposition, "filename", "content-disposition")
    if filename is not None:
        return name, FormFile(filename, kind.get_content_type(), content)
    return name, _decoded(content, kind.get_content_charset("utf-8"), f"{where} ({name})")
