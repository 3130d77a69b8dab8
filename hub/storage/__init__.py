"""Where plugins keep their state: a SQLite file each in the data directory (the default), or a
schema each in one PostgreSQL database (``database_url``). Queries are written once, in SQLite's
dialect; :mod:`hub.storage.dialect` gives PostgreSQL its own."""

from __future__ import annotations

from pathlib import Path

from hub.config import STATEMENT_TIMEOUT
from hub.storage.base import (
    Cursor,
    Database,
    DatabaseBusy,
    DatabaseUnavailable,
    IntegrityError,
    Migration,
    MissingTable,
    StorageError,
    UnstorableValue,
)
from hub.storage.sqlite import SIDE_FILES, SQLiteDatabase, private_directory, private_file

__all__ = [
    "SIDE_FILES",
    "Cursor",
    "Database",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "Engine",
    "IntegrityError",
    "Migration",
    "MissingTable",
    "SQLiteDatabase",
    "StorageError",
    "UnstorableValue",
    "private_directory",
    "private_file",
]


class Engine:
    """Opens each plugin's database: ``<data-dir>/<name>.db``, or schema ``name`` of the
    PostgreSQL database at ``url`` (``statement_timeout``: database_statement_timeout)."""

    def __init__(
        self, data_dir: Path, url: str = "", statement_timeout: float = STATEMENT_TIMEOUT
    ) -> None:
        self.data_dir = data_dir
        self.url = url
        self._server = None
        if url:
            from hub.storage.postgres import PostgresServer

            self._server = PostgresServer(url, statement_timeout)  # type: ignore[assignment]

    @property
    def shared(self) -> bool:
        """Several hubs may share this state (so they coordinate through it)."""
        return self._server is not None

    @property
    def location(self) -> str:
        return self._server.location if self._server is not None else str(self.data_dir)

    def open(self, name: str) -> Database:
        if self._server is not None:
            from hub.storage.postgres import PostgresDatabase

            return PostgresDatabase(self._server, name)
        return SQLiteDatabase(self.data_dir / f"{name}.db")
