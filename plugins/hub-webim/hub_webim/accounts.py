"""Accounts: their rows of accounts-stat (the admin's counters beside the storagers' sums of the
objects their collectors hold), the aggregates Zabbix reads, and the admin's writes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.errors import quoted
from hub.paging import Keyset, Page, SortKey
from hub.records import as_flag
from hub.storage import Database
from hub_webim import inputs
from hub_webim.errors import account_not_found, bad_request
from hub_webim.records import Account, AccountsStat, AccountsTotal, ObjectCount, ZabbixTornado
from hub_webim.storage import ALL_COUNTERS, COLLECTORS, COUNTERS, STORAGER_COUNTERS, read

FLAGS = ("blocked", "not_belongs_to_tornado_instance", "ignore_not_belongs_to_tornado_instance")
COLUMNS = ", ".join(("name", "domain", *FLAGS, *COUNTERS))
CREATION_ORDER = Keyset((SortKey("seq", "seq"),))
MAX_NUM = 10_000
MAX_CLASSES = 10_000
# zabbix/tornado's sums over every account, each of these counters
TORNADO_SUMS = {
    "sessions_cnt": ("sessions_cnt",),
    "working_operators_cnt": ("working_operators_cnt",),
    "chats_cnt": ("chats_cnt", "offline_chats_cnt"),
    "failed_to_store_objects_cnt": ("failed_to_store_objects_cnt", "failed_to_store_objects_cnt_1"),
    "collected_to_store_objects_cnt": (
        "collected_to_store_objects_cnt",
        "collected_to_store_objects_cnt_1",
    ),
}
# every sum an endpoint reports: (where, its key, the counters it adds); an account's storager
# counters are sums too, never above TOTAL's
REPORTED_SUMS = (
    *(("TOTAL", counter, (counter,)) for counter in ALL_COUNTERS),
    *(("zabbix/tornado", key, counters) for key, counters in TORNADO_SUMS.items()),
)


# -- reads -----------------------------------------------------------------------------------
def _storager_sums(database: Database) -> dict[str, dict[str, int]]:
    sums: dict[str, dict[str, int]] = {}
    for account, collector, total in read(
        database,
        "SELECT account, collector, sum(count) FROM store_objects GROUP BY account, collector",
    ):
        if collector in COLLECTORS:
            sums.setdefault(account, {})[COLLECTORS[collector]] = int(total)
    return sums


def _accounts(database: Database, tail: str = "", params: Sequence[Any] = ()) -> list[Account]:
    """The accounts that ``tail`` (a WHERE and LIMIT of this module's own) selects, in
    creation order."""
    return _built(database, read(database, f"SELECT {COLUMNS} FROM accounts {tail}", list(params)))


def _built(database: Database, rows: Sequence[Sequence[Any]]) -> list[Account]:
    """Rows of :data:`COLUMNS` as accounts, with the storagers' sums beside the counters."""
    sums = _storager_sums(database) if rows else {}
    accounts = []
    for name, domain, blocked, not_belongs, ignore, *counters in rows:
        stored = sums.get(name, {})
        accounts.append(
            Account(
                name=name,
                domain=domain,
                **dict(zip(COUNTERS, counters, strict=True)),
                **{counter: stored.get(counter, 0) for counter in STORAGER_COUNTERS},
                not_belongs_to_tornado_instance=bool(not_belongs),
                ignore_not_belongs_to_tornado_instance=bool(ignore),
                blocked=bool(blocked),
            )
        )
    return accounts


def every(database: Database) -> list[Account]:
    return _accounts(database, "ORDER BY seq")


@dataclass(frozen=True)
class AccountPage:
    accounts: list[Account]
    total: int  # every account, whatever the page
    cursors: Sequence[str]  # each account's keyset cursor, for GraphQL
    has_next: bool  # more accounts follow this page


def page(database: Database, window: Page) -> AccountPage:
    """One page of the accounts in creation order (``seq`` is unique, so pages seek)."""
    got = CREATION_ORDER.read(
        database, window, select=COLUMNS, source="accounts", error=bad_request
    )
    return AccountPage(_built(database, got.rows), got.total or 0, got.cursors(), got.has_next)


def one(database: Database, name: str) -> Account:
    found = _accounts(database, "WHERE name = ?", (name,))
    if not found:
        raise account_not_found("name", name)
    return found[0]


def total(accounts: Sequence[Account]) -> AccountsTotal:
    """The TOTAL row: sums of the counters; ``not_belongs_to_tornado_instance`` counts the
    accounts so marked whose mark is not ignored."""
    return AccountsTotal(
        name="TOTAL",
        **{counter: sum(getattr(a, counter) for a in accounts) for counter in ALL_COUNTERS},
        not_belongs_to_tornado_instance=sum(
            1
            for a in accounts
            if a.not_belongs_to_tornado_instance and not a.ignore_not_belongs_to_tornado_instance
        ),
    )


def stat(database: Database) -> AccountsStat:
    accounts = every(database)
    return AccountsStat(total=total(accounts), accounts=tuple(accounts))


def _sum(accounts: Sequence[Account], counters: Sequence[str]) -> int:
    return sum(getattr(a, counter) for a in accounts for counter in counters)


def tornado(accounts: Sequence[Account]) -> ZabbixTornado:
    """Chats add offline chats, the storage counters add storager 1 to storager 0, and only
    the accounts that are not blocked count."""
    return ZabbixTornado(
        **{key: _sum(accounts, counters) for key, counters in TORNADO_SUMS.items()},
        accounts_cnt=sum(1 for a in accounts if not a.blocked),
    )


def exists(database: Database, name: str) -> bool:
    return bool(read(database, "SELECT 1 FROM accounts WHERE name = ?", (name,)))


def is_blocked(database: Database, name: str) -> bool:
    rows = read(database, "SELECT blocked FROM accounts WHERE name = ?", (name,))
    if not rows:
        raise account_not_found("account", name)
    return bool(rows[0][0])


def resolve(database: Database, account: str | None, host: str | None, default: str) -> str | None:
    """The ``account`` parameter, else the Host name's first label if it names an account
    (whatever its case), else the configured default, else the only account when there is
    exactly one (a hosted install has one, and the seed's requests name none)."""
    if account:
        return account
    name = (host or "").rsplit(":", 1)[0] if not (host or "").startswith("[") else ""
    label = name.split(".")[0] if "." in name else ""
    named = _named_by_host_label(database, label) if label else None
    if named is not None:
        return named
    if default:
        return default
    only = read(database, "SELECT name FROM accounts LIMIT 2")
    return str(only[0][0]) if len(only) == 1 else None


def _named_by_host_label(database: Database, label: str) -> str | None:
    """The account a Host name's first label names. Host names are case-insensitive (a client
    may send ``ACME.webim.ru`` or lower-case every name): the account of exactly that name,
    else the only one whose name differs from it in case alone."""
    names = [
        row[0]
        for row in read(
            database, "SELECT name FROM accounts WHERE lower(name) = lower(?)", (label,)
        )
    ]
    if label in names:
        return label
    return str(names[0]) if len(names) == 1 else None


def collected_to_store_objects(
    database: Database,
    mode: str | None,
    account: str | None,
    collector: str | None,
    num: str | None,
) -> list[ObjectCount]:
    """What one collector of one account holds, most first, at most ``num`` classes."""
    if mode != "stats":
        raise bad_request(f"mode: expected stats, got {quoted(mode)}" if mode else "mode: required")
    if not account:
        raise bad_request("account_name: required")
    if not collector:
        raise bad_request("collector_name: required")
    if collector not in COLLECTORS:
        raise bad_request(
            f"collector_name: expected one of {', '.join(COLLECTORS)}, got {quoted(collector)}"
        )
    limit = inputs.integer(num, "num", low=1, high=MAX_NUM)
    if not exists(database, account):
        raise account_not_found("account_name", account)
    rows = read(
        database,
        "SELECT class_name, count FROM store_objects WHERE account = ? AND collector = ?"
        " ORDER BY count DESC, class_name LIMIT ?",
        (account, collector, limit),
    )
    return [ObjectCount(class_name, count) for class_name, count in rows]


# -- the admin's writes ------------------------------------------------------------------------
def _stored(value: Any) -> Any:
    return as_flag(value) if isinstance(value, bool) else value


def upsert(database: Database, data: Any) -> Account:
    """Create an account or change the fields sent; a new account's domain is ``""``."""
    data = inputs.only(data, ("name", "domain", *FLAGS), "account")
    if "domain" in data and data["domain"] is None:  # the column is never null
        raise bad_request("domain: expected a string; leave it out to keep the current one")
    name = inputs.text(data, "name", required=True, name=True)
    domain = inputs.text(data, "domain")
    for flag in FLAGS:
        if flag in data and not isinstance(data[flag], bool):
            raise bad_request(f"{flag}: expected true or false")
    sets = {k: v for k, v in data.items() if k != "name"}
    with database.write() as db:
        if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
            if sets:
                assignments = ", ".join(f"{k} = ?" for k in sets)
                db.execute(
                    f"UPDATE accounts SET {assignments} WHERE name = ?",
                    [*map(_stored, sets.values()), name],
                )
        else:
            values = {"domain": domain if domain is not None else "", **sets}
            columns = ", ".join(["name", *values])
            marks = ", ".join("?" * (len(values) + 1))
            db.execute(
                f"INSERT INTO accounts ({columns}) VALUES ({marks})",
                [name, *map(_stored, values.values())],
            )
    return one(database, name)


def delete(database: Database, name: str) -> None:
    with database.write() as db:
        if db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount == 0:
            raise account_not_found("name", name)


def set_counters(database: Database, name: str, counters: Any) -> Account:
    """Set the counters sent; the storagers' are sums of objects, never set directly."""
    counters = inputs.mapping(counters, "counters")
    if isinstance(counters, Mapping):
        for key in counters:
            if key in STORAGER_COUNTERS:
                raise bad_request(
                    f"{key}: the storagers' counters are the sums of their objects;"
                    " set them with setStoreObjects"
                )
    counters = inputs.only(counters, COUNTERS, "counters")
    values = {k: inputs.count(v, k) for k, v in counters.items()}
    with database.write() as db:
        if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
            raise account_not_found("name", name)
        if values:
            assignments = ", ".join(f"{k} = ?" for k in values)
            db.execute(
                f"UPDATE accounts SET {assignments} WHERE name = ?", [*values.values(), name]
            )
            _refuse_sums_out_of_range(db, values)
    return one(database, name)


def set_store_objects(
    database: Database, account: str, collector: str, objects: Any
) -> list[ObjectCount]:
    """Replace what one collector of one account holds: object class -> count (0 drops it)."""
    if collector not in COLLECTORS:
        expected = ", ".join(COLLECTORS)
        raise bad_request(f"collector: expected one of {expected}, got {quoted(collector)}")
    objects = inputs.mapping(objects, "objects")
    if not isinstance(objects, Mapping):
        raise bad_request("objects: expected an object of class name -> count")
    if len(objects) > MAX_CLASSES:
        raise bad_request(f"objects: at most {MAX_CLASSES} classes")
    for class_name, number in objects.items():
        if not class_name or len(class_name) > inputs.MAX_TEXT:
            raise bad_request(f"objects: class names are 1-{inputs.MAX_TEXT} characters")
        inputs.count(number, f"objects.{class_name}")
    kept = [ObjectCount(c, n) for c, n in objects.items() if n > 0]
    with database.write() as db:
        if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (account,)).fetchone():
            raise account_not_found("account", account)
        db.execute(
            "DELETE FROM store_objects WHERE account = ? AND collector = ?",
            (account, collector),
        )
        db.executemany(
            "INSERT INTO store_objects (account, collector, class_name, count) VALUES (?, ?, ?, ?)",
            [(account, collector, o.class_name, o.count) for o in kept],
        )
        _refuse_sums_out_of_range(db, (COLLECTORS[collector],), "objects")
    return kept


def _refuse_sums_out_of_range(
    database: Database, changed: Collection[str], field: str | None = None
) -> None:
    """Within a write: refuse it (all of it) if a sum that accounts-stat or zabbix/tornado
    reports of the ``changed`` counters would pass :data:`inputs.MAX_COUNT`, the bound of every
    count on every protocol (GraphQL's ``Int`` could not carry it). The message names ``field``,
    else the changed counter."""
    accounts = every(database)
    for where, key, counters in REPORTED_SUMS:
        touched = [counter for counter in counters if counter in changed]
        if touched and (value := _sum(accounts, counters)) > inputs.MAX_COUNT:
            raise bad_request(
                f"{field or touched[0]}: {where} {key} would be {value}, above {inputs.MAX_COUNT}"
            )
