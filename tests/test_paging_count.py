"""``Keyset.read``'s total: counted in the page's own statement (one snapshot), with a
``count(*)`` of its own only for a page past the last row, and right for every window, filter
and cursor."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from hub.paging import Keyset, Page, Seek, SortKey
from hub.storage.sqlite import SQLiteDatabase

KEYSET = Keyset((SortKey("a", "a"), SortKey("seq", "seq")))


class Recording:
    """The database, with the SQL it was asked kept in ``asked``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.asked: list[str] = []

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.asked.append(sql)
        return self.database.execute(sql, params)

    def counted(self) -> bool:
        return any("count(*)" in sql for sql in self.asked)


@pytest.fixture
def database(tmp_path: Path) -> Recording:
    db = SQLiteDatabase(tmp_path / "t.db")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a INTEGER NOT NULL)")
    with db.write() as writing:
        for a in [3, 1, 2] * 4:
            writing.execute("INSERT INTO t (a) VALUES (?)", (a,))
    return Recording(db)


def read(database: Recording, page: Page, where: list[str], params: list[Any]) -> Any:
    database.asked.clear()
    found = KEYSET.read(database, page, select="seq", source="t", where=where, params=params)  # type: ignore[arg-type]
    return found


@pytest.mark.parametrize(
    ("where", "params", "matching"),
    [([], [], 12), (["a = ?"], [2], 4), (["a > ?"], [9], 0)],
)
def test_totals_are_every_match_in_one_statement_unless_the_page_is_past_the_end(
    database: Recording, where: list[str], params: list[Any], matching: int
) -> None:
    for offset, limit in itertools.product(range(15), range(14)):
        page = read(database, Page(offset, limit), where, params)
        assert page.total == matching, (offset, limit)
        assert len(page.rows) == max(0, min(limit, matching - offset))
        # the rows and keys are what was selected: the count's column is not among them
        assert all(len(row) == 1 for row in page.rows) and all(len(k) == 2 for k in page.keys)
        assert [row[0] for row in page.rows] == [key[1] for key in page.keys]
        past_the_end = offset >= matching and offset > 0
        assert len(database.asked) == (2 if past_the_end else 1), (offset, limit)
        assert database.counted()


def test_a_page_after_a_cursor_is_always_counted(database: Recording) -> None:
    first = read(database, Page(0, 5), [], [])
    after = Seek(tuple(t.signed for t in KEYSET.terms), first.keys[-1])
    rest = read(database, Page(0, 100, after), [], [])
    assert (len(rest.rows), rest.total) == (7, 12) and len(database.asked) == 1
    last = Seek(after.order, rest.keys[-1])
    beyond = read(database, Page(0, 100, last), [], [])
    assert (beyond.rows, beyond.total, len(database.asked)) == ([], 12, 2)


def test_not_counting_when_not_asked(database: Recording) -> None:
    database.asked.clear()
    page = KEYSET.read(database, Page(3, 2), select="seq", source="t", count=False)  # type: ignore[arg-type]
    assert page.total is None and not database.counted()
