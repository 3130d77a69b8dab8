"""What the vendor answered, per key, in SQLite: shared by every process of the hub, kept across
restarts, with the history of each key's content (a row only when the content changes) and each
source's last success and failure."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson

from hub.storage import Database

FORGOTTEN = 0  # the status of a key a write made stale (Cache.invalidate)
CLOCK_STEP = 1.0  # seconds: an answer fetched later than now by more was fetched before the
# clock was set back, and its age is not known


def m001_cache(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS upstream_cache ("
        " source TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,"
        " method TEXT NOT NULL DEFAULT 'GET', request_type TEXT, request_body BLOB,"
        " category TEXT NOT NULL, status INTEGER NOT NULL, content_type TEXT NOT NULL,"
        " body BLOB NOT NULL, digest TEXT NOT NULL, etag TEXT, last_modified TEXT,"
        " fetched_at REAL NOT NULL, failed_at REAL, error TEXT, read_at REAL NOT NULL,"
        " PRIMARY KEY (source, key))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS upstream_history ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, key TEXT NOT NULL,"
        " fetched_at REAL NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL,"
        " digest TEXT NOT NULL)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS upstream_history_key ON upstream_history (source, key, id)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS upstream_sources ("
        " source TEXT PRIMARY KEY, last_success_at REAL, last_error_at REAL, last_error TEXT)"
    )


@dataclass(frozen=True)
class Target:
    """One reading request to the vendor: a documented path and its query, parameters in a
    canonical order (by name; repeated ones keep their order, which may mean something, as in
    ERA's ``order``); a method other than GET with its body for a vendor that reads that way
    (ERA's ``LOOKUP``)."""

    path: str
    query: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None

    @classmethod
    def of(
        cls,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        *,
        method: str = "GET",
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Target:
        pairs = sorted(((str(k), str(v)) for k, v in query), key=lambda pair: pair[0])
        return cls(path, tuple(pairs), method, body, content_type)

    @property
    def key(self) -> str:
        key = f"{self.path}?{urlencode(self.query)}" if self.query else self.path
        if self.method != "GET" or self.body:
            key = f"{self.method} {key} {hashlib.sha256(self.body).hexdigest()[:32]}"
        return key


@dataclass(frozen=True)
class Entry:
    """The vendor's last answer for a key. ``fetched_at``: when the vendor last gave or
    confirmed (304) this content; ``failed_at``: a refresh failed after that."""

    target: Target
    category: str
    status: int
    content_type: str
    body: bytes
    digest: str
    etag: str | None
    last_modified: str | None
    fetched_at: float
    failed_at: float | None = None
    error: str | None = None

    @property
    def failing(self) -> bool:
        return self.failed_at is not None


@dataclass(frozen=True)
class Change:
    """A key whose content changed: the body before (``None`` the first time it is seen) and
    after."""

    target: Target
    before: bytes | None
    after: bytes
    fetched_at: float


@dataclass(frozen=True)
class Version:
    """One content a key has had, from when the vendor first gave it."""

    fetched_at: float
    content_type: str
    body: bytes


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


COLUMNS = (
    "path, query, method, request_type, request_body, category, status, content_type, body,"
    " digest, etag, last_modified, fetched_at, failed_at, error"
)


def _entry(row: tuple) -> Entry:  # type: ignore[type-arg]
    path, query, method, rtype, rbody, *rest = row
    category, status, ctype, body, dig, etag, modified, fetched, failed, err = rest
    pairs = tuple(tuple(pair) for pair in orjson.loads(query))
    target = Target(path, pairs, method, bytes(rbody or b""), rtype)  # type: ignore[arg-type]
    return Entry(
        target, category, status, ctype, bytes(body), dig, etag, modified, fetched, failed, err
    )


def _clock_set_back() -> float:
    """Answers fetched after this were fetched before the clock was set back."""
    return time.time() + CLOCK_STEP


def _marker_keys(path: str) -> list[str]:
    """The keys of the markers a write on ``path`` or on a path above it leaves
    (:meth:`Cache.invalidate` marks each path written as ``Target.of(path)``)."""
    parts = path.split("/")
    return [Target.of("/".join(parts[:n])).key for n in range(len(parts), 1, -1)] or [path]


class Cache:
    def __init__(self, database: Database, source: str) -> None:
        self.database = database
        self.source = source

    def get(self, target: Target) -> Entry | None:
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM upstream_cache WHERE source = ? AND key = ? AND status != ?",
            (self.source, target.key, FORGOTTEN),
        ).fetchone()
        return _entry(row) if row else None

    def store(self, entry: Entry, read_at: float) -> tuple[bool, Change | None]:
        """Keep ``entry`` (clearing any failure) unless the key holds a later answer or a later
        write made it stale: answers arrive out of order (a slow request, two processes, a
        whole answer and one of its parts), and an older one must neither replace what is
        newer nor enter the history as a change back. Whether it was kept, and, for a success
        whose content differs from the last one in the history (appended to it), the
        :class:`Change`."""
        key = entry.target.key
        with self.database.write() as db:
            if self._forgotten_since(db, entry):
                self._succeeded(db, entry.fetched_at)
                return False, None
            kept = db.execute(
                f"INSERT INTO upstream_cache (source, key, {COLUMNS}, read_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)"
                " ON CONFLICT(source, key) DO UPDATE SET"
                " category = excluded.category, status = excluded.status,"
                " content_type = excluded.content_type, body = excluded.body,"
                " digest = excluded.digest, etag = excluded.etag,"
                " last_modified = excluded.last_modified, fetched_at = excluded.fetched_at,"
                " failed_at = NULL, error = NULL"
                " WHERE upstream_cache.fetched_at <= excluded.fetched_at"
                " OR upstream_cache.fetched_at > ?",
                (
                    self.source,
                    key,
                    entry.target.path,
                    orjson.dumps(entry.target.query).decode(),
                    entry.target.method,
                    entry.target.content_type,
                    entry.target.body,
                    entry.category,
                    entry.status,
                    entry.content_type,
                    entry.body,
                    entry.digest,
                    entry.etag,
                    entry.last_modified,
                    entry.fetched_at,
                    read_at,
                    _clock_set_back(),
                ),
            ).rowcount
            self._succeeded(db, entry.fetched_at)
            if not kept or not 200 <= entry.status < 300:
                return bool(kept), None
            last = db.execute(
                "SELECT digest, body FROM upstream_history WHERE source = ? AND key = ?"
                " ORDER BY id DESC LIMIT 1",
                (self.source, key),
            ).fetchone()
            if last is not None and last[0] == entry.digest:
                return True, None
            db.execute(
                "INSERT INTO upstream_history (source, key, fetched_at, content_type, body, digest)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.source, key, entry.fetched_at, entry.content_type, entry.body, entry.digest),
            )
        before = bytes(last[1]) if last is not None else None
        return True, Change(entry.target, before, entry.body, entry.fetched_at)

    def _forgotten_since(self, db: Database, entry: Entry) -> bool:
        """Whether a write made ``entry``'s path stale after its request was sent: the marker
        :meth:`invalidate` leaves on the path written (or one above ``entry``'s) is newer. A
        key never cached has no row of its own to mark, and another process's fetch of it
        cannot be marked by the process that wrote."""
        keys = _marker_keys(entry.target.path)
        found = db.execute(
            "SELECT 1 FROM upstream_cache WHERE source = ? AND status = ? AND fetched_at > ?"
            f" AND fetched_at <= ? AND key IN ({', '.join('?' * len(keys))}) LIMIT 1",
            (self.source, FORGOTTEN, entry.fetched_at, _clock_set_back(), *keys),
        ).fetchone()
        return found is not None

    def confirm(self, target: Target, at: float) -> None:
        """A 304: the content is still the vendor's as of ``at`` (unless a later answer or a
        write's invalidation came meanwhile)."""
        with self.database.write() as db:
            db.execute(
                "UPDATE upstream_cache SET fetched_at = ?, failed_at = NULL, error = NULL"
                " WHERE source = ? AND key = ? AND status != ?"
                " AND (fetched_at <= ? OR fetched_at > ?)",
                (at, self.source, target.key, FORGOTTEN, at, _clock_set_back()),
            )
            self._succeeded(db, at)

    def failed(self, target: Target, at: float, error: str) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE upstream_cache SET failed_at = ?, error = ? WHERE source = ? AND key = ?",
                (at, error, self.source, target.key),
            )
            db.execute(
                "INSERT INTO upstream_sources (source, last_error_at, last_error) VALUES (?, ?, ?)"
                " ON CONFLICT(source) DO UPDATE SET"
                " last_error_at = excluded.last_error_at, last_error = excluded.last_error",
                (self.source, at, error),
            )

    def _succeeded(self, db, at: float) -> None:  # type: ignore[no-untyped-def]
        db.execute(
            "INSERT INTO upstream_sources (source, last_success_at) VALUES (?, ?)"
            " ON CONFLICT(source) DO UPDATE SET"
            " last_success_at ="
            " max(coalesce(upstream_sources.last_success_at, 0), excluded.last_success_at)",
            (self.source, at),
        )

    def invalidate(self, paths: Iterable[str], marked: Iterable[tuple[Target, str]] = ()) -> None:
        """A write made these paths' answers stale, with any query and every path under them:
        forgotten (their history stays), so the next read waits for the vendor's new answer as
        a first read does. A forgotten key keeps its row as a marker (status ``FORGOTTEN``,
        ``fetched_at`` now) so that an answer to a request sent before the write was answered,
        landing after it in whichever process sent it, is not kept (:meth:`store`). Keys not
        cached are marked too when ``marked`` names them (target, category): the paths
        themselves and the keys being fetched now."""
        paths, marked = list(paths), list(marked)
        if not paths:
            return
        now = time.time()
        with self.database.write() as db:
            db.executemany(
                "UPDATE upstream_cache SET status = ?, fetched_at = ?, failed_at = NULL,"
                " error = NULL WHERE source = ? AND (path = ? OR"
                " substr(path, 1, length(?) + 1) = ? || '/')",
                [(FORGOTTEN, now, self.source, path, path, path) for path in paths],
            )
            if not marked:
                return
            db.executemany(
                f"INSERT INTO upstream_cache (source, key, {COLUMNS}, read_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, '', NULL, NULL, ?, NULL, NULL, 0)"
                " ON CONFLICT(source, key) DO UPDATE SET status = excluded.status,"
                " fetched_at = excluded.fetched_at, failed_at = NULL, error = NULL",
                [
                    (
                        self.source,
                        target.key,
                        target.path,
                        orjson.dumps(target.query).decode(),
                        target.method,
                        target.content_type,
                        target.body,
                        category,
                        FORGOTTEN,
                        b"",
                        now,
                    )
                    for target, category in marked
                ],
            )

    def touch(self, read_at: dict[str, float]) -> None:
        """When readers last asked for each key (kept in memory between polls)."""
        if not read_at:
            return
        with self.database.write() as db:
            db.executemany(
                "UPDATE upstream_cache SET read_at = max(read_at, ?) WHERE source = ? AND key = ?",
                [(at, self.source, key) for key, at in read_at.items()],
            )

    def prune(self, max_keys: int, versions: int, forgotten_before: float) -> None:
        """Bound what clients can make the cache hold (every distinct query is a key): the
        ``max_keys`` most recently read answers stay, each key keeps its ``versions`` newest
        contents, and the history of a key no longer cached goes once it is older than
        ``forgotten_before``."""
        with self.database.write() as db:
            db.execute(
                "DELETE FROM upstream_cache WHERE source = ? AND key NOT IN (SELECT key FROM"
                " upstream_cache WHERE source = ? ORDER BY read_at DESC LIMIT ?)",
                (self.source, self.source, max_keys),
            )
            db.execute(
                "DELETE FROM upstream_history WHERE id IN (SELECT id FROM (SELECT id,"
                " row_number() OVER (PARTITION BY key ORDER BY id DESC) AS n FROM"
                " upstream_history WHERE source = ?) AS ranked WHERE n > ?)",
                (self.source, versions),
            )
            db.execute(
                "DELETE FROM upstream_history WHERE source = ? AND fetched_at < ? AND key NOT IN"
                " (SELECT key FROM upstream_cache WHERE source = ? AND status != ?)",
                (self.source, forgotten_before, self.source, FORGOTTEN),
            )

    def hot_paths(self, read_since: float) -> set[str]:
        """The paths of keys read since ``read_since``."""
        rows = self.database.execute(
            "SELECT DISTINCT path FROM upstream_cache WHERE source = ? AND read_at >= ?",
            (self.source, read_since),
        )
        return {row[0] for row in rows}

    def due(self, read_since: float, fetched_before: float) -> list[Entry]:
        """Keys read since ``read_since`` whose answer is older than ``fetched_before``, the
        oldest first, then those fetched before the clock was set back."""
        rows = self.database.execute(
            f"SELECT {COLUMNS} FROM upstream_cache WHERE source = ? AND read_at >= ?"
            " AND (fetched_at < ? OR fetched_at > ?) ORDER BY fetched_at",
            (self.source, read_since, fetched_before, _clock_set_back()),
        ).fetchall()
        return [_entry(row) for row in rows]

    def state(self) -> tuple[float | None, float | None, str | None]:
        """``(last_success_at, last_error_at, last_error)`` of the source."""
        row = self.database.execute(
            "SELECT last_success_at, last_error_at, last_error FROM upstream_sources"
            " WHERE source = ?",
            (self.source,),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def history(self, target: Target, offset: int, limit: int) -> tuple[list[Version], int]:
        """Each content the key has had, newest first, and how many there are."""
        rows = self.database.execute(
            "SELECT fetched_at, content_type, body FROM upstream_history"
            " WHERE source = ? AND key = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (self.source, target.key, limit, offset),
        ).fetchall()
        (total,) = self.database.execute(
            "SELECT count(*) FROM upstream_history WHERE source = ? AND key = ?",
            (self.source, target.key),
        ).fetchone()
        return [Version(at, ctype, bytes(body)) for at, ctype, body in rows], total
