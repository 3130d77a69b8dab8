"""Persisted queries: Apollo's automatic persisted queries (a client sends the SHA-256 of a
document, and the document itself only when the hub does not know it yet) and trusted documents
(with ``[graphql] persisted_only``, only the documents an admin registered run).

Documents live in ``<data-dir>/_graphql.db`` so that every process serving the data directory
shares them, and a request never waits on ``hub.db``'s writers. What clients register is bounded
in bytes, oldest dropped first; what the admin registers stays until the admin removes it."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

from hub.api import HubApi
from hub.config import GraphQLLimits
from hub.plugins import CORE
from hub.storage import Database, Migration

DATABASE = "_graphql"
VERSION = 1  # the only version of Apollo's persistedQuery extension
# what a row costs besides its text: the hash, twice with the index, and SQLite's own bookkeeping
ROW_OVERHEAD = 200
HASH = re.compile(r"[0-9a-f]{64}")  # fullmatch: "$" would let a trailing newline in
NOT_ALLOWED_HINT = (
    "only registered operations run on this hub ([graphql] persisted_only); "
    "an admin registers them with `hub persisted add FILE`"
)


def m001_persisted_queries(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS persisted_queries ("
        " hash TEXT PRIMARY KEY, query TEXT NOT NULL, trusted INTEGER NOT NULL,"
        " size INTEGER NOT NULL, created_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS persisted_queries_age"
        " ON persisted_queries (trusted, created_at)"
    )


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedQueryError(Exception):
    """A request naming a persisted document that cannot run. ``status`` is what
    ``application/graphql-response+json`` gets; a document that is not found is a 200 with
    ``application/json``, as Apollo clients of old expect before they send the text."""

    def __init__(self, status: int, message: str, code: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.reason = reason

    def http_status(self, graphql_response: bool) -> int:
        return 200 if self.status == 404 and not graphql_response else self.status

    def formatted(self) -> dict[str, Any]:
        extensions = {"code": self.code, "plugin": "hub", "status": self.status}
        return {"message": self.message, "extensions": {**extensions, "reason": self.reason}}


def _bad(message: str, reason: str = "bad_persisted_query") -> PersistedQueryError:
    return PersistedQueryError(400, message, "BAD_REQUEST", reason)


def _not_found() -> PersistedQueryError:
    """Apollo's answer, which tells its clients to send the document along with the hash."""
    return PersistedQueryError(
        404, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", "persisted_query_not_found"
    )


def _not_allowed() -> PersistedQueryError:
    return PersistedQueryError(
        400, NOT_ALLOWED_HINT, "PERSISTED_QUERY_NOT_ALLOWED", "persisted_query_not_allowed"
    )


def names_a_document(params: dict[str, Any]) -> bool:
    """Whether request parameters name a persisted document, so they need no ``query``."""
    extensions = params.get("extensions")
    return params.get("documentId") is not None or (
        isinstance(extensions, dict) and extensions.get("persistedQuery") is not None
    )


def requested_hash(params: dict[str, Any]) -> str | None:
    """The SHA-256 that ``extensions.persistedQuery`` (Apollo) or ``documentId``
    (``sha256:<hex>``, the graphql-over-http persisted documents appendix) names, if any."""
    found = None
    extensions = params.get("extensions")
    apq = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if apq is not None:
        if not isinstance(apq, dict):
            raise _bad("extensions.persistedQuery: expected a JSON object")
        version = apq.get("version")
        if isinstance(version, bool) or version != VERSION:  # true == 1 in Python
            message = f"extensions.persistedQuery.version: only version {VERSION} is supported"
            raise _bad(message, "persisted_query_version")
        found = apq.get("sha256Hash")
        if not isinstance(found, str) or not HASH.fullmatch(found.lower()):
            raise _bad("extensions.persistedQuery.sha256Hash: expected 64 hexadecimal digits")
        found = found.lower()
    document_id = params.get("documentId")
    if document_id is not None:
        digits = document_id.removeprefix("sha256:") if isinstance(document_id, str) else ""
        if not HASH.fullmatch(digits.lower()):
            raise _bad("documentId: expected sha256:<64 hexadecimal digits>")
        if found is not None and found != digits.lower():
            raise _bad("documentId and extensions.persistedQuery.sha256Hash differ")
        found = digits.lower()
    return found


MIGRATIONS: list[Migration] = [m001_persisted_queries]


class PersistedQueries:
    """The shared store of persisted documents, keyed by the SHA-256 of their text."""

    def __init__(self, database: Database, limits: GraphQLLimits) -> None:
        database.migrate(CORE, MIGRATIONS)
        self.db = database
        self.only = limits.persisted_only
        self.apq_bytes = limits.persisted_apq_bytes
        self.max_document = limits.max_body

    @classmethod
    def of(cls, hub: HubApi, limits: GraphQLLimits) -> PersistedQueries:
        """The store of the hub's data directory, shared by every process serving it."""
        return cls(hub.database(DATABASE), limits)

    def resolve(self, query: str | None, hash: str | None) -> tuple[str, bool]:
        """The text to run for a request's ``query`` and named hash, and whether to register it
        (as a client's, once it validates)."""
        if hash is None:
            if query is None:
                raise _bad("query: expected a string holding a GraphQL document", "bad_params")
            if self.only and self.lookup(sha256(query)) is None:
                raise _not_allowed()
            return query, False
        if query is None:
            text = self.lookup(hash)
            if text is None:
                raise _not_found()
            return text, False
        if sha256(query) != hash:
            raise _bad("provided sha does not match query", "persisted_query_hash_mismatch")
        if self.lookup(hash) is not None:
            return query, False
        if self.only:
            raise _not_allowed()
        return query, True

    def lookup(self, hash: str) -> str | None:
        """The document with this hash; with ``persisted_only``, only one the admin added."""
        sql = "SELECT query FROM persisted_queries WHERE hash = ?"
        if self.only:
            sql += " AND trusted = 1"
        row = self.db.execute(sql, (hash,)).fetchone()
        return None if row is None else str(row[0])

    def admit(self, query: str) -> None:
        """Register a client's document (automatic persisted queries), dropping the oldest ones
        clients registered past ``persisted_apq_bytes``."""
        size = len(query.encode("utf-8", "surrogatepass")) + ROW_OVERHEAD
        if size > self.max_document + ROW_OVERHEAD or size > self.apq_bytes:
            return
        with self.db.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO persisted_queries (hash, query, trusted, size, created_at)"
                " VALUES (?, ?, 0, ?, ?)",
                (sha256(query), query, size, time.time()),
            )
            db.execute(
                "DELETE FROM persisted_queries WHERE hash IN (SELECT hash FROM ("
                " SELECT hash, SUM(size) OVER (ORDER BY created_at DESC, hash) AS kept"
                " FROM persisted_queries WHERE trusted = 0) AS ranked WHERE kept > ?)",
                (self.apq_bytes,),
            )

    def add(self, query: str) -> tuple[str, bool]:
        """Register a document as the admin's (trusted): its hash, and whether it is new."""
        hash = sha256(query)
        size = len(query.encode("utf-8", "surrogatepass")) + ROW_OVERHEAD
        with self.db.write() as db:
            known = db.execute(
                "SELECT trusted FROM persisted_queries WHERE hash = ?", (hash,)
            ).fetchone()
            db.execute(
                "INSERT INTO persisted_queries (hash, query, trusted, size, created_at)"
                " VALUES (?, ?, 1, ?, ?) ON CONFLICT (hash) DO UPDATE SET trusted = 1",
                (hash, query, size, time.time()),
            )
        return hash, known is None or not known[0]

    def listing(self, trusted_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT hash, query, trusted, created_at FROM persisted_queries"
        if trusted_only:
            sql += " WHERE trusted = 1"
        rows = self.db.execute(sql + " ORDER BY created_at, hash").fetchall()
        return [
            {"hash": h, "query": q, "trusted": bool(t), "created_at": at} for h, q, t, at in rows
        ]

    def remove(self, hash: str) -> bool:
        with self.db.write() as db:
            cursor = db.execute("DELETE FROM persisted_queries WHERE hash = ?", (hash.lower(),))
        return bool(cursor.rowcount)


APOLLO_MANIFEST = "apollo-persisted-query-manifest"


def _fragments_used(node: Any, fragments: dict[str, FragmentDefinitionNode]) -> set[str]:
    """The names of the fragments ``node`` spreads, directly or through other fragments."""
    used: set[str] = set()
    pending = [node]
    while pending:
        for spread in _spreads(pending.pop()):
            if spread not in used and spread in fragments:
                used.add(spread)
                pending.append(fragments[spread])
    return used


def _spreads(node: Any) -> list[str]:
    names: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.append(spread.name.value)

    visit(node, Spreads())
    return names


def _operations(text: str) -> list[tuple[str | None, str]]:
    """Each operation of a GraphQL document, printed with the fragments it uses (what
    graphql-js's ``print`` gives a client that sends it): ``(name, text)``."""
    document = parse(text)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    found = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            used = _fragments_used(definition, fragments)
            own = [d for name, d in fragments.items() if name in used]
            printed = print_ast(DocumentNode(definitions=(definition, *own)))
            found.append((definition.name.value if definition.name else None, printed))
    if not found:
        raise ValueError("the document has no operation")
    return found


def _manifest(data: Any) -> list[tuple[str | None, str]]:
    """Apollo's persisted query manifest, or a ``{hash: text}`` object (GraphQL Codegen's
    ``persisted-documents.json``); every id must be the SHA-256 of its text."""
    if isinstance(data, dict) and data.get("format") == APOLLO_MANIFEST:
        operations = data.get("operations")
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise ValueError("operations: expected a list of objects")
        pairs = [(o.get("id"), o.get("body"), o.get("name")) for o in operations]
    elif isinstance(data, dict):
        pairs = [(key, value, None) for key, value in data.items()]
    else:
        raise ValueError(f"expected an {APOLLO_MANIFEST} or a {{hash: document}} object")
    found = []
    for id, body, name in pairs:
        if not isinstance(body, str):
            raise ValueError(f"{id}: the document must be a string")
        if not isinstance(id, str) or sha256(body) != id.removeprefix("sha256:").lower():
            raise ValueError(f"{id}: is not the SHA-256 of its document")
        found.append((name if isinstance(name, str) else None, body))
    return found


def read_documents(path: Path) -> list[tuple[str | None, str]]:
    """The documents a file holds, as ``(operation name, text)``: a ``.json`` manifest, else a
    GraphQL document with one or more operations. Raises ``ValueError`` naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return _manifest(orjson.loads(text))
        return _operations(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    except (GraphQLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
