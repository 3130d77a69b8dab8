"""The one service layer of ``webim``: REST, GraphQL and gRPC all call this and nothing else.

Reads come from the running hub (its listeners, timers, loggers, live objects, the OS) and from
``webim.db``; writes are the admin's (accounts, counters, channels, environments) and the
storager's heartbeat."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from hub import __version__ as hub_version
from hub import logs
from hub.credentials import Credential, CredentialType
from hub.errors import ErrorFactory, HubError
from hub_webim import system
from hub_webim.settings import WebimSettings
from hub_webim.storage import ALL_COUNTERS, COLLECTORS, COUNTERS, STORAGER_COUNTERS

PLUGIN = "webim"
log = logging.getLogger("hub_webim")
auth_log = logging.getLogger("hub.auth")  # Webim's "auth" component (set-log-level name=auth)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
INTEGER = re.compile(r"[0-9]{1,18}")
NUMBER = re.compile(r"[0-9]{1,18}(\.[0-9]{1,9})?")
MAX_COUNT = 2**31 - 1  # GraphQL Int is 32-bit: the same bound on every protocol
MAX_NUM = 10_000
MAX_CLASSES = 10_000
MAX_TEXT = 255
ACCOUNT_FLAGS = (
    "blocked",
    "not_belongs_to_tornado_instance",
    "ignore_not_belongs_to_tornado_instance",
)


error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")


def unauthorized(message: str = "send Authorization: Basic <service login:password>") -> HubError:
    return error(401, message, "unauthorized")


# -- credentials ---------------------------------------------------------------------------
KINDS = ("service", "operator")


def _login_for(params: dict[str, str]) -> str | None:
    """A service credential is a login/password (HTTP Basic; login ``zabbix`` unless given);
    an operator credential is a bearer token sent as the ``WEBIM_AUTH_TOKEN`` cookie."""
    kind = params.get("kind", "service")
    if kind not in KINDS:
        raise bad_request(f"kind: expected service or operator, got {kind!r}")
    if kind == "operator":
        if "login" in params or "password" in params:
            raise bad_request("login: operator credentials are tokens; only kind is allowed")
        return None
    login = params.setdefault("login", "zabbix")
    if not NAME.fullmatch(login):
        raise bad_request("login: 1-63 letters, digits, '_', '.', '-'")
    return login


def _credential_attrs(params: dict[str, str]) -> dict[str, Any]:
    for name in params:
        if name not in ("kind", "login"):
            raise bad_request(f"{name}: unknown parameter; webim takes kind, login and password")
    return {"kind": params.get("kind", "service")}


def _present(secret: str, credential: Credential) -> dict[str, Any]:
    if credential.attrs["kind"] == "operator":
        return {"auth_token": secret}
    return {"login": credential.login, "password": secret}


CREDENTIAL_TYPE = CredentialType(validate=_credential_attrs, present=_present, login_for=_login_for)


# -- input checks --------------------------------------------------------------------------
def _text(data: Mapping[str, Any], key: str, *, required: bool = False, name: bool = False) -> Any:
    value = data.get(key)
    if value is None or (required and value == ""):
        if required:
            raise bad_request(f"{key}: required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key}: expected a string")
    if name and not NAME.fullmatch(value):
        raise bad_request(
            f"{key}: 1-63 letters, digits, '_', '.', '-', starting with one of the first two"
        )
    if len(value) > MAX_TEXT:
        raise bad_request(f"{key}: longer than {MAX_TEXT} characters")
    return value


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise bad_request(f"{key}: expected an integer between 0 and {MAX_COUNT}")
    return value


def _only(data: Any, allowed: tuple[str, ...], what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise bad_request(f"{what}: expected an object")
    for key in data:
        if key not in allowed:
            raise bad_request(f"{key}: unknown field; expected one of {', '.join(allowed)}")
    return data


def query_int(query: Mapping[str, str], key: str, *, low: int, high: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        raise bad_request(f"{key}: required")
    if not INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_request(f"{key}: expected an integer between {low} and {high}, got {raw!r}")
    return int(raw)


class WebimService:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings: WebimSettings = hub.settings_for(PLUGIN) or WebimSettings()
        self.database = hub.database(PLUGIN)
        self.instance_id = uuid.uuid4().hex  # TORNADO_INSTANCE_ID: new at every start
        self.start_ts = system.process_start_time()
        self.os = system.os_release()
        self.env = self.settings.env or system.short_hostname()
        self.host = self.settings.host or system.fqdn()
        self.version = self.settings.version or hub_version

    # -- auth ----------------------------------------------------------------------------
    def authorize(self, authorization: str | None) -> Credential:
        """A service login (HTTP Basic), or the admin token."""
        credential = self.hub.credentials.authenticate(PLUGIN, authorization)
        if credential is None or not (
            credential.is_admin or credential.attrs.get("kind") == "service"
        ):
            auth_log.debug(
                "webim: refused a service request (%s)",
                "no credentials" if not authorization else "bad credentials",
            )
            raise unauthorized()
        auth_log.debug("webim: service request by %s", credential.login or credential.id)
        return credential

    def authorize_operator(self, token: str | None) -> Credential:
        """The operator session cookie ``WEBIM_AUTH_TOKEN`` (an operator token or the admin's)."""
        credential = self.hub.credentials.by_token(PLUGIN, token) if token else None
        if credential is None or not (
            credential.is_admin or credential.attrs.get("kind") == "operator"
        ):
            auth_log.debug("webim: refused an operator session")
            raise error(401, "WEBIM_AUTH_TOKEN: not a valid operator session", "bad_auth_token")
        auth_log.debug("webim: operator session %s", credential.id)
        return credential

    def authorize_admin(self, authorization: str | None) -> None:
        self.hub.credentials.require_admin(authorization)

    # -- the running hub ----------------------------------------------------------------
    def port(self) -> int:
        """The port Webim's endpoints answer on: the plugin's own listener, else the hub's."""
        listening = self.hub.listening
        address = listening.get(f"http:{PLUGIN}") or listening.get("http")
        return int(address[1]) if address else 0

    def tornado_ports(self) -> list[str]:
        """The ports where Webim's endpoints answer: one, its own listener's or the hub's (the
        gRPC port and other plugins' listeners do not serve them)."""
        port = self.port()
        return [str(port)] if port else []

    def _connect(self) -> sqlite3.Connection:
        """A fresh connection to ``webim.db`` (never creating it): the hub's long-lived one
        keeps reading pages it has cached after the file under it is replaced or broken."""
        path = Path(self.database.path).resolve()
        return sqlite3.connect(
            path.as_uri() + "?mode=rw", uri=True, timeout=5, isolation_level=None
        )

    def check_storing(self) -> bool:
        """Whether ``webim.db`` takes a write now (the storager's heartbeat)."""
        started = time.perf_counter()
        try:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO storager (id, last_write) VALUES (1, ?)"
                    " ON CONFLICT (id) DO UPDATE SET last_write = excluded.last_write",
                    (time.time(),),
                )
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("storager: webim.db refused a write: %s", exc)
            return False
        log.debug("storager: write ok in %.2f ms", (time.perf_counter() - started) * 1000)
        return True

    def storager_run(self) -> None:
        """The periodic job: a failed write fails the run, so timer-stats lists it."""
        if not self.check_storing():
            raise RuntimeError("webim.db refused a write")

    def _read(self, sql: str, params: tuple | list = ()) -> list[Any]:
        try:
            return self.database.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            log.error("webim.db: %s", exc)
            raise error(500, "Failed to connect to database meta", "database") from None

    def long_polling(self) -> tuple[float, int]:
        row = self._read("SELECT avg_n_tries, n FROM long_polling WHERE id = 1")
        return (float(row[0][0]), int(row[0][1])) if row else (0.0, 0)

    # -- monitor ---------------------------------------------------------------------------
    def monitor(self) -> dict[str, Any]:
        avg, n = self.long_polling()
        s = self.settings
        main_info = {
            "env": self.env,
            "port": self.port(),
            "multinodeMode": s.multinode_mode,
            "nodeName": s.node_name,
            "startTs": self.start_ts,
            "startTime": datetime.fromtimestamp(self.start_ts).strftime("%d-%m-%Y %H:%M:%S"),
            "version": self.version,
            "osName": self.os["NAME"],
            "osVersion": self.os["VERSION_ID"],
            "ubuntuVersion": self.os["VERSION_ID"] if self.os["ID"] == "ubuntu" else "",
            "branch": s.branch,
            "revision": s.revision,
            "tag": s.tag,
            "avgNTries": avg,
            "n": n,
            "storingEnabled": self.check_storing(),
        }
        log.debug("monitor: %s", main_info)
        return {"mainInfo": main_info, "host": self.host}

    def connect_to_db(self) -> dict[str, str]:
        """A real query on a fresh connection to ``webim.db`` (the meta database), then one per
        account on its own rows (its "pro" data); the first failure is the answer."""
        account = None
        try:
            conn = self._connect()
            try:
                names = [r[0] for r in conn.execute("SELECT name FROM accounts ORDER BY seq")]
                conn.execute("SELECT avg_n_tries FROM long_polling").fetchall()
                for account in names:
                    conn.execute(
                        "SELECT count(*), coalesce(sum(count), 0) FROM store_objects"
                        " WHERE account = ?",
                        (account,),
                    ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            where = f"pro @{account}" if account is not None else "meta"
            log.error("connect-to-db: %s: %s", where, exc)
            raise error(500, f"Failed to connect to database {where}", "database") from None
        return {"result": "ok"}

    def ping(self, pinger_id: str | None, ts: str | None) -> dict[str, str]:
        if not pinger_id:
            raise bad_request("pinger-id: required")
        if not INTEGER.fullmatch(pinger_id):
            raise bad_request(f"pinger-id: expected an integer, got {pinger_id!r}")
        if not ts:
            raise bad_request("ts: required")
        if not NUMBER.fullmatch(ts):
            raise bad_request(f"ts: expected a number, got {ts!r}")
        try:
            self.connect_to_db()
        except HubError:
            raise error(
                503, "chat backend unavailable: its database does not answer", "unavailable"
            ) from None
        return {"result": "ok"}

    # -- timers ---------------------------------------------------------------------------
    def timer_stats(self) -> dict[str, Any]:
        last_min: dict[str, Any] = {}
        failed: list[dict[str, Any]] = []
        for stats in self.hub.timers.stats():
            key = f"{stats['plugin']}.{stats['name']}"
            runs = stats["last_min"]
            last_min[f"timer: {key}"] = {
                "count": len(runs),
                "execution_times": [r["duration"] for r in runs],
                "func_name": stats["func_name"],
            }
            failed.extend(
                {
                    "timer_name": key,
                    "func_name": stats["func_name"],
                    "execution_time": f["duration"],
                    "ts": f["ts"],
                }
                for f in stats["failed"]
            )
        failed.sort(key=lambda f: f["ts"])
        return {"last_min": last_min, "failed": failed}

    # -- accounts ---------------------------------------------------------------------------
    def _storager_sums(self) -> dict[str, dict[str, int]]:
        sums: dict[str, dict[str, int]] = {}
        for account, collector, total in self._read(
            "SELECT account, collector, sum(count) FROM store_objects GROUP BY account, collector"
        ):
            if collector in COLLECTORS:
                sums.setdefault(account, {})[COLLECTORS[collector]] = int(total)
        return sums

    def accounts(self) -> list[dict[str, Any]]:
        """Every account's row of accounts-stat, in creation order."""
        columns = ", ".join(COUNTERS)
        rows = self._read(
            f"SELECT name, domain, blocked, not_belongs_to_tornado_instance,"
            f" ignore_not_belongs_to_tornado_instance, {columns} FROM accounts ORDER BY seq"
        )
        sums = self._storager_sums()
        out = []
        for row in rows:
            name, domain, blocked, not_belongs, ignore = row[:5]
            account: dict[str, Any] = {"name": name, "domain": domain}
            account.update(zip(COUNTERS, row[5:], strict=True))
            for counter in STORAGER_COUNTERS:
                account[counter] = sums.get(name, {}).get(counter, 0)
            account["not_belongs_to_tornado_instance"] = bool(not_belongs)
            account["ignore_not_belongs_to_tornado_instance"] = bool(ignore)
            account["blocked"] = bool(blocked)
            out.append(account)
        return out

    @staticmethod
    def total(accounts: list[dict[str, Any]]) -> dict[str, Any]:
        """The TOTAL row: sums of the counters; ``not_belongs_to_tornado_instance`` counts the
        accounts so marked whose mark is not ignored."""
        total: dict[str, Any] = {"name": "TOTAL"}
        for counter in ALL_COUNTERS:
            total[counter] = sum(a[counter] for a in accounts)
        total["not_belongs_to_tornado_instance"] = sum(
            1
            for a in accounts
            if a["not_belongs_to_tornado_instance"]
            and not a["ignore_not_belongs_to_tornado_instance"]
        )
        return total

    def accounts_stat(self) -> list[dict[str, Any]]:
        accounts = self.accounts()
        rows = [self.total(accounts)]
        for account in accounts:
            row = {k: v for k, v in account.items() if k != "blocked"}
            rows.append(row)
        return rows

    def zabbix_tornado(self) -> dict[str, int]:
        accounts = self.accounts()
        return {
            "sessions_cnt": sum(a["sessions_cnt"] for a in accounts),
            "working_operators_cnt": sum(a["working_operators_cnt"] for a in accounts),
            "chats_cnt": sum(a["chats_cnt"] + a["offline_chats_cnt"] for a in accounts),
            "accounts_cnt": sum(1 for a in accounts if not a["blocked"]),
            "failed_to_store_objects_cnt": sum(
                a["failed_to_store_objects_cnt"] + a["failed_to_store_objects_cnt_1"]
                for a in accounts
            ),
            "collected_to_store_objects_cnt": sum(
                a["collected_to_store_objects_cnt"] + a["collected_to_store_objects_cnt_1"]
                for a in accounts
            ),
        }

    def channels(self) -> dict[str, dict[str, int]]:
        rows = self._read(
            "SELECT channel, error_cnt FROM channel_errors WHERE error_cnt > 0 ORDER BY channel"
        )
        return {channel: {"error_cnt": count} for channel, count in rows}

    def _account_exists(self, name: str) -> bool:
        return bool(self._read("SELECT 1 FROM accounts WHERE name = ?", (name,)))

    def collected_to_store_objects(self, query: Mapping[str, str]) -> dict[str, int]:
        mode = query.get("mode")
        if mode != "stats":
            raise bad_request(f"mode: expected stats, got {mode!r}" if mode else "mode: required")
        account = query.get("account_name")
        if not account:
            raise bad_request("account_name: required")
        collector = query.get("collector_name")
        if not collector:
            raise bad_request("collector_name: required")
        if collector not in COLLECTORS:
            raise bad_request(
                f"collector_name: expected one of {', '.join(COLLECTORS)}, got {collector!r}"
            )
        num = query_int(query, "num", low=1, high=MAX_NUM)
        if not self._account_exists(account):
            raise error(404, f"account_name: no account {account!r}", "account_not_found")
        rows = self._read(
            "SELECT class_name, count FROM store_objects WHERE account = ? AND collector = ?"
            " ORDER BY count DESC, class_name LIMIT ?",
            (account, collector, num),
        )
        return dict(rows)

    async def object_stats(self) -> dict[str, int]:
        return await asyncio.to_thread(system.object_stats, 50)

    def resolve_account(self, account: str | None, host: str | None) -> str | None:
        """The ``account`` parameter, else the Host name's first label if it is an account,
        else the configured default, else the only account when there is exactly one (a hosted
        install has one, and the seed's requests name none)."""
        if account:
            return account
        name = (host or "").rsplit(":", 1)[0] if not (host or "").startswith("[") else ""
        label = name.split(".")[0] if "." in name else ""
        if label and self._account_exists(label):
            return label
        if self.settings.default_account:
            return self.settings.default_account
        only = self._read("SELECT name FROM accounts LIMIT 2")
        return str(only[0][0]) if len(only) == 1 else None

    def account_state(
        self, action: str | None, account: str | None, host: str | None
    ) -> dict[str, bool]:
        """``action`` defaults to ``get_state``, the only one (on every protocol)."""
        if action and action != "get_state":
            raise bad_request(f"action: expected get_state, got {action!r}")
        name = self.resolve_account(account, host)
        if name is None:
            raise bad_request(
                "account: required (no account in the Host name, no default_account,"
                " and not exactly one account)"
            )
        rows = self._read("SELECT blocked FROM accounts WHERE name = ?", (name,))
        if not rows:
            raise error(404, f"account: no account {name!r}", "account_not_found")
        return {"blocked": bool(rows[0][0])}

    def environments(self) -> list[dict[str, str]]:
        rows = self._read("SELECT host, env, ip FROM environments ORDER BY seq")
        return [{"host": h, "env": e, "ip": ip} for h, e, ip in rows]

    def info(self, host: str | None, scheme: str = "http") -> dict[str, str | None]:
        """The 12 keys of ``info.php``; ``None`` (PHP's NULL) where there is no value."""
        s = self.settings
        listening = self.hub.listening
        main = listening.get("http")
        account = self.resolve_account(None, host)
        return {
            "tornado port": str(self.port()),
            "agent backend port": str(main[1]) if main else str(self.port()),
            "account name": account,
            "script location": self.env,
            "tornado location": s.node_name,
            "server": system.short_hostname() + "\n",  # PHP's shell_exec("hostname")
            "branch": s.branch + "\n" if s.branch else None,
            "revision": s.revision + "\n" if s.revision else None,
            "version": self.version,
            "https": f"{scheme}://",
            "uptime": system.uptime_line(),
            "connections": None,
        }

    # -- log levels ----------------------------------------------------------------------
    def _loggers(self, name: str) -> tuple[str, ...]:
        """The loggers ``name`` means: every logger of a plugin (its package and
        ``hub.<plugin>``), else one logger of the hub process."""
        plugin = self.hub.plugins.get(name)
        if plugin is not None:
            return plugin.loggers  # type: ignore[no-any-return]
        logger = system.logger_name(name)
        if logger is None:
            raise bad_request(f"name: no component {name!r} in this hub")
        return (logger,)

    def set_log_level(
        self, name: str | None, level: str | None, current_node_only: bool | None = None
    ) -> dict[str, Any]:
        """Change the level of the named component of this hub process at once: for a plugin,
        every line it writes (one node: ``current_node_only`` changes nothing)."""
        if not name:
            raise bad_request("name: required")
        if not level:
            raise bad_request("level: required")
        python_level = system.LEVELS.get(level.upper())
        if python_level is None:
            raise bad_request(f"level: expected one of {', '.join(system.LEVELS)}, got {level!r}")
        loggers = self._loggers(name)
        if name in self.hub.plugins:
            logs.set_plugin_level(self.hub.plugins[name], python_level)
        else:
            logging.getLogger(loggers[0]).setLevel(python_level)
        log.warning("set-log-level: %s (%s) -> %s", name, ", ".join(loggers), level.upper())
        return {
            "result": "ok",
            "name": name,
            "logger": loggers[0],
            "loggers": list(loggers),
            "level": level.upper(),
        }

    def log_level(self, name: str) -> dict[str, str]:
        """The level of ``name``'s first logger (a plugin's loggers are set together)."""
        logger = self._loggers(name)[0]
        target = logging.getLogger(logger)
        return {
            "name": name,
            "logger": logger,
            "level": system.level_name(target.level) if target.level else "NOTSET",
            "effective_level": system.level_name(target.getEffectiveLevel()),
        }

    # -- admin writes -------------------------------------------------------------------------
    def upsert_account(self, data: Any) -> dict[str, Any]:
        data = _only(data, ("name", "domain", *ACCOUNT_FLAGS), "account")
        name = _text(data, "name", required=True, name=True)
        domain = _text(data, "domain")
        for flag in ACCOUNT_FLAGS:
            if flag in data and not isinstance(data[flag], bool):
                raise bad_request(f"{flag}: expected true or false")
        sets = {k: v for k, v in data.items() if k != "name"}
        with self.database.write() as db:
            exists = db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone()
            if exists:
                if sets:
                    assignments = ", ".join(f"{k} = ?" for k in sets)
                    db.execute(
                        f"UPDATE accounts SET {assignments} WHERE name = ?",
                        [*(int(v) if isinstance(v, bool) else v for v in sets.values()), name],
                    )
            else:
                values = {"domain": domain if domain is not None else "", **sets}
                columns = ", ".join(["name", *values])
                marks = ", ".join("?" * (len(values) + 1))
                db.execute(
                    f"INSERT INTO accounts ({columns}) VALUES ({marks})",
                    [name, *(int(v) if isinstance(v, bool) else v for v in values.values())],
                )
        return self.account(name)

    def account(self, name: str) -> dict[str, Any]:
        for account in self.accounts():
            if account["name"] == name:
                return account
        raise error(404, f"name: no account {name!r}", "account_not_found")

    def delete_account(self, name: str) -> None:
        with self.database.write() as db:
            if db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount == 0:
                raise error(404, f"name: no account {name!r}", "account_not_found")

    def set_counters(self, name: str, counters: Any) -> dict[str, Any]:
        if isinstance(counters, Mapping):
            for key in counters:
                if key in STORAGER_COUNTERS:
                    raise bad_request(
                        f"{key}: the storagers' counters are the sums of their objects;"
                        " set them with setStoreObjects"
                    )
        counters = _only(counters, COUNTERS, "counters")
        values = {k: _count(v, k) for k, v in counters.items()}
        with self.database.write() as db:
            if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise error(404, f"name: no account {name!r}", "account_not_found")
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                db.execute(
                    f"UPDATE accounts SET {assignments} WHERE name = ?", [*values.values(), name]
                )
        return self.account(name)

    def set_store_objects(self, account: str, collector: str, objects: Any) -> dict[str, int]:
        """Replace what one collector of one account holds: object class -> count."""
        if collector not in COLLECTORS:
            raise bad_request(
                f"collector: expected one of {', '.join(COLLECTORS)}, got {collector!r}"
            )
        if not isinstance(objects, Mapping):
            raise bad_request("objects: expected an object of class name -> count")
        if len(objects) > MAX_CLASSES:
            raise bad_request(f"objects: at most {MAX_CLASSES} classes")
        for class_name, count in objects.items():
            if not class_name or len(class_name) > MAX_TEXT:
                raise bad_request(f"objects: class names are 1-{MAX_TEXT} characters")
            _count(count, f"objects.{class_name}")
        with self.database.write() as db:
            if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (account,)).fetchone():
                raise error(404, f"account: no account {account!r}", "account_not_found")
            db.execute(
                "DELETE FROM store_objects WHERE account = ? AND collector = ?",
                (account, collector),
            )
            db.conn.executemany(
                "INSERT INTO store_objects (account, collector, class_name, count)"
                " VALUES (?, ?, ?, ?)",
                [(account, collector, c, n) for c, n in objects.items() if n > 0],
            )
        return {c: n for c, n in objects.items() if n > 0}

    def set_channel_errors(self, channel: Any, error_cnt: Any) -> dict[str, dict[str, int]]:
        channel = _text({"channel": channel}, "channel", required=True, name=True)
        count = _count(error_cnt, "error_cnt")
        with self.database.write() as db:
            db.execute(
                "INSERT INTO channel_errors (channel, error_cnt) VALUES (?, ?)"
                " ON CONFLICT (channel) DO UPDATE SET error_cnt = excluded.error_cnt",
                (channel, count),
            )
            db.execute("DELETE FROM channel_errors WHERE error_cnt = 0")
        return self.channels()

    def upsert_environment(self, data: Any) -> dict[str, str]:
        data = _only(data, ("host", "env", "ip"), "environment")
        host = _text(data, "host", required=True, name=True)
        env = _text(data, "env", required=True, name=True)
        ip = _text(data, "ip", required=True)
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise bad_request(f"ip: not an IP address: {ip!r}") from None
        with self.database.write() as db:
            db.execute(
                "INSERT INTO environments (host, env, ip) VALUES (?, ?, ?)"
                " ON CONFLICT (host, env) DO UPDATE SET ip = excluded.ip",
                (host, env, ip),
            )
        return {"host": host, "env": env, "ip": ip}

    def delete_environment(self, host: str, env: str) -> None:
        with self.database.write() as db:
            deleted = db.execute(
                "DELETE FROM environments WHERE host = ? AND env = ?", (host, env)
            ).rowcount
            if deleted == 0:
                raise error(404, f"host/env: no environment {env!r} on {host!r}", "env_not_found")

    def record_long_polling(self, tries: Any) -> dict[str, Any]:
        """One update cycle of the long-polling statistics: the running mean of tries."""
        if (
            isinstance(tries, bool)
            or not isinstance(tries, int | float)
            or not (math.isfinite(tries) and 0 <= tries <= 1e6)
        ):
            raise bad_request("tries: expected a number between 0 and 1000000")
        with self.database.write() as db:
            avg, n = db.execute("SELECT avg_n_tries, n FROM long_polling WHERE id = 1").fetchone()
            n += 1
            avg += (float(tries) - avg) / n
            db.execute("UPDATE long_polling SET avg_n_tries = ?, n = ? WHERE id = 1", (avg, n))
        return {"avgNTries": avg, "n": n}
