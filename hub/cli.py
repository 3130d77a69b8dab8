"""The ``hub`` command: serve, plugins, creds add, schema export, protogen; plugins add more."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import click

from hub.config import ConfigError, Settings, load_settings
from hub.errors import StartupError


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), {**ctx.obj.get("overrides", {}), **overrides})
    except ConfigError as exc:
        raise click.ClickException(f"bad config: {exc}") from None


@contextlib.contextmanager
def open_hub(ctx: click.Context) -> Iterator[Any]:
    """The hub described by the command line's ``--config``/``--data-dir``, for commands (the
    host's and plugins') that work on its data without serving; closed afterwards."""
    from hub.app import Hub

    root = ctx.find_root()
    try:
        hub = Hub(_settings(root))
    except ConfigError as exc:
        raise click.ClickException(f"bad config: {exc}") from None
    except StartupError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    if hub.admin_token_created:  # whichever command makes it shows it, once (stdout stays data)
        click.echo(hub.admin_token_notice(), err=True)
    try:
        yield hub
    except StartupError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    finally:
        hub.close()


@click.group()
@click.option("--config", "config", envvar="HUB_CONFIG", help="TOML config file.")
@click.option("--data-dir", help="Where the SQLite files live (default ./hub-data).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """hub: one GraphQL API and gRPC over several outside systems, each brought in by a plugin."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["overrides"] = {"data_dir": data_dir}


@cli.command()
@click.option("--http", help="HOST:PORT for HTTP (default 127.0.0.1:8080; port 0 picks one).")
@click.option("--grpc", "grpc_address", help="HOST:PORT for gRPC (default 127.0.0.1:50051).")
@click.pass_context
def serve(ctx: click.Context, http: str | None, grpc_address: str | None) -> None:
    """Run the hub until SIGINT or SIGTERM."""
    from hub.serve import serve as run

    settings = _settings(ctx, http=http, grpc=grpc_address)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(run(settings))
    except ConfigError as exc:
        raise click.ClickException(f"bad config: {exc}") from None
    except StartupError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """Print the loaded plugins, their versions and hooks, as JSON."""
    with open_hub(ctx) as hub:
        click.echo(json.dumps([info.as_dict() for info in hub.plugin_info()], indent=2))


@cli.group()
def creds() -> None:
    """Plugin credentials."""


@creds.command("add")
@click.argument("plugin")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.pass_context
def creds_add(ctx: click.Context, plugin: str, params: tuple[str, ...]) -> None:
    """Create a credential for PLUGIN and print it, once, as JSON."""
    from hub.errors import HubError

    pairs: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {param!r}", param_hint="--param")
        pairs[key] = value
    with open_hub(ctx) as hub:
        try:
            click.echo(json.dumps(hub.credentials.issue(plugin, pairs)))
        except HubError as exc:
            raise click.ClickException(exc.message) from None


@cli.group()
def schema() -> None:
    """The GraphQL schema."""


@schema.command("export")
@click.pass_context
def schema_export(ctx: click.Context) -> None:
    """Print the GraphQL SDL of the loaded plugins."""
    from hub.graphql.schema import build_schema

    with open_hub(ctx) as hub:
        click.echo(build_schema(hub.graphql_parts).as_str())


@cli.command()
@click.option("--check", is_flag=True, help="Fail if the committed stubs are out of date.")
@click.argument("project", default=".")
def protogen(check: bool, project: str) -> None:
    """Regenerate gRPC stubs from PROJECT/protos per [tool.hub.protos]."""
    from hub.protogen import run

    sys.exit(run(__import__("pathlib").Path(project), check))


def _plugins_dir(argv: list[str]) -> str:
    """The ``plugins_dir`` of the config the command line names, so that plugins living there
    can add commands too (the group's options are parsed only after commands are added)."""
    config = None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            config = argv[i + 1]
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
    try:
        return load_settings(config).plugins_dir
    except ConfigError:  # reported properly once the command runs
        return ""


def main() -> None:
    from hub.plugins import load_plugins

    try:
        pm, _ = load_plugins(_plugins_dir(sys.argv[1:]), env=None)
        own = dict(cli.commands)
        pm.hook.register_commands(cli=cli)
        for name, command in own.items():
            if cli.commands[name] is not command:
                cli.commands[name] = command
                click.echo(
                    f"warning: a plugin tried to replace `hub {name}`; kept the host's", err=True
                )
    except Exception as exc:  # a broken plugin must not hide `hub --help`
        click.echo(f"warning: plugins could not be loaded: {exc}", err=True)
    cli(obj={})


if __name__ == "__main__":
    main()
