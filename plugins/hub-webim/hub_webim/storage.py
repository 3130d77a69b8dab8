"""Webim's state in ``<data-dir>/webim.db``: accounts and their counters, objects waiting in the
storagers, channels' error counts, environments, long-polling statistics. The schema, and the
two ways of reaching it: the hub's connection for queries, a fresh one for the checks."""

from __future__ import annotations

import logging
from typing import Any

from hub.storage import Database, StorageError
from hub_webim.errors import error

log = logging.getLogger("hub_webim")

COUNTERS = (
    "sessions_cnt",
    "visible_sessions_cnt",
    "alive_sessions_cnt",
    "pages_cnt",
    "alive_pages_cnt",
    "online_operators_cnt",
    "working_operators_cnt",
    "chats_cnt",
    "offline_chats_cnt",
    "in_queue_cnt",
)
# collector name (collected-to-store-objects) -> the account counter it sums to
COLLECTORS = {
    "failed_to_store": "failed_to_store_objects_cnt",
    "collected_to_store": "collected_to_store_objects_cnt",
    "being_stored_now": "being_stored_now_objects_cnt",
    "being_stored_now_processed": "being_stored_now_processed_objects_cnt",
    "failed_to_store_1": "failed_to_store_objects_cnt_1",
    "collected_to_store_1": "collected_to_store_objects_cnt_1",
    "being_stored_now_1": "being_stored_now_objects_cnt_1",
    "being_stored_now_processed_1": "being_stored_now_processed_objects_cnt_1",
}
STORAGER_COUNTERS = tuple(COLLECTORS.values())
ALL_COUNTERS = COUNTERS + STORAGER_COUNTERS


def m001_webim(db: Any) -> None:
    counters = "".join(f", {c} INTEGER NOT NULL DEFAULT 0" for c in COUNTERS)
    db.execute(
        "CREATE TABLE accounts (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL UNIQUE, domain TEXT NOT NULL, blocked INTEGER NOT NULL DEFAULT 0,"
        " not_belongs_to_tornado_instance INTEGER NOT NULL DEFAULT 0,"
        f" ignore_not_belongs_to_tornado_instance INTEGER NOT NULL DEFAULT 0{counters})"
    )
    db.execute(
        "CREATE TABLE store_objects (account TEXT NOT NULL REFERENCES accounts (name)"
        " ON DELETE CASCADE ON UPDATE CASCADE, collector TEXT NOT NULL,"
        " class_name TEXT NOT NULL, count INTEGER NOT NULL,"
        " PRIMARY KEY (account, collector, class_name))"
    )
    db.execute("CREATE TABLE channel_errors (channel TEXT PRIMARY KEY, error_cnt INTEGER NOT NULL)")
    db.execute(
        "CREATE TABLE environments (seq INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL,"
        " env TEXT NOT NULL, ip TEXT NOT NULL, UNIQUE (host, env))"
    )
    db.execute(
        "CREATE TABLE long_polling (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " avg_n_tries REAL NOT NULL, n INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO long_polling (id, avg_n_tries, n) VALUES (1, 0.0, 0)")
    db.execute(
        "CREATE TABLE storager (id INTEGER PRIMARY KEY CHECK (id = 1), last_write REAL NOT NULL)"
    )


MIGRATIONS = [m001_webim]


def read(database: Database, sql: str, params: tuple | list = ()) -> list[Any]:
    """The rows of a query; a database that does not answer is connect-to-db's 500."""
    try:
        return database.execute(sql, params).fetchall()
    except StorageError as exc:
        log.error("webim.db: %s", exc)
        raise error(500, "Failed to connect to database meta", "database") from None
