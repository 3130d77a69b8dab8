"""The ``rop`` plugin against a real hub: the seed's REST methods (and its curl examples), real
audio intake from a local file server, checklists/tables, analysis (the hook and outside
analysers), and REST, GraphQL and gRPC side by side."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from hub_rop.v1 import rop_pb2

from hub.paging import Seek, decode_cursor
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_audio import MP3_FRAME_SECONDS, wav_bytes
from tests.rop_client import Rop, from_grpc, snaked, uid, until
from tests.rop_fixtures import audio_fixture, hub_fixture, receiver_fixture, rop_fixture
from tests.rop_servers import AudioServer, ThreadedServer, WebhookReceiver

CAP = 200_000  # HUB_ROP_MAX_AUDIO_BYTES in tests.rop_client.FAST
SECRET = "checklist-secret-0123456789"


audio = audio_fixture(CAP)
receiver = receiver_fixture({"/checklist": SECRET, "/table": SECRET})
hub = hub_fixture("rop")
rop = rop_fixture()


@pytest.fixture
async def key(rop: Rop) -> str:
    return await rop.new_key()


def upload_fields(audio: AudioServer, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "manager_id": "mgr_001",
        "call_id": uid(),
        "deal_id": "deal_5678",
        "deal_stage_id": "stage_qualification",
        "audio_url": audio.url(path),
        **extra,
    }


class FileHost(ThreadedServer):
    """A file host that fails: 5xx, 4xx, a connection cut mid-answer, and ``/flaky.wav`` that
    answers 503 ``failures[path]`` times before it serves a recording."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        app = web.Application()
        app.router.add_get("/cut", self.cut)
        app.router.add_get("/{name}", self.serve)
        super().__init__(app)

    async def serve(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name.isdigit():
            return web.Response(status=int(name), text="failing on purpose")
        if self.failures.get(request.path, 0) > 0:
            self.failures[request.path] -= 1
            return web.Response(status=503, text="try later")
        if name == "flaky.wav":
            return web.Response(body=wav_bytes(1.0), content_type="audio/wav")
        return web.Response(status=410, text="gone")

    async def cut(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()  # no status line at all
        return web.Response()


# -- the seed's own examples ------------------------------------------------------------------
async def test_seed_availability_check_without_api_key_is_401(rop: Rop) -> None:
    status, body, _ = await rop.rest("GET", "/tables/call-ready?tab=test&call=1", None)
    assert status == 401
    assert body["error"] == "unauthorized" and "apiKey" in body["message"]


async def test_seed_test_upload_omitting_deal_fields_is_400_naming_them(
    rop: Rop, key: str, audio: AudioServer
) -> None:
    fields = {
        "manager_id": "test_manager",
        "call_id": "test_call_001",
        "audio_url": audio.url("/call.mp3"),
    }
    status, body, _ = await rop.upload(key, fields)
    assert status == 400
    assert body == {"error": "bad_request", "message": "deal_id, deal_stage_id: required"}
    err = await rop.gql_error(
        "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { status } }",
        {
            "i": {
                "managerId": "test_manager",
                "callId": "test_call_001",
                "audioUrl": audio.url("/call.mp3"),
            }
        },
        token=key,
    )
    assert err["message"] == body["message"] and err["extensions"]["code"] == "BAD_REQUEST"
    rpc = await rop.rpc_error(
        "UploadCall",
        rop_pb2.UploadCallRequest(
            manager_id="test_manager", call_id="test_call_001", audio_url=audio.url("/call.mp3")
        ),
        key,
    )
    assert rpc.code() == grpc.StatusCode.INVALID_ARGUMENT and rpc.details() == body["message"]
    _, calls, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": "x", "call": "test_call_001"}
    )
    assert calls == {"error": "not_found", "message": "tab: no table 'x'"}


async def test_seed_curl_upload_multipart_is_queued_then_downloaded_and_measured(
    rop: Rop, key: str, audio: AudioServer
) -> None:
    fields = upload_fields(audio, "/call.mp3")
    status, body, _ = await rop.upload(key, fields)
    assert (status, body) == (200, {"status": "queued", "call_id": fields["call_id"]})
    assert ("/call.mp3", "bytes=0-15") in audio.requests  # the ranged fetch at upload time
    call = await rop.call_in(fields["call_id"], key, ("awaiting_analysis", "rejected"))
    assert call["status"] == "awaiting_analysis", call
    assert call["format"] == "mp3"
    assert call["sizeBytes"] == len(audio.files["/call.mp3"][0])
    assert abs(call["duration"] - round(3.0 / MP3_FRAME_SECONDS) * MP3_FRAME_SECONDS) < 0.05


@pytest.mark.parametrize(
    ("path", "kind", "fmt", "seconds"),
    [("/call.wav", "urlencoded", "wav", 2.5), ("/call.ogg", "json", "ogg", 4.25)],
)
async def test_wav_and_ogg_in_every_body_type(
    rop: Rop, key: str, audio: AudioServer, path: str, kind: str, fmt: str, seconds: float
) -> None:
    fields = upload_fields(audio, path, duration=3)
    status, body, _ = await rop.upload(key, fields, kind)
    assert status == 200, body
    call = await rop.call_in(fields["call_id"], key, ("awaiting_analysis", "rejected"))
    assert (call["status"], call["format"]) == ("awaiting_analysis", fmt), call
    assert call["duration"] == pytest.approx(seconds, abs=0.01)
    assert call["declaredDuration"] == 3  # what the CRM said is kept beside what the file says


# -- rejections -------------------------------------------------------------------------------
async def stored(rop: Rop, call_id: str, key: str) -> dict[str, Any] | None:
    """The call as GraphQL shows it, or None when the hub has no such call."""
    answer = await rop.gql(
        "query($id: String!) { rop { call(callId: $id) { status reason } } }", {"id": call_id}, key
    )
    if answer.get("errors"):
        assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND", answer
        return None
    return answer["data"]["rop"]["call"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/notes.txt", "/disguised.mp3"])
async def test_not_audio_is_400_and_stores_nothing(
    rop: Rop, key: str, audio: AudioServer, path: str
) -> None:
    fields = upload_fields(audio, path)
    status, body, _ = await rop.upload(key, fields)
    assert status == 400 and body["error"] == "not_audio", body
    assert "not MP3, WAV or OGG" in body["message"]
    assert await stored(rop, fields["call_id"], key) is None  # a refused request stores nothing
    # the same call may be sent again, with a recording this time
    again = {**fields, "audio_url": audio.url("/call.wav")}
    status, body, _ = await rop.upload(key, again)
    assert status == 200, body
    await rop.call_in(fields["call_id"], key, ("awaiting_analysis",))


async def test_a_refused_upload_leaves_a_rejected_call_as_it_was(
    rop: Rop, key: str, audio: AudioServer
) -> None:
    fields = upload_fields(audio, "/long.wav")
    assert (await rop.upload(key, fields))[0] == 200
    await rop.call_in(fields["call_id"], key, ("rejected",))
    status, body, _ = await rop.upload(key, {**fields, "audio_url": audio.url("/notes.txt")})
    assert (status, body["error"]) == (400, "not_audio")
    assert await stored(rop, fields["call_id"], key) == {"status": "rejected", "reason": "too_long"}
    status, _, _ = await rop.upload(key, {**fields, "audio_url": audio.url("/call.wav")})
    assert status == 200
    await rop.call_in(fields["call_id"], key, ("awaiting_analysis",))


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/long.wav", "too_long"), ("/big.wav", "too_large"), ("/big-chunked.wav", "too_large")],
)
async def test_background_rejections_keep_their_reason(
    rop: Rop, key: str, audio: AudioServer, path: str, reason: str
) -> None:
    fields = upload_fields(audio, path)
    status, body, _ = await rop.upload(key, fields)
    assert status == 200, body  # the start of the file is audio: it is taken, then checked
    call = await rop.call_in(fields["call_id"], key, ("rejected", "awaiting_analysis"))
    assert (call["status"], call["reason"]) == ("rejected", reason), call
    assert call["detail"].startswith("audio:")
    listed = from_grpc(
        await rop.rpc("ListCalls", rop_pb2.ListCallsRequest(status="rejected", limit=1000), key)
    )
    assert any(c["call_id"] == fields["call_id"] and c["reason"] == reason for c in listed["calls"])
    _, ready, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": "nope", "call": fields["call_id"]}
    )
    assert ready["error"] == "not_found"


@pytest.fixture(scope="module")
def file_host() -> Iterator[FileHost]:
    server = FileHost()
    yield server
    server.stop()


def refused_url() -> tuple[socket.socket, str]:
    """A URL of a port that is bound and not listening: connecting is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/call.wav"


@pytest.mark.parametrize(
    ("where", "status", "grpc_code", "message"),
    [
        ("refused", 503, grpc.StatusCode.UNAVAILABLE, "audio_url: cannot connect to the file host"),
        ("/hang.mp3", 504, grpc.StatusCode.DEADLINE_EXCEEDED, "audio_url: no answer within 1s"),
        ("/503", 502, grpc.StatusCode.UNAVAILABLE, "audio_url: the file host answered HTTP 503"),
        ("/500", 502, grpc.StatusCode.UNAVAILABLE, "audio_url: the file host answered HTTP 500"),
        ("/cut", 502, grpc.StatusCode.UNAVAILABLE, "audio_url: the file host's answer is broken"),
    ],
)
async def test_a_file_host_that_fails_is_an_upstream_error_and_stores_nothing(
    rop: Rop,
    key: str,
    audio: AudioServer,
    file_host: FileHost,
    where: str,
    status: int,
    grpc_code: grpc.StatusCode,
    message: str,
) -> None:
    """A CRM retries on 5xx (the seed says so): a file host that is down, slow or failing is
    the upstream row of the error table, over every protocol, and keeps no call."""
    sock, url = refused_url()
    with sock:
        if where != "refused":
            url = (audio if where == "/hang.mp3" else file_host).url(where)
        fields = {**upload_fields(audio, "/call.wav"), "audio_url": url}
        answer, body, _ = await rop.upload(key, fields)
        assert (answer, body["error"]) == (status, "upstream_unavailable"), body
        assert body["message"].startswith(message), body
        err = await rop.gql_error(
            "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { status } }",
            {"i": {snake_to_camel(k): v for k, v in fields.items()}},
            token=key,
        )
        assert err["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert err["extensions"]["status"] == status and err["message"].startswith(message)
        rpc = await rop.rpc_error("UploadCall", rop_pb2.UploadCallRequest(**fields), key)
        assert rpc.code() == grpc_code and rpc.details().startswith(message)
        assert dict(rpc.trailing_metadata() or ())["hub-status"] == str(status)
    assert await stored(rop, fields["call_id"], key) is None


async def test_the_same_upload_succeeds_once_the_file_host_recovers(
    rop: Rop, key: str, audio: AudioServer, file_host: FileHost
) -> None:
    file_host.failures["/flaky.wav"] = 2
    fields = {**upload_fields(audio, "/call.wav"), "audio_url": file_host.url("/flaky.wav")}
    for _ in range(2):
        status, body, _ = await rop.upload(key, fields)
        assert (status, body["error"]) == (502, "upstream_unavailable"), body
    status, body, _ = await rop.upload(key, fields)
    assert (status, body) == (200, {"status": "queued", "call_id": fields["call_id"]})
    call = await rop.call_in(fields["call_id"], key, ("awaiting_analysis", "rejected"))
    assert (call["status"], call["format"]) == ("awaiting_analysis", "wav"), call


@pytest.mark.parametrize(("path", "code"), [("/absent.mp3", 404), ("/gone", 410)])
async def test_a_4xx_from_the_file_host_is_400(
    rop: Rop, key: str, audio: AudioServer, file_host: FileHost, path: str, code: int
) -> None:
    """The file is not there: the same upload cannot succeed later."""
    url = (audio if path == "/absent.mp3" else file_host).url(path)
    fields = {**upload_fields(audio, "/call.wav"), "audio_url": url}
    status, body, _ = await rop.upload(key, fields)
    assert (status, body) == (
        400,
        {"error": "bad_request", "message": f"audio_url: answered HTTP {code}"},
    )
    assert await stored(rop, fields["call_id"], key) is None


async def test_a_known_call_id_is_409_everywhere(rop: Rop, key: str, audio: AudioServer) -> None:
    fields = upload_fields(audio, "/call.wav")
    assert (await rop.upload(key, fields))[0] == 200
    status, body, _ = await rop.upload(key, fields, "json")
    assert status == 409
    assert body == {
        "error": "conflict",
        "message": f"call_id: call {fields['call_id']!r} is already known",
    }
    err = await rop.gql_error(
        "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { status } }",
        {"i": {snake_to_camel(k): v for k, v in fields.items()}},
        token=key,
    )
    assert err["extensions"]["code"] == "CONFLICT" and err["message"] == body["message"]
    rpc = await rop.rpc_error("UploadCall", rop_pb2.UploadCallRequest(**fields), key)
    assert rpc.code() == grpc.StatusCode.ALREADY_EXISTS


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"duration": "0"}, "duration: expected seconds between 1 and 2700, got '0'"),
        ({"duration": "2701"}, "duration: expected seconds between 1 and 2700, got '2701'"),
        ({"duration": "long"}, "duration: expected seconds between 1 and 2700, got 'long'"),
        ({"audio_url": "ftp://x/a"}, "audio_url: expected an http or https URL, got 'ftp://x/a'"),
        # hosts no resolver takes (a label empty or over 63 characters), a broken IPv6 literal:
        # each was a 500 when the fetch raised instead of answering
        ({"audio_url": "http://a..b/x"}, "audio_url: bad host name in 'http://a..b/x'"),
        ({"audio_url": "http://.com/x"}, "audio_url: bad host name in 'http://.com/x'"),
        (
            {"audio_url": f"http://{'a' * 64}.com/x"},
            f"audio_url: bad host name in 'http://{'a' * 64}.com/x'",
        ),
        ({"audio_url": "http://[::1/x"}, "audio_url: not a URL: 'http://[::1/x'"),
        # an invisible character (the HTTP client would refuse the host): not the file host
        # failing (502)
        (
            {"audio_url": "http://a\u200db.com/x"},
            "audio_url: a control or invisible character in 'http://a\\u200db.com/x'",  # repr
        ),
        (
            {"colour": "red"},
            "colour: unknown field; expected manager_id, call_id, deal_id,"
            " deal_stage_id, audio_url, duration",
        ),
        ({"call_id": " "}, "call_id: required, a non-empty string"),
    ],
)
async def test_bad_upload_fields_are_named_and_store_nothing(
    rop: Rop, key: str, audio: AudioServer, change: dict[str, str], message: str
) -> None:
    fields = {**upload_fields(audio, "/call.wav"), **change}
    status, body, _ = await rop.upload(key, fields, "urlencoded")
    assert (status, body) == (400, {"error": "bad_request", "message": message})
    err = (
        await rop.gql_error(
            "{ rop { call(callId: $id) { status } } }".replace("$id", f'"{fields["call_id"]}"'),
            token=key,
        )
        if fields["call_id"].strip()
        else None
    )
    assert err is None or err["extensions"]["code"] == "NOT_FOUND"


async def test_bodies_the_hub_refuses_get_the_documented_shape(rop: Rop, key: str) -> None:
    def typed(data: Any, kind: str) -> dict[str, Any]:
        return {"data": data, "headers": {"Content-Type": kind}}

    cases = [
        ("POST", "/calls/audio-upload", typed(b"{", "application/json"), 400),
        ("POST", "/calls/audio-upload", typed(b"x", "text/plain"), 400),
        ("POST", "/calls/audio-upload", typed("a=1&a=2", "application/x-www-form-urlencoded"), 400),
        ("POST", "/settings/offices-update", {"data": b"x" * (1024 * 1024 + 1)}, 413),
        ("GET", "/calls/audio-upload", {}, 405),
        ("GET", "/nowhere", {}, 404),
        ("GET", "/tables/call-ready", {"params": {"tab": "t", "call": "c", "extra": "1"}}, 400),
    ]
    for method, path, kwargs, expected in cases:
        status, body, _ = await rop.rest(method, path, key, **kwargs)
        assert status == expected, (path, body)
        assert set(body) == {"error", "message"} and body["error"] in (
            "bad_request",
            "not_found",
            "payload_too_large",
        ), body


def multipart(*parts: bytes, close: bool = True) -> bytes:
    """A multipart/form-data body with boundary ``XyZ``, as curl lays it out."""
    body = b"".join(b"--XyZ\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--XyZ--\r\n" if close else b"")


def form_part(name: str, value: str, *headers: str) -> bytes:
    lines = [f'Content-Disposition: form-data; name="{name}"', *headers, "", value]
    return "\r\n".join(lines).encode()


async def test_the_seed_curl_multipart_body_is_taken(
    rop: Rop, key: str, audio: AudioServer
) -> None:
    fields = upload_fields(audio, "/call.wav")
    body = b"preamble\r\n" + multipart(*(form_part(k, v) for k, v in fields.items()))
    status, answer, _ = await rop.rest(
        "POST",
        "/calls/audio-upload",
        key,
        data=body,
        headers={"Content-Type": 'multipart/form-data; boundary="XyZ"'},
    )
    assert (status, answer) == (200, {"status": "queued", "call_id": fields["call_id"]})


GOOD = form_part("manager_id", "mgr_001")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            multipart(b"\x00\x01\x02garbage\r\n\r\nx"),
            None,
            r"body: part 1: header line '\x00\x01\x02garbage' is not 'Name: value'",
        ),
        (
            multipart(GOOD, b'Content-Disposition: form-data;\r\n name="a"\r\n\r\nx'),
            None,
            "body: part 2: header line ' name=\"a\"' is not 'Name: value'",
        ),
        (multipart(GOOD, close=False), None, "body: the closing boundary --XyZ-- is missing"),
        (b"no parts at all", None, "body: no part starts with the boundary 'XyZ'"),
        (
            multipart(GOOD),
            "multipart/form-data",
            "Content-Type: multipart/form-data needs a boundary of 1 to 70 characters",
        ),
        (
            multipart(b'Content-Disposition: form-data; name="a"\r\nx'),
            None,
            "body: part 1: no blank line ends its headers",
        ),
        (
            multipart(b"Content-Disposition: attachment\r\n\r\nx"),
            None,
            'body: part 1: expected Content-Disposition: form-data; name="..."',
        ),
        (
            multipart(
                b'Content-Disposition: form-data; name="a"\r\nContent-Disposition: x\r\n\r\n'
            ),
            None,
            "body: part 1: header Content-Disposition is given twice",
        ),
        (
            multipart(form_part("call_id", "x", "Content-Type: text/plain; charset=nope")),
            None,
            "body: part 1 (call_id): unknown charset 'nope'",
        ),
        (
            multipart(form_part("call_id", "x", "Content-Type: text/plain; charset=rot13")),
            None,
            "body: part 1 (call_id): unknown charset 'rot13'",
        ),
        (
            multipart(b'Content-Disposition: form-data; name="call_id"\r\n\r\n\xff\xfe'),
            None,
            "body: part 1 (call_id): not valid utf-8 text",
        ),
        (
            multipart(b'Content-Disposition: form-data; name="\xff"\r\n\r\nx'),
            None,
            "body: part 1 headers: not valid utf-8 text",
        ),
        (
            multipart(form_part("call_id", "eA==", "Content-Transfer-Encoding: base64")),
            None,
            "body: part 1 (call_id): Content-Transfer-Encoding base64 is not supported",
        ),
        (
            b'--XyZ\nContent-Disposition: form-data; name="a"\n\nx\n--XyZ--\n',
            None,
            "body: part 1: the boundary line must end with CRLF",
        ),
        (multipart(*[GOOD] * 1001), None, "body: more than 1000 parts"),
        (
            b"call_id=%ff",
            "application/x-www-form-urlencoded",
            "body: a percent-encoded value is not valid UTF-8",
        ),
        (
            b"call_id=x",
            "application/x-www-form-urlencoded; charset=nope",
            "body: unknown charset 'nope'",
        ),
        (b"\xff", "application/x-www-form-urlencoded", "body: not valid utf-8 text"),
        (
            multipart(
                form_part("call_id", "x", "Content-Type: a/b").replace(
                    b'name="call_id"', b'name="call_id"; filename="a.mp3"'
                )
            ),
            None,
            "call_id: expected a text field, not a file",
        ),
    ],
)
async def test_a_malformed_form_is_400_naming_the_problem(
    rop: Rop, key: str, body: bytes, content_type: str | None, message: str
) -> None:
    """Was a 500 ``internal`` (aiohttp's multipart reader raised InvalidHeader); the host now
    reads every form itself, strictly, under the plugin's size limit."""
    headers = {"Content-Type": content_type or "multipart/form-data; boundary=XyZ"}
    status, answer, _ = await rop.rest(
        "POST", "/calls/audio-upload", key, data=body, headers=headers
    )
    assert (status, answer) == (400, {"error": "bad_request", "message": message})


async def test_a_form_past_the_body_limit_is_413_without_content_length(rop: Rop, key: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield multipart(GOOD, close=False)
        for _ in range(17):
            yield b"x" * 65536

    status, answer, _ = await rop.rest(
        "POST",
        "/calls/audio-upload",
        key,
        data=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert (status, answer["error"]) == (413, "payload_too_large")


# -- offices and managers -----------------------------------------------------------------------
SEED_OFFICES = {
    "offices": [
        {
            "office_title": "Офис продаж Центр",
            "office_id": "office_001",
            "leader_ids": ["leader_123", "leader_456"],
            "managers_ids": ["manager_789", "manager_012"],
        }
    ]
}


async def test_offices_are_replaced_in_one_transaction(rop: Rop, key: str) -> None:
    status, body, _ = await rop.rest("POST", "/settings/offices-update", key, json=SEED_OFFICES)
    assert (status, body) == (200, {"status": "ok", "offices": 1, "leaders": 2, "managers": 2})
    second = {
        "offices": [
            {
                "office_title": "Север",
                "office_id": "office_002",
                "leader_ids": [],
                "managers_ids": ["m1"],
            },
            {"office_title": "Юг", "office_id": "office_003", "managers_ids": ["m2", "m3"]},
        ]
    }
    status, body, _ = await rop.rest("POST", "/settings/offices-update", key, json=second)
    assert body == {"status": "ok", "offices": 2, "leaders": 0, "managers": 3}
    bad = {"offices": [*second["offices"], {"office_title": "Дубль", "office_id": "office_002"}]}
    status, body, _ = await rop.rest("POST", "/settings/offices-update", key, json=bad)
    assert (status, body["message"]) == (400, "offices[2].office_id: 'office_002' is listed twice")
    data = await rop.gql_data(
        "{ rop { offices { officeId officeTitle leaderIds managersIds } } }", token=key
    )
    expected = [
        {
            "office_id": o["office_id"],
            "office_title": o["office_title"],
            "leader_ids": o.get("leader_ids", []),
            "managers_ids": o["managers_ids"],
        }
        for o in second["offices"]
    ]
    assert snaked(data["rop"]["offices"]) == expected
    listed = from_grpc(await rop.rpc("ListOffices", rop_pb2.ListOfficesRequest(), key))
    assert listed["offices"] == expected
    via_grpc = from_grpc(
        await rop.rpc(
            "UpdateOffices",
            rop_pb2.UpdateOfficesRequest(
                offices=[rop_pb2.Office(office_title="Центр", office_id="o1", leader_ids=["l"])]
            ),
            key,
        )
    )
    assert via_grpc == {"status": "ok", "offices": "1", "leaders": "1", "managers": "0"}


async def test_managers_are_upserted_with_counts(rop: Rop, key: str) -> None:
    first = uid("manager")
    seed = {
        "managers": [
            {"manager_id": first, "name": "Иван", "surname": "Иванов", "middlename": "Иванович"}
        ]
    }
    status, body, _ = await rop.rest("POST", "/settings/managers-update", key, json=seed)
    assert (status, body) == (200, {"status": "ok", "received": 1, "created": 1, "updated": 0})
    second = uid("manager")
    data = await rop.gql_data(
        "mutation($m: [RopManagerInput!]!) { ropUpdateManagers(managers: $m) {"
        " status received created updated } }",
        {
            "m": [
                {"managerId": first, "name": "Иван", "surname": "Петров"},
                {"managerId": second, "name": "Анна", "surname": "Смирнова"},
            ]
        },
        token=key,
    )
    assert data["ropUpdateManagers"] == {"status": "ok", "received": 2, "created": 1, "updated": 1}
    listed = from_grpc(await rop.rpc("ListManagers", rop_pb2.ListManagersRequest(limit=1000), key))
    mine = {m["manager_id"]: m for m in listed["managers"]}
    assert mine[first] == {
        "manager_id": first,
        "name": "Иван",
        "surname": "Петров",
        "middlename": "",
    }
    assert mine[second]["surname"] == "Смирнова"


async def test_only_manager_id_is_required(rop: Rop, key: str) -> None:
    """The seed marks no field of a manager as required but its id: the rest may be left out,
    over every protocol, and a manager's record is then what was sent (left out: empty)."""
    ids = [uid("manager") for _ in range(3)]
    status, body, _ = await rop.rest(
        "POST",
        "/settings/managers-update",
        key,
        json={"managers": [{"manager_id": ids[0]}, {"manager_id": ids[1], "name": "Иван"}]},
    )
    assert (status, body) == (200, {"status": "ok", "received": 2, "created": 2, "updated": 0})
    data = await rop.gql_data(
        "mutation($m: [RopManagerInput!]!) { ropUpdateManagers(managers: $m) { created } }",
        {"m": [{"managerId": ids[2], "surname": "Смирнова"}]},
        token=key,
    )
    assert data["ropUpdateManagers"] == {"created": 1}
    reply = await rop.rpc(
        "UpdateManagers",
        rop_pb2.UpdateManagersRequest(managers=[rop_pb2.Manager(manager_id=ids[1])]),
        key,
    )
    assert (reply.created, reply.updated) == (0, 1)
    listed = from_grpc(await rop.rpc("ListManagers", rop_pb2.ListManagersRequest(limit=1000), key))
    mine = {m["manager_id"]: m for m in listed["managers"] if m["manager_id"] in ids}
    empty = {"name": "", "surname": "", "middlename": ""}
    assert mine == {
        ids[0]: {"manager_id": ids[0], **empty},
        ids[1]: {"manager_id": ids[1], **empty},
        ids[2]: {"manager_id": ids[2], **empty, "surname": "Смирнова"},
    }
    for manager, message in [
        ({}, "managers[0].manager_id: required, a non-empty string"),
        ({"manager_id": ids[0], "surname": 5}, "managers[0].surname: expected a string"),
    ]:
        status, body, _ = await rop.rest(
            "POST", "/settings/managers-update", key, json={"managers": [manager]}
        )
        assert (status, body) == (400, {"error": "bad_request", "message": message})


async def test_sixty_requests_a_minute_per_key(rop: Rop, key: str) -> None:
    for _ in range(60):
        status, _, _ = await rop.rest("GET", "/tables/call-ready?tab=t&call=c", key)
        assert status == 404
    status, body, headers = await rop.rest("GET", "/tables/call-ready?tab=t&call=c", key)
    assert status == 429 and body["error"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    err = await rop.gql_error('{ rop { callReady(tab: "t", call: "c") { ready } } }', token=key)
    assert err["extensions"]["code"] == "RATE_LIMITED"
    other = await rop.new_key()
    assert (await rop.rest("GET", "/tables/call-ready?tab=t&call=c", other))[0] == 404


# -- checklists, tables and analysis ------------------------------------------------------------
CHECKLIST = """mutation($i: RopChecklistInput!) { ropPutChecklist(input: $i) {
  id name webhookUrl stages { id name criteria } } }"""
TABLE = """mutation($i: RopTableInput!) { ropPutTable(input: $i) {
  id name webhookUrl fields { name description } } }"""
SUBMIT = """mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { callId status
  checklistResults { checklistName totalScore maxScore completionPercentage
    stages { stageId stageName score percentage status comment quote } }
  tableResults { tableId tableName extractedData } } }"""


async def make_checklist_and_table(rop: Rop, receiver: WebhookReceiver) -> tuple[str, str]:
    checklist = await rop.gql_data(
        CHECKLIST,
        {
            "i": {
                "name": "Скрипт продаж",
                "webhookUrl": receiver.url("/checklist"),
                "webhookSecret": SECRET,
                "stages": [
                    {"id": "greeting", "name": "Приветствие", "criteria": "назвал имя и компанию"},
                    {"id": "needs", "name": "Выявление потребностей"},
                    {"id": "closing", "name": "Закрытие"},
                ],
            }
        },
        token=ADMIN_TOKEN,
    )
    table = await rop.gql_data(
        TABLE,
        {
            "i": {
                "name": "Бюджет клиента",
                "webhookUrl": receiver.url("/table"),
                "webhookSecret": SECRET,
                "fields": [{"name": "budget"}, {"name": "frames"}, {"name": "format"}],
            }
        },
        token=ADMIN_TOKEN,
    )
    return checklist["ropPutChecklist"]["id"], table["ropPutTable"]["id"]


async def test_checklists_and_tables_are_admin_state(rop: Rop, key: str) -> None:
    stages = [{"id": "s1", "name": "Приветствие"}]
    err = await rop.gql_error(CHECKLIST, {"i": {"name": "x", "stages": stages}}, token=key)
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = await rop.gql_error(
        CHECKLIST,
        {"i": {"name": "x", "stages": stages, "webhookUrl": "http://127.0.0.1:9/h"}},
        token=ADMIN_TOKEN,
    )
    assert err["message"] == "webhook_secret: required with webhook_url (signs every delivery)"
    made = (
        await rop.gql_data(
            TABLE, {"i": {"name": "Таблица", "fields": [{"name": "a"}]}}, token=ADMIN_TOKEN
        )
    )["ropPutTable"]
    assert made["id"].startswith("TBL_") and made["id"][4:].isdigit()
    table = from_grpc(
        await rop.rpc(
            "PutTable",
            rop_pb2.Table(
                id=made["id"],
                name="Таблица 2",
                fields=[rop_pb2.TableField(name="b")],
                webhook_url="http://127.0.0.1:9/t",
                webhook_secret="s" * 16,
            ),
            ADMIN_TOKEN,
        )
    )
    assert table["webhook_secret"] == ""  # never shown
    listed = snaked(
        (
            await rop.gql_data(
                "{ rop { tables { id name webhookUrl fields { name } } } }", token=key
            )
        )["rop"]["tables"]
    )
    assert {
        "id": made["id"],
        "name": "Таблица 2",
        "webhook_url": "http://127.0.0.1:9/t",
        "fields": [{"name": "b"}],
    } in listed
    rpc = await rop.rpc_error("DeleteTable", rop_pb2.DeleteRequest(id=made["id"]), key)
    assert rpc.code() == grpc.StatusCode.PERMISSION_DENIED
    await rop.rpc("DeleteTable", rop_pb2.DeleteRequest(id=made["id"]), ADMIN_TOKEN)
    rpc = await rop.rpc_error("DeleteTable", rop_pb2.DeleteRequest(id=made["id"]), ADMIN_TOKEN)
    assert rpc.code() == grpc.StatusCode.NOT_FOUND


async def test_outside_analyser_result_is_scored_by_the_hub_and_delivered(
    rop: Rop, key: str, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    checklist_id, table_id = await make_checklist_and_table(rop, receiver)
    fields = upload_fields(audio, "/call.wav")
    assert (await rop.upload(key, fields))[0] == 200
    call_id = fields["call_id"]
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    status, body, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": table_id, "call": call_id}
    )
    assert (status, body) == (200, {"ready": False})
    answer = {
        "callId": call_id,
        "checklists": [
            {
                "checklistId": checklist_id,
                "stages": [
                    {
                        "stageId": "greeting",
                        "status": "completed",
                        "comment": "ok",
                        "quote": "Добрый день",
                    },
                    {"stageId": "needs", "status": "completed"},
                    {"stageId": "closing", "status": "failed", "comment": "no next step"},
                ],
            }
        ],
        "tables": [{"tableId": table_id, "extractedData": {"budget": 150000}}],
    }
    crm_error = await rop.gql_error(SUBMIT, {"i": answer}, token=key)
    assert crm_error["extensions"]["code"] == "FORBIDDEN"
    analyser = await rop.new_key("analyser")
    wrong = {
        **answer,
        "checklists": [
            {
                "checklistId": checklist_id,
                "stages": [{"stageId": "greeting", "status": "completed"}],
            }
        ],
    }
    err = await rop.gql_error(SUBMIT, {"i": wrong}, token=analyser)
    assert err["message"] == "checklists[0].stages: missing stage(s) 'needs', 'closing'"
    data = (await rop.gql_data(SUBMIT, {"i": answer}, token=analyser))["ropSubmitAnalysis"]
    assert data["status"] == "analyzed"
    result = data["checklistResults"][0]
    assert (result["totalScore"], result["maxScore"], result["completionPercentage"]) == (
        1,
        3,
        66.67,
    )
    assert [(s["stageName"], s["score"], s["percentage"]) for s in result["stages"]] == [
        ("Приветствие", 1, 100.0),
        ("Выявление потребностей", 1, 100.0),
        ("Закрытие", -1, 0.0),
    ]
    again = await rop.gql_error(SUBMIT, {"i": answer}, token=analyser)
    assert again["extensions"]["code"] == "CONFLICT"
    status, body, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": table_id, "call": call_id}
    )
    assert (status, body) == (200, {"ready": True, "data": {"budget": 150000}})
    ready = from_grpc(
        await rop.rpc("CallReady", rop_pb2.CallReadyRequest(tab=table_id, call=call_id), key)
    )
    assert ready == {"ready": True, "data": {"budget": 150000.0}}
    import orjson

    checklist_hits = await until_received(receiver, "/checklist", call_id)
    table_hits = await until_received(receiver, "/table", call_id)
    for hit, event in ((checklist_hits, "checklist.result"), (table_hits, "table.result")):
        assert hit.signature_ok and hit.headers["X-Hub-Event"] == event
        assert hit.headers["Content-Type"] == "application/json"
        assert len(hit.headers["X-Hub-Delivery"]) == 36
    sent = orjson.loads(checklist_hits.body)
    assert list(sent) == [
        "call_id",
        "manager_id",
        "checklist_name",
        "total_score",
        "max_score",
        "completion_percentage",
        "stages",
        "timestamp",
    ]
    assert (sent["manager_id"], sent["total_score"]) == ("mgr_001", 1)
    table_sent = orjson.loads(table_hits.body)
    assert list(table_sent) == [
        "call_id",
        "table_id",
        "table_name",
        "extracted_data",
        "processing_time",
        "timestamp",
    ]
    assert table_sent["extracted_data"] == {"budget": 150000}


async def until_received(receiver: WebhookReceiver, path: str, call_id: str) -> Any:
    import orjson

    async def check() -> Any:
        hits = [r for r in receiver.at(path) if orjson.loads(r.body)["call_id"] == call_id]
        return hits[-1] if hits else None

    return await until(check)


async def test_grpc_submission_and_its_errors(
    rop: Rop, key: str, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    checklist_id, table_id = await make_checklist_and_table(rop, receiver)
    downloading = upload_fields(audio, "/gated.wav")
    audio.gate.clear()
    try:
        assert (await rop.upload(key, downloading))[0] == 200
        request = rop_pb2.Analysis(
            call_id=downloading["call_id"],
            checklists=[
                rop_pb2.ChecklistAnswer(
                    checklist_id=checklist_id,
                    stages=[
                        rop_pb2.StageAnswer(stage_id=s, status="completed")
                        for s in ("greeting", "needs", "closing")
                    ],
                )
            ],
        )
        rpc = await rop.rpc_error("SubmitAnalysis", request, ADMIN_TOKEN)
        assert rpc.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "is downloading, not ready for analysis" in rpc.details()
    finally:
        audio.gate.set()
    await rop.call_in(downloading["call_id"], key, ("awaiting_analysis",))
    bad = rop_pb2.Analysis(
        call_id=downloading["call_id"],
        checklists=[
            rop_pb2.ChecklistAnswer(
                checklist_id=checklist_id,
                stages=[rop_pb2.StageAnswer(stage_id="greeting", status="done")],
            )
        ],
    )
    rpc = await rop.rpc_error("SubmitAnalysis", bad, ADMIN_TOKEN)
    assert rpc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc.details() == (
        "checklists[0].stages[0].status: expected completed or failed, got 'done'"
    )
    table_answer = rop_pb2.TableAnswer(table_id=table_id)
    table_answer.extracted_data.update({"unknown_field": 1})
    rpc = await rop.rpc_error(
        "SubmitAnalysis",
        rop_pb2.Analysis(call_id=downloading["call_id"], tables=[table_answer]),
        ADMIN_TOKEN,
    )
    assert rpc.details().startswith("tables[0].extracted_data.unknown_field: not a field of table")
    good = rop_pb2.Analysis(
        call_id=downloading["call_id"],
        checklists=[
            rop_pb2.ChecklistAnswer(
                checklist_id=checklist_id,
                stages=[
                    rop_pb2.StageAnswer(stage_id=s, status="failed")
                    for s in ("closing", "greeting", "needs")
                ],
            )
        ],
    )
    call = from_grpc(await rop.rpc("SubmitAnalysis", good, ADMIN_TOKEN))
    result = call["checklist_results"][0]
    assert (result["total_score"], result["max_score"], result["completion_percentage"]) == (
        "-3",
        "3",
        0.0,
    )
    assert [s["stage_id"] for s in result["stages"]] == ["greeting", "needs", "closing"]
    same = await rop.call(downloading["call_id"], key)
    assert same["checklistResults"][0]["totalScore"] == -3


async def test_the_analyser_hook_analyses_downloaded_calls(
    rop: Rop, key: str, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    checklist_id, table_id = await make_checklist_and_table(rop, receiver)
    fields = upload_fields(audio, "/call.wav", deal_stage_id="auto_analyse")
    assert (await rop.upload(key, fields))[0] == 200
    call = await rop.call_in(fields["call_id"], key, ("analyzed",))
    mine = [r for r in call["checklistResults"] if r["stages"][0]["stageId"] == "greeting"]
    assert mine and mine[-1]["totalScore"] == -1  # 2.5 s: greeting completed, the rest failed
    tables = {r["tableId"]: r for r in call["tableResults"]}
    assert tables[table_id]["extractedData"] == {"budget": None, "frames": 20000, "format": "wav"}
    _, ready, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": table_id, "call": fields["call_id"]}
    )
    assert ready["data"]["frames"] == 20000
    assert checklist_id


async def test_subscription_sees_each_analysed_call(
    rop: Rop, key: str, audio: AudioServer, receiver: WebhookReceiver, hub: HubProcess
) -> None:
    await make_checklist_and_table(rop, receiver)
    async with rop.session.ws_connect(
        f"{hub.url}/graphql", protocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        query = "subscription { ropCallAnalyzed { callId status tableResults { tableId } } }"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})

        async def subscribed() -> bool:
            data = await rop.gql_data("{ hub { health { plugin detail } } }", token=ADMIN_TOKEN)
            detail = next(p["detail"] for p in data["hub"]["health"] if p["plugin"] == "rop")
            return "ropCallAnalyzed subscribers: 1" in detail

        await until(subscribed)
        fields = upload_fields(audio, "/call.ogg", deal_stage_id="auto_analyse")
        assert (await rop.upload(key, fields))[0] == 200
        while True:
            message = await ws.receive_json(timeout=15)
            assert message["type"] == "next", message
            event = message["payload"]["data"]["ropCallAnalyzed"]
            if event["callId"] == fields["call_id"]:
                break
        assert event["status"] == "analyzed" and event["tableResults"]


async def test_calls_connection_pages_and_filters(rop: Rop, key: str) -> None:
    query = """query($after: String, $status: String) { rop {
      calls(first: 2, after: $after, status: $status) {
        totalCount pageInfo { hasNextPage endCursor } nodes { callId status } } } }"""
    first = (await rop.gql_data(query, {}, token=key))["rop"]["calls"]
    assert len(first["nodes"]) == 2 and first["pageInfo"]["hasNextPage"]
    second = (await rop.gql_data(query, {"after": first["pageInfo"]["endCursor"]}, token=key))[
        "rop"
    ]["calls"]
    assert {n["callId"] for n in second["nodes"]}.isdisjoint(n["callId"] for n in first["nodes"])
    rejected = (await rop.gql_data(query, {"status": "rejected"}, token=key))["rop"]["calls"]
    assert all(n["status"] == "rejected" for n in rejected["nodes"])
    err = await rop.gql_error(query, {"status": "lost"}, token=key)
    assert err["message"].startswith("status: expected one of downloading")
    err = await rop.gql_error(query, {}, token=None)
    assert err["extensions"]["code"] == "UNAUTHENTICATED"
    rpc = await rop.rpc_error("ListCalls", rop_pb2.ListCallsRequest(), None)
    assert rpc.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_connections_in_creation_order_page_by_keyset(rop: Rop, key: str) -> None:
    """calls, managers and webhookDeliveries are ordered by the unique row number: their
    cursors are keyset cursors, and the page after one starts right after its row."""
    names = [uid("kmgr") for _ in range(3)]
    managers = {"managers": [{"manager_id": n} for n in names]}
    status, body, _ = await rop.rest("POST", "/settings/managers-update", key, json=managers)
    assert status == 200, body
    query = """query($after: String) { rop { managers(first: 1000, after: $after) {
      edges { cursor node { managerId } } } } }"""
    edges = (await rop.gql_data(query, {}, token=key))["rop"]["managers"]["edges"]
    ids = [e["node"]["managerId"] for e in edges]
    cut = ids.index(names[0])
    cursor = decode_cursor(edges[cut]["cursor"])
    assert isinstance(cursor, Seek) and cursor.order == ("seq",), cursor
    after = await rop.gql_data(query, {"after": edges[cut]["cursor"]}, token=key)
    assert [e["node"]["managerId"] for e in after["rop"]["managers"]["edges"]] == ids[cut + 1 :]
    for field, token in (("calls", key), ("webhookDeliveries", ADMIN_TOKEN)):
        edges = (
            await rop.gql_data(
                f"{{ rop {{ {field}(first: 1) {{ edges {{ cursor }} }} }} }}", token=token
            )
        )["rop"][field]["edges"]
        for edge in edges:
            assert isinstance(decode_cursor(edge["cursor"]), Seek), (field, edge)


def test_creds_add_prints_an_api_key(hub: HubProcess) -> None:
    assert list(hub.creds("rop")) == ["api_key"]
    assert hub.creds("rop", role="analyser")["role"] == "analyser"
    bad = hub.cli("creds", "add", "rop", "--param", "role=boss", check=False)
    assert bad.returncode != 0 and "role: expected crm or analyser" in bad.stderr + bad.stdout


def test_audio_is_stored_in_the_database_not_the_data_dir(hub: HubProcess) -> None:
    """Every hub sharing the database reads it (tests/test_rop_audio_store.py)."""
    assert not Path(hub.data_dir, "rop-audio").exists()


async def test_cli_manages_checklists_beside_a_running_hub(
    rop: Rop, hub: HubProcess, tmp_path: Path
) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        # only rop: the command loader does not read plugins_dir, where the test analyser lives
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", "--data-dir", str(hub.data_dir), "rop", *args],
            env={**hub.env, "HUB_PLUGINS": "rop"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    source = tmp_path / "checklist.json"
    source.write_text('{"id": "CHK_cli", "name": "Из CLI", "stages": [{"id": "a", "name": "A"}]}')
    made = cli("put-checklist", str(source))
    assert '"id": "CHK_cli"' in made.stdout, made.stderr
    listed = await rop.gql_data("{ rop { checklists { id name } } }", token=ADMIN_TOKEN)
    assert {"id": "CHK_cli", "name": "Из CLI"} in listed["rop"]["checklists"]
    source.write_text('{"name": "", "stages": []}')
    bad = cli("put-checklist", str(source))
    assert bad.returncode != 0 and "stages: a checklist needs at least one stage" in bad.stderr
    assert cli("delete", "checklist", "CHK_cli").stdout.strip() == "CHK_cli"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (bytes([0xFF, 0xFB, 0x90, 0x64]), "mp3"),
        (bytes([0xFF, 0xFF, 0xFF, 0xFF]), None),  # sync bits, but a reserved bitrate
        (bytes([0xFF, 0xE9, 0x90, 0x64]), None),  # reserved layer
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", None),
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00\x00\x00\x22", None),
        (b"", None),
    ],
)
def test_magic_bytes(head: bytes, fmt: str | None) -> None:
    from hub_rop.audio import sniff

    assert sniff(head) == fmt
