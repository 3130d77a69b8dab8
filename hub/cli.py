"""The ``hub`` command: serve, plugins, creds (add, list, revoke, rotate), schema (export, check),
protogen; plugins add more."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import click

from hub import __version__, logs, tracing
from hub.api import HubApi
from hub.config import ConfigError, Settings, load_settings
from hub.errors import StartupError

GLOBAL_OPTIONS = {
    "--config": "TOML config file.",
    "--data-dir": "Where the SQLite files live (default ./hub-data).",
    "--database": "postgresql://user:password@host:5432/db: keep the state there instead.",
}
OVERRIDES = {"--data-dir": "data_dir", "--database": "database_url"}


def failure(exc: Exception) -> click.ClickException:
    """One line on stderr for what stops a command: ``bad config: …`` names the key,
    ``cannot start: …`` the plugin or the address."""
    from hub.plugins import one_line

    if isinstance(exc, ConfigError):
        return click.ClickException(f"bad config: {one_line(exc)}")
    if isinstance(exc, StartupError):
        return click.ClickException(f"cannot start: {one_line(exc)}")
    return click.ClickException(one_line(exc))


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), {**ctx.obj.get("overrides", {}), **overrides})
    except ConfigError as exc:
        raise failure(exc) from None


def _require_plugin(plugin: str, hub: HubApi) -> None:
    if plugin not in hub.plugins:
        loaded = ", ".join(sorted(set(hub.plugins) - {"hub"}))
        raise click.ClickException(f"no plugin named {plugin!r} is loaded (loaded: {loaded})")


@contextlib.contextmanager
def open_hub(ctx: click.Context, plugin: str | None = None) -> Iterator[Any]:
    """The hub described by the command line's ``--config``/``--data-dir``, for commands (the
    host's and plugins') that work on its data without serving; closed afterwards. With
    ``plugin``, a name no loaded plugin has is refused before the data directory is touched."""
    from hub.app import Hub

    settings = _settings(ctx.find_root())
    try:
        check = None if plugin is None else partial(_require_plugin, plugin)
        hub = Hub(settings, before_open=check)
    except (ConfigError, StartupError, OSError) as exc:  # OSError: a data_dir it cannot make
        raise failure(exc) from None
    if hub.admin_token_created:  # whichever command makes it shows it, once (stdout stays data)
        click.echo(hub.admin_token_notice(), err=True)
    try:
        yield hub
    except StartupError as exc:
        raise failure(exc) from None
    finally:
        hub.close()


class HubGroup(click.Group):
    """The ``hub`` group. When plugins could not be loaded, a command that is missing for that
    reason says why (the commands that build a hub report the problem themselves)."""

    plugin_problem = ""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            if not self.plugin_problem:
                raise
            message = f"{exc.message} (plugins could not be loaded: {self.plugin_problem})"
            raise click.UsageError(message, exc.ctx) from None


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """A global option after the subcommand counts as if it came before it."""
    if value is None:
        return
    if param.name == "config":
        ctx.obj["config"] = value
    else:
        ctx.obj["overrides"][OVERRIDES[param.opts[0]]] = value


def accept_global_options(command: click.Command) -> None:
    """Let the global options follow the subcommand too (``hub serve --data-dir X``), on the
    host's commands and on those plugins add, unless a command has its own."""
    taken = {opt for param in command.params for opt in param.opts}
    for flag, text in GLOBAL_OPTIONS.items():
        if flag not in taken:
            command.params.append(
                click.Option([flag], help=text, expose_value=False, callback=_remember)
            )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_options(sub)


@click.group(cls=HubGroup)
@click.option("--config", "config", envvar="HUB_CONFIG", help=GLOBAL_OPTIONS["--config"])
@click.option("--data-dir", help=GLOBAL_OPTIONS["--data-dir"])
@click.option("--database", "database_url", help=GLOBAL_OPTIONS["--database"])
@click.version_option(__version__, message="%(prog)s %(version)s", prog_name="hub")
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, data_dir: str | None, database_url: str | None
) -> None:
    """hub: one GraphQL API and gRPC over several outside systems, each brought in by a plugin."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["overrides"] = {"data_dir": data_dir, "database_url": database_url}


@cli.command()
@click.option("--http", help="HOST:PORT for HTTP (default 127.0.0.1:8080; port 0 picks one).")
@click.option("--grpc", "grpc_address", help="HOST:PORT for gRPC (default 127.0.0.1:50051).")
@click.option(
    "--workers",
    help="Worker processes sharing the ports (default 1; auto: one per CPU this may use).",
)
@click.pass_context
def serve(
    ctx: click.Context, http: str | None, grpc_address: str | None, workers: str | None
) -> None:
    """Run the hub until SIGINT or SIGTERM."""
    from hub.serve import run_loop
    from hub.serve import serve as run
    from hub.workers import serve_workers, worker_count

    settings = _settings(ctx, http=http, grpc=grpc_address, workers=workers)
    logs.configure(settings.log_level, settings.log_format)
    try:
        count = worker_count(settings.workers)
        if count > 1:
            sys.exit(serve_workers(settings, count))
        tracing.configure(settings.tracing)
        run_loop(run(settings))
    except (ConfigError, StartupError, OSError) as exc:
        raise failure(exc) from None


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
        if key in pairs:  # the other protocols take a map: one value a key
            raise click.BadParameter(f"{key} is given twice", param_hint="--param")
        pairs[key] = value
    with open_hub(ctx, plugin) as hub:
        try:
            click.echo(json.dumps(hub.credentials.issue(plugin, pairs)))
        except HubError as exc:
            raise click.ClickException(exc.message) from None


@creds.command("list")
@click.argument("plugin", required=False)
@click.pass_context
def creds_list(ctx: click.Context, plugin: str | None) -> None:
    """Print the live credentials (of PLUGIN, or all) as a JSON array; never a secret."""
    from hub.errors import HubError

    with open_hub(ctx, plugin) as hub:
        try:
            click.echo(json.dumps(hub.credentials.listing(plugin).items, indent=2))
        except HubError as exc:
            raise click.ClickException(exc.message) from None


@creds.command("revoke")
@click.argument("plugin")
@click.argument("credential_id", metavar="ID")
@click.pass_context
def creds_revoke(ctx: click.Context, plugin: str, credential_id: str) -> None:
    """Revoke a credential at once, also for hubs serving this data directory."""
    from hub.errors import HubError

    with open_hub(ctx, plugin) as hub:
        try:
            click.echo(json.dumps(hub.credentials.revoke(plugin, credential_id)))
        except HubError as exc:
            raise click.ClickException(exc.message) from None


@creds.command("rotate")
@click.argument("plugin")
@click.argument("credential_id", metavar="ID")
@click.pass_context
def creds_rotate(ctx: click.Context, plugin: str, credential_id: str) -> None:
    """Replace a credential's secret: print the new one, once, as `creds add` would (the new
    id goes to stderr); the old secret stops working at once."""
    from hub.errors import HubError

    with open_hub(ctx, plugin) as hub:
        try:
            new_id, shown = hub.credentials.rotate(plugin, credential_id)
        except HubError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(json.dumps(shown))
        click.echo(f"credential {credential_id} is revoked; its replacement is {new_id}", err=True)


@cli.group()
def schema() -> None:
    """The GraphQL schema."""


@schema.command("export")
@click.pass_context
def schema_export(ctx: click.Context) -> None:
    """Print the GraphQL SDL of the loaded plugins."""
    from hub.graphql.schema import build_schema

    with open_hub(ctx) as hub:
        try:
            schema = build_schema(hub.graphql_parts)
        except Exception as exc:
            raise failure(hub.assembly_error(exc)) from None
        click.echo(schema.as_str())


@schema.command("check")
@click.option("--against", required=True, metavar="REF", help="A git ref, or a directory.")
@click.argument("project", default=".")
def schema_check(against: str, project: str) -> None:
    """Breaking changes to the GraphQL schema, the protos and the OpenAPI documents of PROJECT
    since REF (a git ref, or a directory holding schema.graphql, protos/ and openapi/): one
    line each; exit 1 if any, 2 if REF cannot be compared."""
    from hub.schemacheck import SchemaCheckError, check

    try:
        changes, notes = check(Path(project), against)
    except SchemaCheckError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    for line in [*notes, *(change.line() for change in changes)]:
        click.echo(line)
    breaking = sum(change.breaking for change in changes)
    click.echo(f"{breaking} breaking, {len(changes) - breaking} warnings against {against}")
    sys.exit(1 if breaking else 0)


@cli.group()
def persisted() -> None:
    """Persisted GraphQL documents: the trusted ones that run with [graphql] persisted_only, and
    those clients registered (automatic persisted queries)."""


@persisted.command("add")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_context
def persisted_add(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Register the operations of FILES as trusted and print their hashes as JSON. A FILE is a
    GraphQL document (each operation kept with the fragments it uses, as graphql-js prints it)
    or a .json manifest: Apollo's persisted query manifest, or {sha256: document}. Every
    operation must validate against the loaded plugins' schema, or nothing is added."""
    from hub.graphql.persisted import PersistedQueries, read_documents
    from hub.graphql.schema import build_schema

    with open_hub(ctx) as hub:
        try:
            schema = build_schema(hub.graphql_parts, hub.settings.graphql)
        except Exception as exc:
            raise failure(hub.assembly_error(exc)) from None
        found = []
        for path in files:
            try:
                documents = read_documents(path)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            for name, text in documents:
                _, errors = schema.documents.get(schema._schema, text)
                if errors:
                    what = f"operation {name}" if name else "an operation"
                    raise click.ClickException(f"{path}: {what}: {errors[0].message}")
                found.append((name, text))
        store = PersistedQueries.of(hub, hub.settings.graphql)
        added = []
        for name, text in found:
            hash, new = store.add(text)
            added.append({"hash": hash, "operation": name, "new": new})
        click.echo(json.dumps(added, indent=2))


@persisted.command("list")
@click.option("--trusted", is_flag=True, help="Only the documents the admin added.")
@click.pass_context
def persisted_list(ctx: click.Context, trusted: bool) -> None:
    """Print the persisted documents as a JSON array, oldest first."""
    from hub.credentials import iso
    from hub.graphql.persisted import PersistedQueries

    with open_hub(ctx) as hub:
        entries = PersistedQueries.of(hub, hub.settings.graphql).listing(trusted)
    for entry in entries:
        entry["created_at"] = iso(entry["created_at"])
    click.echo(json.dumps(entries, indent=2))


@persisted.command("remove")
@click.argument("hash", metavar="SHA256")
@click.pass_context
def persisted_remove(ctx: click.Context, hash: str) -> None:
    """Remove a persisted document: it stops running at once on every hub of this data dir."""
    from hub.graphql.persisted import PersistedQueries

    with open_hub(ctx) as hub:
        if not PersistedQueries.of(hub, hub.settings.graphql).remove(hash):
            raise click.ClickException(f"no persisted document has the hash {hash}")
    click.echo(json.dumps({"removed": hash.lower()}))


@cli.group()
def db() -> None:
    """The hub's database: what it holds, and moving a SQLite data directory to PostgreSQL."""


@db.command("copy")
@click.option(
    "--to", "url", metavar="URL", help="postgresql://… (default: the configured database_url)."
)
@click.option("--replace", is_flag=True, help="Empty the hub's tables in the target first.")
@click.pass_context
def db_copy(ctx: click.Context, url: str | None, replace: bool) -> None:
    """Copy every table row of the data directory's SQLite files into PostgreSQL (the same
    plugins must be loaded); refuses a target holding the hub's data unless --replace. Files
    beside the databases (admin-token, ...) are not copied: they are listed on stderr."""
    from hub.dbcopy import CopyError, copy_data_dir, left_behind
    from hub.errors import HubError
    from hub.storage import StorageError

    settings = _settings(ctx.find_root())
    target = url or settings.database_url
    if not target:
        raise click.ClickException("--to postgresql://user:password@host:5432/db is required")
    try:
        copied = copy_data_dir(
            settings,
            target,
            replace,
            lambda row: click.echo(row.line()),
            lambda notice: click.echo(notice, err=True),
        )
    except (ConfigError, StartupError, CopyError, HubError, StorageError) as exc:
        raise failure(exc) from None
    rows = sum(row.rows for row in copied)
    click.echo(f"copied {rows} rows of {len(copied)} tables from {settings.data_dir}")
    beside = left_behind(Path(settings.data_dir))
    if beside:
        click.echo(f"not copied (files, not table rows): {', '.join(beside)}", err=True)


@db.command("info")
@click.pass_context
def db_info(ctx: click.Context) -> None:
    """Print the engine, its location and each database's tables with their rows, as JSON."""
    from hub.dbcopy import inventory
    from hub.errors import HubError
    from hub.storage import StorageError

    with open_hub(ctx) as hub:
        try:
            click.echo(json.dumps(inventory(hub), indent=2))
        except (HubError, StorageError) as exc:
            raise failure(exc) from None


@cli.command()
@click.option("--check", is_flag=True, help="Fail if the committed stubs are out of date.")
@click.argument("project", default=".")
def protogen(check: bool, project: str) -> None:
    """Regenerate gRPC stubs from PROJECT/protos per [tool.hub.protos]; says what it wrote."""
    from hub.protogen import ProtogenError, run

    try:
        sys.exit(run(Path(project), check))
    except ProtogenError as exc:
        raise click.ClickException(str(exc)) from None


for _command in cli.commands.values():  # the host's own; main() adds them to plugins' too
    accept_global_options(_command)


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


def _add_plugin_commands() -> None:
    """Every plugin's ``register_commands``; a plugin that fails there, or that tries to replace
    a host command, gets one warning line and the others still add theirs."""
    from hub.plugins import in_call_order, invoke, load_plugins, one_line

    try:
        pm, _ = load_plugins(_plugins_dir(sys.argv[1:]), env=None)
    except Exception as exc:  # a broken plugin must not hide `hub --help` or `hub protogen`
        problem = one_line(exc)
        cli.plugin_problem = problem
        cli.epilog = f"Commands of plugins are missing: plugins could not be loaded: {problem}"
        return
    own = dict(cli.commands)
    for impl in in_call_order(pm, "register_commands"):
        try:
            invoke(impl, cli=cli)
        except Exception as exc:
            click.echo(
                f"warning: plugin {impl.plugin_name}: register_commands: {one_line(exc)}", err=True
            )
    for name, command in own.items():
        if cli.commands[name] is not command:
            cli.commands[name] = command
            click.echo(
                f"warning: a plugin tried to replace `hub {name}`; kept the host's", err=True
            )


def main() -> None:
    _add_plugin_commands()
    for command in cli.commands.values():
        accept_global_options(command)
    cli(obj={})


if __name__ == "__main__":
    main()
