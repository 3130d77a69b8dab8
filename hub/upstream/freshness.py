"""How fresh an answer built from upstream readings is, told the way each protocol tells it:
REST ``Age`` (RFC 9111) and ``Hub-Upstream-Stale: 1``; GraphQL ``extensions.upstream.<plugin>``;
gRPC trailing metadata ``hub-upstream-age`` and ``hub-upstream-stale``. A caller collects what
its request read (``Caller.saw_upstream``): the oldest reading per plugin, stale if any was."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.caller import Caller


def _oldest(callers: Iterable[Caller]) -> tuple[float, bool] | None:
    seen = [value for caller in callers for value in caller.upstream.values()]
    if not seen:
        return None
    return min(at for at, _ in seen), any(stale for _, stale in seen)


def rest_headers(caller: Caller) -> dict[str, str]:
    oldest = _oldest([caller])
    if oldest is None:
        return {}
    headers = {"Age": str(max(0, int(time.time() - oldest[0])))}
    if oldest[1]:
        headers["Hub-Upstream-Stale"] = "1"
    return headers


def grpc_trailers(caller: Caller) -> tuple[tuple[str, str], ...]:
    oldest = _oldest([caller])
    if oldest is None:
        return ()
    age = str(max(0, int(time.time() - oldest[0])))
    return (("hub-upstream-age", age), ("hub-upstream-stale", "1" if oldest[1] else "0"))


def graphql_extension(callers: Iterable[Caller]) -> dict[str, Any] | None:
    now = time.time()
    out = {}
    for caller in callers:
        for plugin, (at, stale) in caller.upstream.items():
            out[plugin] = {
                "fetchedAt": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
                "ageSeconds": max(0, int(now - at)),
                "stale": stale,
            }
    return out or None
