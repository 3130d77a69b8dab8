"""Audit of the ``hub`` command, its configuration and the gRPC host, each against a real
``hub`` process: every configuration mistake is one line naming the key (never a traceback, and
nothing written), and a plugin's client-streaming method gets the Guard's checks on every
message of its request stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.hub_command import finish
from tests.hubproc import HubProcess
from tests.test_cli import SERVE, clean_env, hub, one_error_line

# (what is wrong, the command's arguments, TOML file text or None, HUB_* variables, the line)
MISTAKES = [
    ("config-is-a-directory", ["--config", "."], None, {}, "config file .: is a directory"),
    (
        "config-not-utf8",
        [],
        b'http = "\xff"\n',
        {},
        "config file hub.toml: not UTF-8 (byte 8)",
    ),
    (
        "graphql-not-a-table",
        [],
        b"graphql = 5\n",
        {"HUB_GRAPHQL_MAX_DEPTH": "3"},
        "graphql: expected a table, got 5",
    ),
    (
        "plugin-table-not-a-table",
        [],
        b"[plugins]\nera = 5\n",
        {},
        "plugins.era: expected a table, got 5",
    ),
    ("port-superscript", [], None, {"HUB_GRPC": "127.0.0.1:\u00b2"}, "grpc: expected HOST:PORT"),
    ("fractional-int", [], b"max_body = 1.5\n", {}, "max_body: expected int, got 1.5"),
    ("max-body-zero", [], None, {"HUB_MAX_BODY": "0"}, "max_body: must be 1 or more, got 0"),
    (
        "negative-shutdown-timeout",
        [],
        None,
        {"HUB_SHUTDOWN_TIMEOUT": "-1"},
        "shutdown_timeout: must be 0 or more, got -1",
    ),
    (
        "negative-document-cache",
        [],
        None,
        {"HUB_GRAPHQL_DOCUMENT_CACHE_SIZE": "-5"},
        "graphql.document_cache_size: must be 0 or more, got -5",
    ),
    (
        "zero-depth",
        [],
        b"[graphql]\nmax_depth = 0\n",
        {},
        "graphql.max_depth: must be 1 or more, got 0",
    ),
    (
        "database-url-bad-ipv6",
        [],
        None,
        {"HUB_DATABASE_URL": "postgresql://[::1/db"},
        "database_url: expected postgresql://user:password@host:5432/db: Invalid IPv6 URL",
    ),
    (
        "database-url-bad-port",
        [],
        None,
        {"HUB_DATABASE_URL": "postgresql://u:p@db:99999/hub"},
        "database_url: expected postgresql://user:password@host:5432/db: Port out of range",
    ),
    (
        "empty-data-dir",
        [],
        None,
        {"HUB_DATA_DIR": ""},
        "data_dir: must not be empty (./hub-data is the default)",
    ),
    (
        "missing-plugins-dir",
        [],
        None,
        {"HUB_PLUGINS_DIR": "no-such-folder"},
        "plugins_dir: no-such-folder: no such directory",
    ),
]


@pytest.mark.parametrize(
    ("args", "toml", "variables", "expected"),
    [mistake[1:] for mistake in MISTAKES],
    ids=[mistake[0] for mistake in MISTAKES],
)
def test_a_config_mistake_is_one_line_naming_the_key(
    tmp_path: Path, args: list[str], toml: bytes | None, variables: dict[str, str], expected: str
) -> None:
    if toml is not None:
        (tmp_path / "hub.toml").write_bytes(toml)
        args = ["--config", "hub.toml", *args]
    env = clean_env(**{"HUB_HTTP": "127.0.0.1:0", "HUB_GRPC": "127.0.0.1:0", **variables})
    runs = [
        hub(*args, "plugins", cwd=tmp_path, env=env),
        hub(*args, "serve", cwd=tmp_path, env=env),
    ]
    for proc in runs:
        code, out, err = finish(proc)
        assert code == 1 and not out, (out, err)
        line = one_error_line(err)
        assert line.startswith(f"Error: bad config: {expected}"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == (["hub.toml"] if toml else [])


def test_a_worker_count_in_other_digits_is_one_line(tmp_path: Path) -> None:
    code, out, err = finish(hub(*SERVE, "--workers", "\u00b2", cwd=tmp_path))
    assert code == 1 and not out
    assert one_error_line(err) == (
        "Error: bad config: workers: expected a number of processes (1 or more) or auto, got '²'"
    )
    assert not (tmp_path / "hub-data").exists()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://[::1/db", "Invalid IPv6 URL"),
        ("postgresql://u:secret@db:70000/hub", "Port out of range 0-65535"),
        ("mysql://u:secret@db/hub", "not a mysql address"),
    ],
)
def test_db_copy_to_an_address_that_is_no_postgres_url_is_one_line(
    tmp_path: Path, url: str, problem: str
) -> None:
    data = tmp_path / "data"
    assert finish(hub("--data-dir", str(data), "creds", "add", "era", cwd=tmp_path))[0] == 0
    code, out, err = finish(hub("--data-dir", str(data), "db", "copy", "--to", url, cwd=tmp_path))
    assert code == 1 and not out
    line = one_error_line(err)
    assert line.startswith("Error: --to: expected postgresql://") and problem in line, line
    assert "secret" not in line


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a directory\n")
    runs = [
        hub("--data-dir", str(taken), "plugins", cwd=tmp_path),
        hub("--data-dir", str(taken), "creds", "list", cwd=tmp_path),
        hub("--data-dir", str(taken / "below"), *SERVE, cwd=tmp_path),
    ]
    for proc in runs:
        code, out, err = finish(proc)
        assert code == 1 and not out, (out, err)
        assert str(taken) in one_error_line(err)
    assert taken.read_text() == "not a directory\n"


def test_a_grpc_address_not_of_this_machine_on_port_0_is_one_line(tmp_path: Path) -> None:
    """Port 0 is not probed before start (it cannot be taken): grpc's own failure would add a
    log line of its C core to the error."""
    args = ["--http", "127.0.0.1:0", "--grpc", "192.0.2.1:0"]  # TEST-NET-1: no host has it
    env = clean_env(HUB_LOG_LEVEL="WARNING")  # not the migrations' lines: the data dir is new
    code, out, err = finish(hub("serve", *args, cwd=tmp_path, env=env))
    assert code == 1 and "listening" not in out
    assert one_error_line(err) == (
        "Error: cannot listen for gRPC on 192.0.2.1:0: Cannot assign requested address"
    )


def test_creds_add_refuses_a_parameter_given_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["--param", "user=alice", "--param", "scopes=read", "--param", "scopes=write"]
    code, out, err = finish(
        hub("--data-dir", str(data), "creds", "add", "monitorozas", *args, cwd=tmp_path)
    )
    assert code == 2 and not out
    assert err.splitlines()[-1] == "Error: Invalid value for --param: scopes is given twice"
    assert not data.exists()


def test_a_body_limit_past_grpcs_own_cap_still_serves(tmp_path: Path) -> None:
    """grpc takes at most a C int as its receive limit: a bigger ``max_body`` is clamped
    there rather than stopping the start with an OverflowError."""
    from hub.v1 import hub_pb2, hub_pb2_grpc

    server = HubProcess(tmp_path / "data", env={"HUB_MAX_BODY": str(10**12)}).start()
    try:
        with grpc.insecure_channel(server.grpc) as channel:
            answer = hub_pb2_grpc.HubStub(channel).ListPlugins(hub_pb2.ListPluginsRequest())
        assert "era" in {plugin.name for plugin in answer.plugins}
    finally:
        assert server.stop() == 0


# a third-party plugin whose method takes a request stream (client streaming); its proto is
# built at import, as generated code would register it
TALLY = """
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from hub.errors import HubError
from hub.hookspecs import hookimpl
from hub.registrations import GrpcService

SERVICE = "tally.v1.Tally"
FILE = descriptor_pb2.FileDescriptorProto(
    name="tally/v1/tally.proto", package="tally.v1", syntax="proto3"
)
FILE.message_type.add(name="Num").field.add(
    name="n",
    number=1,
    type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
)
FILE.service.add(name="Tally").method.add(
    name="Sum", input_type=".tally.v1.Num", output_type=".tally.v1.Num", client_streaming=True
)
descriptor_pool.Default().AddSerializedFile(FILE.SerializeToString())
Num = message_factory.GetMessageClass(
    descriptor_pool.Default().FindMessageTypeByName("tally.v1.Num")
)


class Tally:
    async def Sum(self, requests, context):
        total = 0
        async for request in requests:
            if request.n == 13:  # a reason that is not printable ASCII, as a vendor's could be
                raise HubError(409, "13: ungl\u00fcckliche Zahl", reason="ungl\u00fcck\\n%")
            total += request.n
        return Num(n=total)


def add_to_server(servicer, server):
    handler = grpc.stream_unary_rpc_method_handler(
        servicer.Sum, request_deserializer=Num.FromString, response_serializer=Num.SerializeToString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Sum": handler}),)
    )


@hookimpl
def register_grpc(hub, register):
    register(GrpcService(SERVICE, Tally(), add_to_server))
"""


@pytest.fixture(scope="module")
def tally_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = Path(tmp_path_factory.mktemp("tally"))
    (root / "plugins").mkdir()
    (root / "plugins" / "tally.py").write_text(TALLY)
    env = {"HUB_PLUGINS_DIR": str(root / "plugins"), "HUB_PLUGINS": "tally", "HUB_MAX_BODY": "100"}
    server = HubProcess(root / "data", env=env).start()
    yield server
    server.stop()


def sum_of(server: HubProcess, messages: list[bytes]) -> bytes:
    with grpc.insecure_channel(server.grpc) as channel:
        call = channel.stream_unary("/tally.v1.Tally/Sum")
        answer: bytes = call(iter(messages), timeout=10)
        return answer


def test_a_client_stream_sums_its_messages(tally_hub: HubProcess) -> None:
    assert sum_of(tally_hub, [b"\x08\x02", b"\x08\x03"]) == b"\x08\x05"


@pytest.mark.parametrize(
    ("bad", "status", "reason"),
    [(b"\x0a\x05ab", "400", "bad_message"), (b"\x08\x01" * 51, "413", "payload_too_large")],
    ids=["undecodable", "oversized"],
)
def test_a_bad_message_in_a_client_stream_is_the_tables_error(
    tally_hub: HubProcess, bad: bytes, status: str, reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        sum_of(tally_hub, [b"\x08\x02", bad])
    error = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error  # type: ignore[attr-defined]
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    assert trailers["hub-status"] == status and trailers["hub-reason"] == reason
    assert trailers["hub-plugin"] == "tally"
    assert "Traceback" not in "".join(tally_hub.output)


def test_a_reason_that_is_not_printable_ascii_is_percent_encoded(tally_hub: HubProcess) -> None:
    """grpc refuses such a trailer value: the call would end INTERNAL with no trailer."""
    with pytest.raises(grpc.RpcError) as refused:
        sum_of(tally_hub, [b"\x08\x0d"])
    error = refused.value
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS, error  # type: ignore[attr-defined]
    assert error.details() == "13: ungl\u00fcckliche Zahl"  # type: ignore[attr-defined]
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    assert trailers["hub-status"] == "409" and trailers["hub-plugin"] == "tally"
    assert trailers["hub-reason"] == "ungl%C3%BCck%0A%25"


def test_a_servicer_lacking_a_method_of_its_proto_names_the_plugin(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "tally.py").write_text(
        TALLY.replace("async def Sum(", "async def Summ(").replace(
            "servicer.Sum,", 'getattr(servicer, "Sum", None),'
        )
    )
    env = clean_env(HUB_PLUGINS_DIR=str(folder), HUB_PLUGINS="tally", HUB_LOG_LEVEL="WARNING")
    code, out, err = finish(
        hub(*SERVE, "--data-dir", str(tmp_path / "data"), cwd=tmp_path, env=env)
    )
    assert code == 1 and "listening" not in out
    assert one_error_line(err) == (
        "Error: cannot start: plugin tally: gRPC service tally.v1.Tally: the servicer has no"
        " method Sum (it has Summ: a misspelling?)"
    )


# a servicer on the generated base class of hub-notes' service: every method is there, the
# base's raising NotImplementedError where the plugin's own is missing
NOTES_SERVICER = """
from hub.hookspecs import hookimpl
from hub.registrations import GrpcService
from hub_notes.v1 import notes_pb2, notes_pb2_grpc


class Notes(notes_pb2_grpc.NotesServicer):
    async def CreateNote(self, request, context):
        return notes_pb2.ListNotesResponse()  # not the Note its proto declares

    async def ListNotes(self, request, context):
        return {"notes": []}  # no message at all

    async def GetNote(self, request, context):
        return notes_pb2.Note(id=request.id)


@hookimpl
def register_grpc(hub, register):
    register(GrpcService("hub.notes.v1.Notes", Notes(), notes_pb2_grpc.add_NotesServicer_to_server))
"""


async def test_a_method_left_to_the_generated_base_class_answers_unimplemented(
    tmp_path: Path,
) -> None:
    """The generated base class has every method, so one misspelt (or left out) was the base's:
    every call INTERNAL, with a NotImplementedError traceback. It answers UNIMPLEMENTED, as gRPC
    means it to, and the start warns once naming it and the near miss."""
    from hub_notes.v1 import notes_pb2, notes_pb2_grpc

    folder = tmp_path / "plugins"
    folder.mkdir()
    misspelt = NOTES_SERVICER.replace("async def GetNote(", "async def GetNotes(")
    (folder / "mynotes.py").write_text(misspelt)
    env = {"HUB_PLUGINS_DIR": str(folder), "HUB_PLUGINS": "mynotes"}
    server = HubProcess(tmp_path / "data", env=env).start()
    try:
        async with grpc.aio.insecure_channel(server.grpc) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await notes_pb2_grpc.NotesStub(channel).GetNote(notes_pb2.GetNoteRequest(id="n"))
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.stop()
    output = "".join(server.output)
    assert (
        "plugin mynotes: gRPC service hub.notes.v1.Notes: GetNote is not implemented, it answers"
        " UNIMPLEMENTED (it has GetNotes: a misspelling?)" in output
    ), output
    assert "Traceback" not in output, output


async def test_an_answer_of_another_type_is_internal_with_the_reason_logged(
    tmp_path: Path,
) -> None:
    """Another message was sent as it was (the client failed to decode it, nothing logged);
    a dict ended the call UNKNOWN with Python's error text for the client."""
    from hub_notes.v1 import notes_pb2, notes_pb2_grpc

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "mynotes.py").write_text(NOTES_SERVICER)
    env = {"HUB_PLUGINS_DIR": str(folder), "HUB_PLUGINS": "mynotes"}
    server = HubProcess(tmp_path / "data", env=env).start()
    try:
        async with grpc.aio.insecure_channel(server.grpc) as channel:
            stub = notes_pb2_grpc.NotesStub(channel)
            assert (await stub.GetNote(notes_pb2.GetNoteRequest(id="n1"))).id == "n1"
            for call, request in (
                (stub.CreateNote, notes_pb2.CreateNoteRequest(title="t")),
                (stub.ListNotes, notes_pb2.ListNotesRequest()),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await call(request)
                assert failed.value.code() == grpc.StatusCode.INTERNAL
                assert failed.value.details() == "internal error"
    finally:
        server.stop()
    output = "".join(server.output)
    for method, answered, expected in (
        ("CreateNote", "ListNotesResponse", "Note"),
        ("ListNotes", "dict", "ListNotesResponse"),
    ):
        line = f"/hub.notes.v1.Notes/{method} answered {answered}, expected hub.notes.v1.{expected}"
        assert line in output, output
