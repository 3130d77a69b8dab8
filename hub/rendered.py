"""Renderings of stored rows kept for reuse, within one memory budget per process.

GraphQL (a row's selection as serialized JSON, :mod:`hub.graphql.fast`) and gRPC (a row's
message in its wire format, :mod:`hub.grpc.wire`) render a stored row once and answer later
requests that list an equal row from the rendering. A row's whole content is its key, so a
changed row is a miss, never a stale answer. Every memo shares the budget of
``rendered_rows_bytes``: past it all are dropped at once and the next requests render again, so
memory stays bounded however many documents, methods and rows pass through."""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import Any

DEFAULT_BUDGET = 64 * 1024 * 1024


class Memo:
    """One user's renderings by row (a GraphQL plan's, a servicer's); it lives as long as that
    user holds it."""

    __slots__ = ("__weakref__", "ids", "rows")

    def __init__(self) -> None:
        # entries are (row, rendering, ...): by the row's content, or by its id
        self.rows: dict[Hashable, tuple[Any, ...]] = {}
        self.ids: dict[Hashable, tuple[Any, ...]] = {}

    def entry(self, row: Any, ident: Hashable | None = None) -> tuple[Any, ...] | None:
        """The row's kept entry: by its id, confirmed by its content (a comparison of equal
        bytes stops at the first difference, where a hash reads the whole row), or by its
        content. ``TypeError`` for a row (or id) that cannot be hashed."""
        if ident is None:
            return self.rows.get(row)
        found = self.ids.get(ident)
        return found if found is not None and found[0] == row else None


def _hashable(row: Any) -> bool:
    """Whether ``row`` hashes (once per rendering kept, never per answer)."""
    try:
        hash(row)
    except TypeError:
        return False
    return True


class Renderings:
    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = budget  # bytes; 0 keeps nothing
        self.used = 0
        self.memos: weakref.WeakSet[Memo] = weakref.WeakSet()

    def new(self) -> Memo:
        memo = Memo()
        self.memos.add(memo)
        return memo

    def keep(self, memo: Memo, key: Hashable, entry: Any, length: int, by_id: bool = False) -> None:
        """Keep ``entry`` (a rendering of ``length`` bytes) for ``key`` in ``memo``: a row's
        content, or with ``by_id`` its id (the entry then holds the content, to compare). A
        row that cannot be hashed (a list, a dict, a record holding one) may be changed in
        place, and then still equals the kept entry's row, which is the same object: it is
        not kept, and renders each time."""
        if by_id and not _hashable(entry[0]):
            return
        size = 2 * length + 200  # the rendering, a key of about its size, the entry
        if self.used + size > self.budget:
            for each in list(self.memos):
                each.rows.clear()
                each.ids.clear()
            self.used = 0
            if size > self.budget:
                return
        (memo.ids if by_id else memo.rows)[key] = entry
        self.used += size


renderings = Renderings()  # the process's; ``rendered_rows_bytes`` sets its budget at start
