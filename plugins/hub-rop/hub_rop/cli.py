"""``hub rop ...``: the admin state (checklists, tables, dead webhooks) from the command line.
Whoever can run the CLI on the data directory holds the admin token already, so it acts as the
admin through the same service calls GraphQL and gRPC make."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import click

from hub.errors import HubError


@contextlib.contextmanager
def _admin(ctx: click.Context) -> Iterator[tuple[Any, str]]:
    from hub.cli import open_hub
    from hub_rop.service import RopService

    with open_hub(ctx) as hub:
        try:
            yield hub.service(RopService), f"Bearer {hub.admin_token}"
        except HubError as exc:
            raise click.ClickException(exc.message) from None


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _json_file(source: Any) -> Any:
    try:
        return json.load(source)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{source.name}: not valid JSON: {exc}") from None


def build(cli: Any) -> None:
    @cli.group(name="rop")
    def rop() -> None:
        """rop admin state: checklists, analytic tables, webhook deliveries."""

    def put(name: str, call: Callable[[Any, str, Any], Any], what: str) -> None:
        @rop.command(
            name=name,
            help=f"Create or replace a {what} from a JSON file ('-': stdin)"
            " with the fields of the GraphQL input, snake_case.",
        )
        @click.argument("source", type=click.File("r", encoding="utf-8"))
        @click.pass_context
        def command(ctx: click.Context, source: Any) -> None:
            with _admin(ctx) as (service, auth):
                _echo(call(service, auth, _json_file(source)))

    put("put-checklist", lambda s, a, d: s.put_checklist(a, d), "checklist")
    put("put-table", lambda s, a, d: s.put_table(a, d), "table")

    @rop.command(name="list")
    @click.pass_context
    def list_state(ctx: click.Context) -> None:
        """Print the checklists and tables (secrets are never shown)."""
        with _admin(ctx) as (service, auth):
            _echo({"checklists": service.checklists(auth), "tables": service.tables(auth)})

    @rop.command(name="delete")
    @click.argument("kind", type=click.Choice(["checklist", "table"]))
    @click.argument("ident")
    @click.pass_context
    def delete(ctx: click.Context, kind: str, ident: str) -> None:
        """Delete a checklist or table; results already made stay."""
        with _admin(ctx) as (service, auth):
            remove = service.delete_checklist if kind == "checklist" else service.delete_table
            click.echo(remove(auth, ident))

    @rop.command(name="deliveries")
    @click.option("--status", help="pending, failed, dead or delivered")
    @click.pass_context
    def deliveries(ctx: click.Context, status: str | None) -> None:
        """List webhook deliveries (the outbox) and their counts."""
        with _admin(ctx) as (service, auth):
            items, total = service.deliveries(auth, status, 0, 1000)
            _echo({"counts": service.delivery_counts(auth), "total": total, "deliveries": items})

    @rop.command(name="redeliver")
    @click.argument("delivery_id")
    @click.pass_context
    def redeliver(ctx: click.Context, delivery_id: str) -> None:
        """Send a dead (or delivered) webhook again; a running hub picks it up."""
        with _admin(ctx) as (service, auth):
            _echo(service.redeliver(auth, delivery_id))
