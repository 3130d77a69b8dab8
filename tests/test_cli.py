"""The ``hub`` command as a user runs it, each in a real subprocess: global options on either
side of the subcommand, one line (never a traceback) for every start-up mistake, nothing written
before what can be checked is checked, private file modes, ``--version`` and ``protogen``."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import __version__
from tests.hub_command import finish
from tests.hubproc import ADMIN_TOKEN, LISTENING

# hooks a plugin author can get wrong, each a single-file plugin for a throwaway plugins_dir
MISSPELT_HOOK = """
from hub.hookspecs import hookimpl

@hookimpl
def register_rests(hub, register):
    pass
"""
UNANNOTATED_ARGUMENT = """
import strawberry
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart

@hookimpl
def register_graphql(hub, register):
    @strawberry.type(name="SloppyQuery")
    class Query:
        @strawberry.field
        def echo(self, text) -> str:
            return text

    register(GraphQLPart(query=Query))
"""
UNRESOLVABLE_TYPE = """
import strawberry
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart

@strawberry.type(name="LazyQuery")
class Query:
    @strawberry.field
    def echo(self, text: "NoSuchType") -> str:
        return "x"

@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query))
"""
FAILING_STARTUP = """
from hub.hookspecs import hookimpl

@hookimpl
def startup(hub):
    raise RuntimeError("the upstream is not configured")
"""
MISSPELT_ARGUMENT = """
from hub.hookspecs import hookimpl

@hookimpl
def register_rest(hub, registr):
    pass
"""
LAMBDA_MIGRATION = """
from hub.hookspecs import hookimpl

@hookimpl
def register_migrations(register):
    register(lambda db: db.execute("CREATE TABLE t (a INTEGER)"))
"""
FAILING_MIGRATION = """
from hub.hookspecs import hookimpl

def m001_fine(db):
    db.execute("CREATE TABLE fine (a INTEGER)")

def m002_broken(db):
    db.execute("CREAT TABLE broken (a INTEGER)")

@hookimpl
def register_migrations(register):
    register(m001_fine)
    register(m002_broken)
"""
BARE_ROUTE = """
from hub.hookspecs import hookimpl
from hub.registrations import RestApi

async def hello(request):
    pass

@hookimpl
def register_rest(hub, register):
    register(RestApi(routes=[hello]))
"""
DICT_RENDERER = """
from hub.hookspecs import hookimpl
from hub.registrations import RestApi

@hookimpl
def register_rest(hub, register):
    register(RestApi(routes=[], render_error=lambda exc: {"error": exc.message}))
"""
UNSUPPORTED_SETTING = """
from dataclasses import dataclass
from datetime import timedelta

from hub.hookspecs import hookimpl

@dataclass
class BrokenSettings:
    every: timedelta = timedelta(seconds=5)

@hookimpl
def register_settings(register):
    register(BrokenSettings)
"""
# a plugin command that works on the hub's data: it shows which data directory it was given
WHERE = """
import click
from hub.cli import open_hub
from hub.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command(name="where-data")
    @click.pass_context
    def where(ctx):
        with open_hub(ctx) as hub:
            click.echo(hub.data_dir)
"""
BROKEN_COMMANDS = """
from hub.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    raise ValueError("no commands today")
"""
SERVE = ("serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0")
PROTO = """
syntax = "proto3";
package demo.v1;
message Ping { string text = 1; }
service Demo { rpc Echo(Ping) returns (Ping); }
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ``HUB_*`` variable of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "HUB_ADMIN_TOKEN": ADMIN_TOKEN, **extra}


def hub(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``hub ARGS`` in ``cwd`` (not waiting: Python's start-up is the slow part)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_error_line(err: str) -> str:
    """The whole of stderr, which must be a single line and no traceback."""
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def plugins_dir(tmp_path: Path, **plugins: str) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    for name, source in plugins.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


def serve_until_listening(proc: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    """Lines of a starting ``hub serve`` up to its ``grpc listening`` line."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(line.startswith("grpc listening") for line in lines):
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("hub serve did not start:\n" + "".join(lines) + proc.stderr.read())
        lines.append(line.strip())
    return lines


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 0


# == 12: global options on either side of the subcommand =========================================
def test_global_options_are_accepted_after_the_subcommand(tmp_path: Path) -> None:
    folder = plugins_dir(tmp_path, where=WHERE)
    config = tmp_path / "hub.toml"
    config.write_text(f'plugins_dir = "{folder}"\n[plugins.era]\nlisten = "127.0.0.1:0"\n')
    data = tmp_path / "data"
    env = clean_env(HUB_PLUGINS="era,where", HUB_LOG_LEVEL="WARNING")
    server = hub(*SERVE, "--data-dir", str(data), "--config", str(config), cwd=tmp_path, env=env)
    era_only = {**env, "HUB_PLUGINS": "era"}
    commands = [
        hub("creds", "add", "era", "--data-dir", str(tmp_path / "a"), cwd=tmp_path, env=era_only),
        hub("creds", "--data-dir", str(tmp_path / "b"), "add", "era", cwd=tmp_path, env=era_only),
        hub(
            "plugins",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "c"),
            cwd=tmp_path,
            env=env,
        ),
        hub(
            "where-data",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "d"),
            cwd=tmp_path,
            env=env,
        ),
        # after the subcommand wins over before it
        hub(
            "--data-dir",
            str(tmp_path / "x"),
            "where-data",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "e"),
            cwd=tmp_path,
            env=env,
        ),
    ]
    try:
        lines = serve_until_listening(server)
        assert any(LISTENING.match(line) and line.startswith("era http") for line in lines), lines
        assert (data / "era.db").exists() and not (tmp_path / "hub-data").exists()
    finally:
        stop(server)
    results = [finish(proc) for proc in commands]
    assert all(code == 0 for code, _, _ in results), results
    assert (tmp_path / "a" / "hub.db").exists() and (tmp_path / "b" / "hub.db").exists()
    assert '"name": "where"' in results[2][1] and (tmp_path / "c").is_dir()
    assert results[3][1].strip() == str(tmp_path / "d")
    assert results[4][1].strip() == str(tmp_path / "e")
    assert not (tmp_path / "hub-data").exists() and not (tmp_path / "x").exists()


def test_a_plugin_failing_to_add_commands_leaves_the_others(tmp_path: Path) -> None:
    folder = plugins_dir(tmp_path, where=WHERE, broken=BROKEN_COMMANDS)
    env = clean_env(HUB_PLUGINS_DIR=str(folder), HUB_PLUGINS="where,broken")
    code, out, err = finish(
        hub("where-data", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=env)
    )
    assert code == 0 and out.strip() == str(tmp_path / "d")
    line = one_error_line(err)
    assert line.startswith("warning: plugin broken: register_commands") and "no commands" in line


# == 13: one line naming the plugin and the problem ==============================================
def test_a_bad_log_level_is_one_line_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('log_level = "LOUD"\n')
    runs = [
        hub("serve", "--config", str(config), cwd=tmp_path),
        hub("serve", cwd=tmp_path, env=clean_env(HUB_LOG_LEVEL="LOUD")),
        hub("plugins", cwd=tmp_path, env=clean_env(HUB_LOG_LEVEL="loud")),
    ]
    for proc in runs:
        code, out, err = finish(proc)
        assert code == 1 and not out
        line = one_error_line(err)
        assert line.startswith("Error: bad config: log_level:") and "LOUD" in line.upper(), line
    assert not (tmp_path / "hub-data").exists()
    code, _, err = finish(hub("plugins", cwd=tmp_path, env=clean_env(HUB_LOG_LEVEL="debug")))
    assert code == 0 and not err


def test_a_negative_rendered_rows_budget_is_one_line_naming_it(tmp_path: Path) -> None:
    code, out, err = finish(hub("serve", cwd=tmp_path, env=clean_env(HUB_RENDERED_ROWS_BYTES="-1")))
    assert code == 1 and not out
    assert (
        one_error_line(err) == "Error: bad config: rendered_rows_bytes: must be 0 or more, got -1"
    )
    assert not (tmp_path / "hub-data").exists()


@pytest.mark.parametrize(
    ("source", "commands", "expected"),
    [
        (MISSPELT_HOOK, ["plugins", "serve"], ["register_rests", "did you mean register_rest?"]),
        (UNANNOTATED_ARGUMENT, ["plugins", "serve"], ["register_graphql", 'argument "text"']),
        (UNRESOLVABLE_TYPE, ["serve", "schema export"], ["GraphQL schema", "NoSuchType"]),
        (FAILING_STARTUP, ["serve"], ["startup", "the upstream is not configured"]),
        (
            MISSPELT_ARGUMENT,
            ["plugins", "serve"],
            [
                "register_rest(hub, registr): registr is not an argument of register_rest",
                "(it takes hub, register; did you mean register?)",
            ],
        ),
        (LAMBDA_MIGRATION, ["serve"], ["register_migrations: a lambda: a migration is a function"]),
        (FAILING_MIGRATION, ["serve"], ["migration: m002_broken: ", "syntax error"]),
        (BARE_ROUTE, ["serve"], ["register_rest: routes: <function hello", "no aiohttp route"]),
        (DICT_RENDERER, ["serve"], ["register_rest: render_error returned dict, expected"]),
        (
            UNSUPPORTED_SETTING,
            ["plugins", "serve"],
            ["register_settings: BrokenSettings.every: timedelta is no type the config can give"],
        ),
    ],
    ids=[
        "misspelt-hook",
        "unannotated-argument",
        "unresolvable-type",
        "failing-startup",
        "misspelt-argument",
        "lambda-migration",
        "failing-migration",
        "bare-route",
        "dict-renderer",
        "unsupported-setting",
    ],
)
def test_a_broken_plugin_stops_the_start_in_one_line_naming_it(
    tmp_path: Path, source: str, commands: list[str], expected: list[str]
) -> None:
    folder = plugins_dir(tmp_path, broken=source)
    env = clean_env(HUB_PLUGINS_DIR=str(folder), HUB_PLUGINS="broken")
    runs = [
        hub(
            *(SERVE if command == "serve" else command.split()),
            "--data-dir",
            str(tmp_path / "data"),
            cwd=tmp_path,
            env=env,
        )
        for command in commands
    ]
    for command, proc in zip(commands, runs, strict=True):
        code, out, err = finish(proc)
        assert code == 1 and "listening" not in out, (command, out, err)
        line = one_error_line(err)
        assert line.startswith("Error: cannot start: plugin broken: "), (command, line)
        assert all(part in line for part in expected), (command, line)


def test_an_unknown_hub_variable_is_one_warning_naming_it(tmp_path: Path) -> None:
    env = clean_env(
        HUB_HTTPP="1",  # misspelt
        HUB_MONITOROZAS_INTERVALL="30",  # misspelt plugin setting
        HUB_MONITOROZAS_INTERVAL="30",  # plugin settings are known once plugins are loaded
        HUB_WEBIM_LISTEN="127.0.0.1:0",  # the host's own per-plugin key
        HUB_GRAPHQL_MAX_DEPTH="10",
        HUB_PLUGINS="era,monitorozas,webim",
        HUB_REQUIRE_NODE="1",  # read by the test suite and CI only
        HUB_REQUIRE_PROMTOOL="1",
        HUB_LOG_LEVEL="INFO",
    )
    code, out, err = finish(
        hub("plugins", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=env)
    )
    assert code == 0 and '"name": "monitorozas"' in out
    assert err.splitlines() == [
        "HUB_HTTPP is not a setting of the hub or of a loaded plugin; ignored"
        " (did you mean HUB_HTTP?)",
        "HUB_MONITOROZAS_INTERVALL is not a setting of the hub or of a loaded plugin; ignored"
        " (did you mean HUB_MONITOROZAS_INTERVAL?)",
    ], err


def test_hub_plugin_listen_variable_gives_the_plugin_its_own_listener(tmp_path: Path) -> None:
    env = clean_env(HUB_PLUGINS="webim", HUB_WEBIM_LISTEN="127.0.0.1:0", HUB_LOG_LEVEL="WARNING")
    server = hub(*SERVE, "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=env)
    try:
        lines = serve_until_listening(server)
    finally:
        stop(server)
    assert any(line.startswith("webim http listening on 127.0.0.1:") for line in lines), lines


# == 14: nothing is written before what can be checked is checked ================================
@pytest.mark.parametrize("which", ["http", "grpc", "own"])
def test_a_port_in_use_stops_the_start_before_the_data_dir_is_touched(
    tmp_path: Path, taken_port: int, which: str
) -> None:
    address = f"127.0.0.1:{taken_port}"
    listeners = {"http": "127.0.0.1:0", "grpc": "127.0.0.1:0"}
    env = clean_env()
    env.pop("HUB_ADMIN_TOKEN")  # a new data directory would get a new admin token
    if which == "own":
        env.update(HUB_PLUGINS="era", HUB_ERA_LISTEN=address)
    else:
        listeners[which] = address
    code, out, err = finish(
        hub(
            "serve", "--http", listeners["http"], "--grpc", listeners["grpc"], cwd=tmp_path, env=env
        )
    )
    assert code == 1 and not out
    line = one_error_line(err)
    assert line.startswith("Error: cannot start: ") and address in line, line
    assert "already in use" in line.lower(), line
    assert not (tmp_path / "hub-data").exists()


def test_creds_add_for_an_unknown_plugin_writes_nothing(tmp_path: Path) -> None:
    env = clean_env()
    env.pop("HUB_ADMIN_TOKEN")
    code, out, err = finish(hub("creds", "add", "nosuch", cwd=tmp_path, env=env))
    assert code == 1 and not out
    line = one_error_line(err)
    assert "'nosuch'" in line and "era" in line and "admin token" not in line, line
    assert list(tmp_path.iterdir()) == []


# == 15: private data ===========================================================================
def test_the_data_dir_is_private_while_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = hub(
        *SERVE, "--data-dir", str(data), cwd=tmp_path, env=clean_env(HUB_LOG_LEVEL="WARNING")
    )
    try:
        serve_until_listening(server)
        files = sorted(p.name for p in data.iterdir())
        assert "rop.db" in files and "rop.db-wal" in files and "rop.db-shm" in files, files
        assert mode(data) == 0o700
        assert {p.name: mode(p) for p in data.iterdir()} == dict.fromkeys(files, 0o600)
    finally:
        stop(server)


def test_an_older_data_dir_is_made_private_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in ("rop.db", "rop.db-wal", "hub.db"):
        (data / name).touch()
        (data / name).chmod(0o644)
    code, _, err = finish(hub("plugins", "--data-dir", str(data), cwd=tmp_path))
    assert code == 0, err
    assert mode(data) == 0o700
    assert {p.name: mode(p) for p in data.iterdir() if p.is_file()} == dict.fromkeys(
        [p.name for p in data.iterdir() if p.is_file()], 0o600
    )


# == 16: --version, and protogen says what it wrote ==============================================
def test_version(tmp_path: Path) -> None:
    code, out, err = finish(hub("--version", cwd=tmp_path))
    assert (code, out, err) == (0, f"hub {__version__}\n", "")
    assert list(tmp_path.iterdir()) == []


def test_protogen_says_what_it_wrote(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    (project / "protos" / "demo" / "v1").mkdir(parents=True)
    (project / "protos" / "demo" / "v1" / "demo.proto").write_text(textwrap.dedent(PROTO))
    (project / "pyproject.toml").write_text(
        '[tool.hub.protos]\n"demo/v1/demo.proto" = "demo_pkg/v1"\n'
    )
    stubs = project / "demo_pkg" / "v1"
    code, out, err = finish(hub("protogen", str(project), cwd=tmp_path))
    assert code == 0 and not err, err
    assert out.splitlines() == [
        f"wrote {stubs / '__init__.py'}",
        f"wrote {stubs / 'demo_pb2.py'}",
        f"wrote {stubs / 'demo_pb2.pyi'}",
        f"wrote {stubs / 'demo_pb2_grpc.py'}",
        "3 generated files written, 0 already up to date",
    ]
    code, out, err = finish(hub("protogen", str(project), cwd=tmp_path))
    assert (code, out, err) == (0, "0 generated files written, 3 already up to date\n", "")
    (stubs / "demo_pb2.pyi").write_text("stale\n")
    code, out, _ = finish(hub("protogen", "--check", str(project), cwd=tmp_path))
    assert code == 1 and "demo_pb2.pyi" in out and "demo_pb2.py\n" not in out
    code, out, err = finish(hub("protogen", str(tmp_path / "nothing-here"), cwd=tmp_path))
    assert code == 1 and not out
    assert "pyproject.toml: not found" in one_error_line(err)
    (project / "pyproject.toml").write_text(  # a path not under protos/: protoc named none
        '[tool.hub.protos]\n"protos/demo/v1/demo.proto" = "demo_pkg/v1"\n'
    )
    code, out, err = finish(hub("protogen", str(project), cwd=tmp_path))
    assert code == 1 and not out
    assert one_error_line(err).endswith(
        f"[tool.hub.protos] names protos/demo/v1/demo.proto, but there is no"
        f" {project / 'protos' / 'protos/demo/v1/demo.proto'} (the names are paths under protos/)"
    ), err
