"""What the upstream-mode tests (a hub fronting another hub as its vendor) share besides the
proxy (:mod:`tests.upstream_proxy`): waiting for what the hubs do in their own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """``check()``'s first truthy value, polled; a generous deadline, never a timing claim."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(0.1)
