"""Environments (get-all-env-list.php): host, env and IP, in the order they were added."""

from __future__ import annotations

import ipaddress
from typing import Any

from hub.errors import quoted
from hub.storage import Database
from hub_webim import inputs
from hub_webim.errors import bad_request, error
from hub_webim.records import Environment
from hub_webim.storage import read


def every(database: Database) -> list[Environment]:
    rows = read(database, "SELECT host, env, ip FROM environments ORDER BY seq")
    return [Environment(host, env, ip) for host, env, ip in rows]


def upsert(database: Database, data: Any) -> Environment:
    """Add an environment or change its IP (written as ``ipaddress`` writes it)."""
    data = inputs.only(data, ("host", "env", "ip"), "environment")
    host = inputs.text(data, "host", required=True, name=True)
    env = inputs.text(data, "env", required=True, name=True)
    ip = inputs.text(data, "ip", required=True)
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        raise bad_request(f"ip: not an IP address: {quoted(ip)}") from None
    with database.write() as db:
        db.execute(
            "INSERT INTO environments (host, env, ip) VALUES (?, ?, ?)"
            " ON CONFLICT (host, env) DO UPDATE SET ip = excluded.ip",
            (host, env, ip),
        )
    return Environment(host, env, ip)


def delete(database: Database, host: str, env: str) -> None:
    with database.write() as db:
        deleted = db.execute(
            "DELETE FROM environments WHERE host = ? AND env = ?", (host, env)
        ).rowcount
        if deleted == 0:
            missing = f"host/env: no environment {quoted(env)} on {quoted(host)}"
            raise error(404, missing, "env_not_found")
