"""Channels' error counts (zabbix/channels): set by the admin, listed while above 0."""

from __future__ import annotations

from typing import Any

from hub.storage import Database
from hub_webim import inputs
from hub_webim.records import ChannelErrors
from hub_webim.storage import read


def with_errors(database: Database) -> list[ChannelErrors]:
    rows = read(
        database,
        "SELECT channel, error_cnt FROM channel_errors WHERE error_cnt > 0 ORDER BY channel",
    )
    return [ChannelErrors(channel, count) for channel, count in rows]


def set_errors(database: Database, channel: Any, error_cnt: Any) -> list[ChannelErrors]:
    """Set one channel's count (0 clears it); the answer is every channel with errors."""
    name = inputs.text({"channel": channel}, "channel", required=True, name=True)
    count = inputs.count(error_cnt, "error_cnt")
    with database.write() as db:
        db.execute(
            "INSERT INTO channel_errors (channel, error_cnt) VALUES (?, ?)"
            " ON CONFLICT (channel) DO UPDATE SET error_cnt = excluded.error_cnt",
            (name, count),
        )
        db.execute("DELETE FROM channel_errors WHERE error_cnt = 0")
    return with_errors(database)
