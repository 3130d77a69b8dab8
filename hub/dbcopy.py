"""``hub db copy``: a SQLite data directory's rows moved into PostgreSQL, so that a hub that
outgrows the embedded default keeps its data.

The data directory is first brought to the installed versions (a hub is built on it, so every
pending migration runs) and checked against what a fresh hub of those versions makes, table for
table and column for column, before the target is touched. A target holding more rows than
the migrations write is refused unless ``replace``. Then a hub built on the target migrates it,
and each ``<data-dir>/<name>.db`` goes into schema ``<name>`` in one transaction that empties
the schema's tables first (so a second run gives the same result), copies parents before the
tables that reference them, and moves each identity column past every id SQLite handed out.
Last, the data directory's admin token becomes the one the hubs on the database share.
"""

from __future__ import annotations

import dataclasses
import graphlib
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from hub import ratelimit
from hub.app import (
    COORDINATION_DATABASE,
    COORDINATION_MIGRATIONS,
    UPSTREAM_DATABASE,
    UPSTREAM_MIGRATIONS,
    Hub,
)
from hub.config import Settings, postgres_url_problem
from hub.graphql import persisted
from hub.plugins import CORE
from hub.storage import SIDE_FILES, Database, Migration, SQLiteDatabase
from hub.storage.postgres import PostgresDatabase, PostgresServer

BATCH = 1000  # rows per executemany
NOT_COPIED = ("_hub_migrations", "sqlite_sequence")  # the target's migrations record their own
HUB_BOOKKEEPING = ("_hub_migrations", "_hub_data_version")  # on PostgreSQL, never emptied
_ON_START = (ratelimit.DATABASE,)  # the host's own besides hub.db, migrated at every start
# the host's files that a hub migrates only when it first uses them (not at start)
HOST_ON_FIRST_USE: dict[str, list[Migration]] = {
    UPSTREAM_DATABASE: UPSTREAM_MIGRATIONS,
    COORDINATION_DATABASE: COORDINATION_MIGRATIONS,
    persisted.DATABASE: persisted.MIGRATIONS,
}


class CopyError(Exception):
    """What stops the copy, on one line."""


@dataclass(frozen=True)
class Copied:
    schema: str
    table: str
    rows: int

    def line(self) -> str:
        return f"{self.schema}.{self.table}: {self.rows} row{'' if self.rows == 1 else 's'}"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_files(data_dir: Path) -> list[str]:
    """The names of the data directory's databases (``hub`` for ``hub.db``); refuses a
    directory that is not a hub's."""
    if not (data_dir / "hub.db").is_file():
        raise CopyError(f"{data_dir}: no hub.db there: not a hub data directory")
    return sorted(path.stem for path in data_dir.glob("*.db") if path.is_file())


def left_behind(data_dir: Path) -> list[str]:
    """What the data directory holds besides its databases: files, not table rows."""
    databases = {f"{p.name}{suffix}" for p in data_dir.glob("*.db") for suffix in ("", *SIDE_FILES)}
    return sorted(
        f"{p.name}/" if p.is_dir() else p.name
        for p in data_dir.iterdir()
        if p.name not in databases
    )


def rows_held(server: PostgresServer, layout: Layout) -> list[str]:
    """``name.table`` of each of the hub's tables on the target (the schemas of its
    ``schema_prefix``) holding more rows than its migrations write."""
    try:
        conn = server.connect()
        with closing(conn):
            return _held(conn, server.schema_prefix, layout)
    except server.psycopg.Error as exc:  # unreachable, or a table locked past the timeouts
        raise CopyError(f"{server.location}: {_first_line(exc)}") from None


def _held(conn: Any, prefix: str, layout: Layout) -> list[str]:
    tables = conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND table_schema = ANY(%s) ORDER BY 1, 2",
        ([prefix + name for name in layout],),
    ).fetchall()
    held = []
    for schema, table in tables:
        name = schema[len(prefix) :]
        if table in HUB_BOOKKEEPING:
            continue
        made = layout[name].get(table)
        found = f"{quoted(schema)}.{quoted(table)}"
        count = conn.execute(f"SELECT count(*) FROM {found}").fetchone()[0]
        if count > (made.rows if made else 0):
            held.append(f"{name}.{table}")
    return held


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def parents_first(source: SQLiteDatabase, tables: list[str]) -> list[str]:
    """``tables`` ordered so that a table comes after those its foreign keys reference."""
    inspected = sqlite_utils.Database(source.conn)
    graph: dict[str, set[str]] = {}
    for table in sorted(tables):
        graph[table] = {
            key.other_table
            for key in inspected[table].foreign_keys  # type: ignore[union-attr]
            if key.other_table != table and key.other_table in tables
        }
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise CopyError(f"{source.location}: foreign keys form a cycle: {exc.args[1]}") from None


@dataclass
class SchemaPlan:
    """One source file and the order its tables are copied in, checked against the target."""

    name: str
    source: SQLiteDatabase
    tables: list[tuple[str, list[str]]]  # (table, columns), parents first


def plan(name: str, source: SQLiteDatabase, layout: Layout) -> SchemaPlan:
    """Refuses a table or column that the installed plugins do not make (another version made
    the data directory), before the target is touched."""
    made = layout.get(name, {})
    tables = [t for t in source.tables() if t not in NOT_COPIED]
    ordered = []
    for table in parents_first(source, tables):
        if table not in made:
            raise CopyError(
                f"{name}.db: table {table} has no counterpart in the target schema {name}:"
                " run the copy with the plugins (and versions) that made this data directory"
            )
        columns = source.columns(table)
        missing = [c for c in columns if c not in made[table].columns]
        if missing:
            raise CopyError(
                f"{name}.db: column {table}.{missing[0]} has no counterpart in the target:"
                " run the copy with the plugins (and versions) that made this data directory"
            )
        ordered.append((table, columns))
    return SchemaPlan(name, source, ordered)


@dataclass(frozen=True)
class Made:
    columns: list[str]
    rows: int  # what the migrations write themselves (a settings row, say)


Layout = dict[str, dict[str, Made]]  # database -> table -> what a fresh hub has there


def fresh_layout(settings: Settings) -> Layout:
    """The tables, columns and rows that every migration of the installed host and plugins
    make: those of a hub built on a scratch SQLite data directory."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = dataclasses.replace(settings, data_dir=scratch, database_url="")
        with _hub(fresh) as hub:
            for name, migrations in HOST_ON_FIRST_USE.items():
                hub.database(name).migrate(CORE, migrations)
        layout: Layout = {}
        for name in source_files(Path(scratch)):
            with closing(SQLiteDatabase(Path(scratch) / f"{name}.db")) as db:
                layout[name] = {
                    table: Made(db.columns(table), _count(db, table)) for table in db.tables()
                }
        return layout


def _count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])


def _used_ids(source: SQLiteDatabase) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table ever handed out (deleted rows included)."""
    if "sqlite_sequence" not in {
        row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }:
        return {}
    return {name: int(seq) for name, seq in source.execute("SELECT name, seq FROM sqlite_sequence")}


def copy_schema(schema: SchemaPlan, target: PostgresDatabase) -> list[Copied]:
    """Empty the schema's tables in the target, then copy every row, in one transaction."""
    copied = []
    with target.write() as db:
        names = [quoted(t) for t in db.tables() if t not in HUB_BOOKKEEPING]
        if names:
            db.execute(f"TRUNCATE {', '.join(names)}")
        for table, columns in schema.tables:
            listed = ", ".join(quoted(c) for c in columns)
            insert = (
                f"INSERT INTO {quoted(table)} ({listed}) VALUES ({', '.join('?' for _ in columns)})"
            )
            count = 0
            for batch in _batches(schema.source, f"SELECT {listed} FROM {quoted(table)}"):
                db.executemany(insert, batch)
                count += len(batch)
            found = db.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0]
            if found != count:
                raise CopyError(f"{schema.name}.{table}: copied {count} rows, found {found}")
            copied.append(Copied(schema.name, table, count))
        _move_sequences(db, target.schema, _used_ids(schema.source))
    return copied


def _batches(source: SQLiteDatabase, query: str) -> Iterator[list[Any]]:
    cursor = source.conn.execute(query)
    while batch := cursor.fetchmany(BATCH):
        yield batch


def _move_sequences(db: Database, schema: str, used: dict[str, int]) -> None:
    """Each identity column (``INTEGER PRIMARY KEY`` in SQLite) continues past the copied ids
    and past every id SQLite's AUTOINCREMENT handed out, so no id is given twice."""
    identities = db.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = ? AND is_identity = 'YES'",
        (schema,),
    ).fetchall()
    for table, column in identities:
        highest = db.execute(
            f"SELECT coalesce(max({quoted(column)}), 0) FROM {quoted(table)}"
        ).fetchone()[0]
        following = max(int(highest), used.get(table, 0)) + 1
        db.execute(
            f"ALTER TABLE {quoted(table)} ALTER COLUMN {quoted(column)} RESTART WITH {following}"
        )


def empty_schema(target: Database) -> None:
    with target.write() as db:
        names = [quoted(t) for t in db.tables() if t not in HUB_BOOKKEEPING]
        if names:
            db.execute(f"TRUNCATE {', '.join(names)}")


@contextmanager
def _hub(settings: Settings) -> Iterator[Hub]:
    hub = Hub(settings)
    try:
        yield hub
    finally:
        hub.close()


def _schema(hub: Hub, name: str) -> PostgresDatabase:
    database = hub.database(name)
    assert isinstance(database, PostgresDatabase)
    return database


def copy_data_dir(
    settings: Settings,
    url: str,
    replace: bool,
    progress: Callable[[Copied], None],
    notice: Callable[[str], None],
) -> list[Copied]:
    """Copy the data directory of ``settings`` into the PostgreSQL database at ``url``; then
    the data directory's admin token becomes the one the hubs on the database share (unless
    ``admin_token`` is set). ``notice`` shows a token generated for want of one, once."""
    problem = postgres_url_problem(url)
    if problem:
        raise CopyError(f"--to: {problem}")
    data_dir = Path(settings.data_dir)
    source_files(data_dir)
    server = PostgresServer(url, settings.database_statement_timeout)
    # the copy's own hubs neither make nor check an admin token: that comes last
    quiet = dataclasses.replace(settings, admin_token=secrets.token_hex())
    with _hub(dataclasses.replace(quiet, database_url="")) as source_hub:
        names = source_files(data_dir)  # the migrations made every loaded plugin's
        for name in names:
            if name in HOST_ON_FIRST_USE:
                source_hub.database(name).migrate(CORE, HOST_ON_FIRST_USE[name])
    layout = fresh_layout(quiet)
    sources = [SQLiteDatabase(data_dir / f"{name}.db") for name in names]
    try:
        plans = [plan(name, source, layout) for name, source in zip(names, sources, strict=True)]
        held = rows_held(server, layout)
        if held and not replace:
            raise CopyError(
                f"{server.location} already holds the hub's data ({held[0]} has rows):"
                " --replace empties the hub's tables there first"
            )
        with _hub(dataclasses.replace(quiet, database_url=url)) as target_hub:
            for name in names:
                if name in HOST_ON_FIRST_USE:
                    target_hub.database(name).migrate(CORE, HOST_ON_FIRST_USE[name])
            copied = []
            for schema in plans:
                for row in copy_schema(schema, _schema(target_hub, schema.name)):
                    progress(row)
                    copied.append(row)
            # what only hubs on PostgreSQL keep (the cluster's leases and events)
            for name in sorted({h.split(".", 1)[0] for h in held} - set(names)):
                empty_schema(target_hub.database(name))
        with _hub(dataclasses.replace(settings, database_url=url)) as target_hub:
            if target_hub.admin_token_created:
                notice(target_hub.admin_token_notice())
        return copied
    finally:
        for source in sources:
            source.close()


def inventory(hub: Hub) -> dict[str, Any]:
    """``hub db info``: the engine, where it is, and each of the hub's databases with the rows
    of its tables (on PostgreSQL, the schemas of the hub's ``schema_prefix``)."""
    if hub.storage.shared:
        core = _schema(hub, CORE)
        prefix = core.schema.removesuffix(CORE)
        known = {CORE, *HOST_ON_FIRST_USE, *hub.plugins, *_ON_START}
        found = {
            row[0][len(prefix) :]
            for row in core.execute(
                "SELECT table_schema FROM information_schema.tables"
                " WHERE table_name = '_hub_migrations'"
            )
            if row[0].startswith(prefix)
        }
        names = sorted(known & found)
    else:
        names = source_files(hub.data_dir)
    databases = {}
    for name in names:
        db = hub.database(name)
        databases[name] = {
            table: db.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0]
            for table in sorted(db.tables())
            if table not in NOT_COPIED
        }
    engine = "postgresql" if hub.storage.shared else "sqlite"
    return {"engine": engine, "location": hub.storage.location, "databases": databases}
