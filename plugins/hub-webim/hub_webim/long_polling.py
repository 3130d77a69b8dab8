"""Long-polling statistics (monitor's ``avgNTries`` and ``n``): the running mean of the tries
of each update cycle the admin records."""

from __future__ import annotations

import math
from typing import Any

from hub.storage import Database
from hub_webim.errors import bad_request
from hub_webim.records import LongPolling
from hub_webim.storage import read


def current(database: Database) -> LongPolling:
    row = read(database, "SELECT avg_n_tries, n FROM long_polling WHERE id = 1")
    return LongPolling(float(row[0][0]), int(row[0][1])) if row else LongPolling(0.0, 0)


def record(database: Database, tries: Any) -> LongPolling:
    """One update cycle: ``n`` grows by one and the mean takes ``tries`` in."""
    if (
        isinstance(tries, bool)
        or not isinstance(tries, int | float)
        or not (math.isfinite(tries) and 0 <= tries <= 1e6)
    ):
        raise bad_request("tries: expected a number between 0 and 1000000")
    with database.write() as db:
        avg, n = db.execute("SELECT avg_n_tries, n FROM long_polling WHERE id = 1").fetchone()
        n += 1
        avg += (float(tries) - avg) / n
        db.execute("UPDATE long_polling SET avg_n_tries = ?, n = ? WHERE id = 1", (avg, n))
    return LongPolling(avg, n)
