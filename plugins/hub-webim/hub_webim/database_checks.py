"""Whether ``webim.db`` works, checked on a fresh connection: the storager's heartbeat write
(monitor's ``storingEnabled``, the periodic job) and connect-to-db's reads (also the health
probe, ``webim_database_up`` and pingservice's 503)."""

from __future__ import annotations

import logging
import time

from hub.storage import Database, DatabaseUnavailable, StorageError
from hub_webim.errors import error

log = logging.getLogger("hub_webim")


def storing_enabled(database: Database) -> bool:
    """Whether ``webim.db`` takes a write now: the heartbeat row, upserted."""
    started = time.perf_counter()
    try:
        with database.fresh() as fresh, fresh.write():
            fresh.execute(
                "INSERT INTO storager (id, last_write) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_write = excluded.last_write",
                (time.time(),),
            )
    except (StorageError, DatabaseUnavailable) as exc:
        log.warning("storager: webim.db refused a write: %s", exc)
        return False
    log.debug("storager: write ok in %.2f ms", (time.perf_counter() - started) * 1000)
    return True


def connect_to_db(database: Database) -> None:
    """A real query on the meta data (the account list, the long-polling row), then one per
    account on its own rows (its "pro" data); the first failure is the 500 naming where."""
    account = None
    try:
        with database.fresh() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM accounts ORDER BY seq")]
            conn.execute("SELECT avg_n_tries FROM long_polling").fetchall()
            for account in names:
                conn.execute(
                    "SELECT count(*), coalesce(sum(count), 0) FROM store_objects WHERE account = ?",
                    (account,),
                ).fetchone()
    except (StorageError, DatabaseUnavailable) as exc:
        where = f"pro @{account}" if account is not None else "meta"
        log.error("connect-to-db: %s: %s", where, exc)
        raise error(500, f"Failed to connect to database {where}", "database") from None
