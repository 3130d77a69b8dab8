"""The one set of paging bounds every plugin and protocol applies to a list: an offset of 0 or
more, a limit from 0 (the total count only) to :data:`MAX_LIMIT`, :data:`DEFAULT_LIMIT` when the
caller sends none. Each plugin passes its own error factory, so a bad value is a 400 in that
plugin's error shape, naming the argument as the caller spelt it (``limit`` or ``first``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # SQLite's largest integer


def bad_argument(message: str) -> HubError:
    return HubError(400, message, reason="bad_argument")


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @classmethod
    def of(
        cls,
        offset: int | None,
        limit: int | None,
        error: Callable[[str], HubError] = bad_argument,
        *,
        offset_name: str = "offset",
        limit_name: str = "limit",
        default: int = DEFAULT_LIMIT,
    ) -> Page:
        """The page asked for, or ``error(message)`` raised for a value out of bounds."""
        offset = 0 if offset is None else offset
        limit = default if limit is None else limit
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int)
            or not (0 <= offset <= MAX_OFFSET)
        ):
            raise error(f"{offset_name}: must be between 0 and {MAX_OFFSET}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
            raise error(f"{limit_name}: must be between 0 and {MAX_LIMIT}")
        return cls(offset, limit)
