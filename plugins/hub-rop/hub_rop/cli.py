"""``hub rop ...``: the admin state (checklists, tables, dead webhooks) from the command line.
Whoever can run the CLI on the data directory holds the admin token already, so it acts as the
admin: it calls the modules the service's admin operations hand their work to."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from hub.errors import HubError
from hub.paging import Page
from hub.records import to_json
from hub_rop.definitions import CHECKLISTS, KINDS, TABLES, Kind

if TYPE_CHECKING:
    from hub_rop.service import RopService


@contextlib.contextmanager
def _admin(ctx: click.Context) -> Iterator[RopService]:
    from hub.cli import open_hub
    from hub_rop.service import RopService

    with open_hub(ctx) as hub:
        try:
            yield hub.service(RopService)
        except HubError as exc:
            raise click.ClickException(exc.message) from None


def _echo(value: Any) -> None:
    click.echo(json.dumps(to_json(value), ensure_ascii=False, indent=2))


def _json_file(source: Any) -> Any:
    try:
        return json.load(source)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{source.name}: not valid JSON: {exc}") from None


def build(cli: Any) -> None:
    @cli.group(name="rop")
    def rop() -> None:
        """rop admin state: checklists, analytic tables, receivers, webhook deliveries."""

    def put(kind: Kind) -> None:
        @rop.command(
            name=f"put-{kind.name}",
            help=f"Create or replace a {kind.name} from a JSON file ('-': stdin)"
            " with the fields of the GraphQL input, snake_case.",
        )
        @click.argument("source", type=click.File("r", encoding="utf-8"))
        @click.pass_context
        def command(ctx: click.Context, source: Any) -> None:
            with _admin(ctx) as service:
                _echo(service.definitions.put(kind, _json_file(source)))

    put(CHECKLISTS)
    put(TABLES)

    @rop.command(name="list")
    @click.pass_context
    def list_state(ctx: click.Context) -> None:
        """Print the checklists and tables (secrets are never shown)."""
        with _admin(ctx) as service:
            definitions = service.definitions
            _echo({"checklists": definitions.all(CHECKLISTS), "tables": definitions.all(TABLES)})

    @rop.command(name="delete")
    @click.argument("kind", type=click.Choice(list(KINDS)))
    @click.argument("ident")
    @click.pass_context
    def delete(ctx: click.Context, kind: str, ident: str) -> None:
        """Delete a checklist or table; results already made stay."""
        with _admin(ctx) as service:
            click.echo(service.definitions.delete(KINDS[kind], ident))

    @rop.command(name="receiver-add")
    @click.argument("kind", type=click.Choice(list(KINDS)))
    @click.argument("ident")
    @click.pass_context
    def receiver_add(ctx: click.Context, kind: str, ident: str) -> None:
        """Upstream mode: the receiver of ROP's checklist or table IDENT; prints its path and
        URL (shown only now) to set in ROP. Run again, it gets a new token."""
        with _admin(ctx) as service:
            _echo(service.receivers.create(KINDS[kind], ident))

    @rop.command(name="receivers")
    @click.pass_context
    def receivers(ctx: click.Context) -> None:
        """List the receivers (their tokens are never shown again)."""
        with _admin(ctx) as service:
            _echo(service.receivers.all())

    @rop.command(name="receiver-delete")
    @click.argument("kind", type=click.Choice(list(KINDS)))
    @click.argument("ident")
    @click.pass_context
    def receiver_delete(ctx: click.Context, kind: str, ident: str) -> None:
        """Delete a receiver: its URL stops working."""
        with _admin(ctx) as service:
            click.echo(service.receivers.delete(KINDS[kind], ident))

    @rop.command(name="deliveries")
    @click.option("--status", help="pending, failed, dead or delivered")
    @click.pass_context
    def deliveries(ctx: click.Context, status: str | None) -> None:
        """List webhook deliveries (the outbox) and their counts."""
        with _admin(ctx) as service:
            page = service.outbox.page(status, Page(0, 1000))
            _echo(
                {"counts": service.outbox.counts(), "total": page.total, "deliveries": page.items}
            )

    @rop.command(name="redeliver")
    @click.argument("delivery_id")
    @click.pass_context
    def redeliver(ctx: click.Context, delivery_id: str) -> None:
        """Send a dead (or delivered) webhook again; a running hub picks it up."""
        with _admin(ctx) as service:
            _echo(service.outbox.redeliver(delivery_id))
