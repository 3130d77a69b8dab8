"""Settings: defaults, then a TOML file, then ``HUB_*`` environment variables, then flags.
One loader serves the hub's own settings and every plugin's ``[plugins.<name>]`` table, so a
bad value fails at start with a message naming its key."""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hub import tracing

T = TypeVar("T")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
HTTP_LIMITS = (
    "http_header_timeout",
    "http_body_timeout",
    "http_keepalive_timeout",
    "http_websocket_heartbeat",
    "http_max_connections",
)
STATEMENT_TIMEOUT = 10.0  # seconds: database_statement_timeout's default (hub.storage.postgres)
STATEMENT_TIMEOUT_LIMIT = 2_147_483  # seconds: PostgreSQL's largest statement_timeout
# the least each number may be: a limit of 0 (or less) would refuse everything, a negative budget
# breaks what it sizes; 0 is allowed where it means "none" (no aliases, no cache)
AT_LEAST = {
    "max_body": 1,
    "shutdown_timeout": 0,
    "rendered_rows_bytes": 0,
    "graphql.max_depth": 1,
    "graphql.max_aliases": 0,
    "graphql.max_tokens": 1,
    "graphql.document_cache_size": 0,
    "graphql.max_fields": 1,
    "graphql.max_resolved_fields": 1,
    "graphql.max_body": 1,
    "graphql.document_cache_bytes": 0,
    "graphql.persisted_apq_bytes": 0,
}
POSTGRES_URL = "postgresql://user:password@host:5432/db"
HOST_VARIABLES = {"HUB_CONFIG", "HUB_PLUGINS", "HUB_EVENT_LOOP"}
# set by the supervisor of `hub serve --workers N` in each worker (hub.workers)
WORKER_VARIABLES = {"HUB_WORKER_INDEX", "HUB_INSTANCE", "HUB_STARTED", "HUB_BUS"}
# read by the test suite and CI, never by the hub; named here so that they draw no warning
TEST_VARIABLES = {
    "HUB_REQUIRE_NODE",
    "HUB_REQUIRE_PROMTOOL",
    "HUB_REQUIRE_CHROMIUM",
    "HUB_FUZZ_SCALE",
    "HUB_TEST_POSTGRES",
    "HUB_TEST_DATABASE",
}


class ConfigError(Exception):
    """A bad setting; the message names the key."""


@dataclass
class GraphQLLimits:
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 2000
    document_cache_size: int = 512
    max_fields: int = 1000  # fields an operation expands to once fragments are inlined
    max_resolved_fields: int = 50_000  # fields one request may resolve (list items count)
    max_body: int = 64 * 1024  # bytes of a POST body on /graphql
    document_cache_bytes: int = 16 * 1024 * 1024
    # trusted documents: only operations registered with `hub persisted add` run
    persisted_only: bool = False
    # bytes of the documents clients register (automatic persisted queries), oldest dropped first
    persisted_apq_bytes: int = 16 * 1024 * 1024


@dataclass
class Settings:
    http: str = "127.0.0.1:8080"
    grpc: str = "127.0.0.1:50051"
    data_dir: str = "./hub-data"
    # empty: SQLite files in data_dir; postgresql://…: every hub on that database shares state
    database_url: str = ""
    # PostgreSQL: seconds a statement may run (and hold the event loop) before it is cancelled
    # and its request answered 503; above the 5 s a writer waits for another; 0: no limit
    database_statement_timeout: float = STATEMENT_TIMEOUT
    admin_token: str = ""
    max_body: int = 1024 * 1024
    shutdown_timeout: float = 10.0
    # slow and idle HTTP clients (seconds), and open connections per HTTP listener
    http_header_timeout: float = 10.0
    http_body_timeout: float = 60.0  # the longest wait for a body's next bytes, not its whole
    http_keepalive_timeout: float = 75.0
    http_websocket_heartbeat: float = 30.0
    http_max_connections: int = 1024
    log_level: str = "INFO"
    log_format: str = "text"  # text, or json: one JSON object a line (hub.logs)
    tracing: str = "off"  # off, otlp or console: OpenTelemetry spans (hub.tracing, the otel extra)
    plugins_dir: str = ""
    workers: str = "1"  # `hub serve` worker processes: a number, or "auto" (one per usable CPU)
    # renderings of stored rows (GraphQL JSON, gRPC messages) kept for later answers; 0: none
    rendered_rows_bytes: int = 64 * 1024 * 1024
    graphql: GraphQLLimits = field(default_factory=GraphQLLimits)
    # per-plugin tables, checked against each plugin's registered settings class later
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


def parse_address(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    digits = port.isascii() and port.isdigit()  # str.isdigit takes "²", which int() does not
    if not sep or not host or not digits or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(value, options[0], key)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key}: expected a boolean, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool) or (
            kind is int and isinstance(value, float) and not value.is_integer()
        ):
            raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}") from None
        if not math.isfinite(number):  # nan compares false with every bound a check sets
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
    if kind is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if origin is list:
        (item,) = typing.get_args(kind) or (str,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        _, item = typing.get_args(kind) or (str, Any)
        return {k: _coerce(v, item, f"{key}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        return _choice(value, typing.get_args(kind), key)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        members = {**{m.name: m for m in kind}, **{str(m.value): m for m in kind}}
        found = members.get(value.name if isinstance(value, kind) else str(value))
        if found is None:
            raise ConfigError(f"{key}: expected one of {', '.join(members)}, got {value!r}")
        return found
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return build(typing.cast(type, kind), value, prefix=key + ".")
    return value  # Any: as written


def _choice(value: Any, choices: tuple[Any, ...], key: str) -> Any:
    """``value`` as one of a ``Literal``'s choices (an environment variable's text matching a
    choice that is a number or a boolean counts)."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return choice
        spelt = str(choice).lower() if isinstance(choice, bool) else str(choice)
        if isinstance(value, str) and value == spelt:
            return choice
    shown = ", ".join(str(c) for c in choices)
    raise ConfigError(f"{key}: expected one of {shown}, got {value!r}")


SUPPORTED = "bool, int, float, str, list, dict[str, ...], X | None, Literal, an Enum, a dataclass"


def unsupported_field(cls: type, seen: tuple[type, ...] = ()) -> str | None:
    """The first field of the settings dataclass ``cls`` (or of one nested in it) whose type the
    config cannot give, with that type; ``None`` when every one can. Any other type would
    receive the config's text or TOML value unconverted and unchecked."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        problem = _unsupported(hints.get(f.name, Any), (*seen, cls))
        if problem is not None:
            return f"{f.name}: {problem}"
    return None


def _unsupported(kind: Any, seen: tuple[type, ...]) -> str | None:
    origin = typing.get_origin(kind)
    if kind is Any or kind in (bool, int, float, str) or origin is typing.Literal:
        return None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return None
    if origin in (typing.Union, types.UnionType, list, dict):
        args = typing.get_args(kind)
        if origin is dict and args and args[0] is not str:
            return f"{kind}: a table's keys are strings"
        for arg in args[1:] if origin is dict else args:
            if arg is not type(None) and (problem := _unsupported(arg, seen)) is not None:
                return problem
        return None
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return None if kind in seen else unsupported_field(kind, seen)
    return f"{getattr(kind, '__name__', kind)} is no type the config can give ({SUPPORTED})"


def build(cls: type[T], values: dict[str, Any], prefix: str = "") -> T:
    """Make the dataclass ``cls`` from ``values``, naming the key of any bad or unknown value."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in values:
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown setting")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    """``HUB_HTTP`` → ``http``; ``HUB_GRAPHQL_MAX_DEPTH`` → ``graphql.max_depth``.
    Plugin options are read later, once plugins are known (``HUB_<PLUGIN>_<KEY>``)."""
    out: dict[str, Any] = {}
    top = _env_fields(Settings) - {"plugins", "graphql"}
    gql = _env_fields(GraphQLLimits)
    for name in top:
        if f"HUB_{name.upper()}" in env:
            out[name] = env[f"HUB_{name.upper()}"]
    for name in gql:
        if f"HUB_GRAPHQL_{name.upper()}" in env:
            out.setdefault("graphql", {})[name] = env[f"HUB_GRAPHQL_{name.upper()}"]
    return out


def read_config_file(path: str) -> dict[str, Any]:
    """The TOML file's table; a file that cannot be read or parsed is one line naming it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path}: is a directory") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def postgres_url_problem(url: str) -> str | None:
    """What keeps ``url`` from being a PostgreSQL address (scheme, an unclosed IPv6 host, a
    port that is no port), or ``None``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range or not a number)
    except ValueError as exc:
        return f"expected {POSTGRES_URL}: {exc}"
    if parts.scheme not in ("postgresql", "postgres"):
        return f"expected {POSTGRES_URL}, not a {parts.scheme or 'bare'} address"
    return None


def load_settings(
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    path = config_file or env.get("HUB_CONFIG")
    if path:
        values = read_config_file(path)
    for key, value in _env_overrides(env).items():
        if key == "graphql":
            table = values.setdefault("graphql", {})
            if not isinstance(table, dict):
                raise ConfigError(f"graphql: expected a table, got {table!r}")
            table.update(value)
        else:
            values[key] = value
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = build(Settings, values)
    for key in ("http", "grpc"):
        parse_address(getattr(settings, key), key)
    for plugin, table in settings.plugins.items():
        if not isinstance(table, dict):
            raise ConfigError(f"plugins.{plugin}: expected a table, got {table!r}")
    if not settings.data_dir.strip():
        raise ConfigError("data_dir: must not be empty (./hub-data is the default)")
    if settings.plugins_dir and not Path(settings.plugins_dir).is_dir():
        raise ConfigError(f"plugins_dir: {settings.plugins_dir}: no such directory")
    problem = settings.database_url and postgres_url_problem(settings.database_url)
    if problem:
        raise ConfigError(f"database_url: {problem}")
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"log_level: expected one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}"
        )
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(
            f"log_format: expected one of {', '.join(LOG_FORMATS)}, got {settings.log_format!r}"
        )
    if settings.tracing not in tracing.SETTINGS:
        raise ConfigError(
            f"tracing: expected one of {', '.join(tracing.SETTINGS)}, got {settings.tracing!r}"
        )
    missing = tracing.missing_extra(settings.tracing)
    if missing:
        raise ConfigError(missing)
    for key in HTTP_LIMITS:
        if getattr(settings, key) <= 0:
            raise ConfigError(f"{key}: must be greater than 0, got {getattr(settings, key)}")
    if not 0 <= settings.database_statement_timeout <= STATEMENT_TIMEOUT_LIMIT:
        raise ConfigError(
            "database_statement_timeout: must be 0 (no limit) or seconds up to"
            f" {STATEMENT_TIMEOUT_LIMIT}, got {settings.database_statement_timeout:g}"
        )
    for key, least in AT_LEAST.items():
        table, _, name = key.rpartition(".")
        value = getattr(getattr(settings, table) if table else settings, name)
        if value < least:
            raise ConfigError(f"{key}: must be {least} or more, got {value:g}")
    return settings


def listen_from_env(settings: Settings, plugin: str, env: dict[str, str] | None = None) -> None:
    """``HUB_<PLUGIN>_LISTEN`` sets ``[plugins.<plugin>] listen``, the host's own per-plugin key;
    read once plugins are loaded, like every ``HUB_<PLUGIN>_<KEY>``."""
    value = (os.environ if env is None else env).get(f"HUB_{plugin.upper()}_LISTEN")
    if value:
        settings.plugins.setdefault(plugin, {})["listen"] = value


def env_names(plugin_options: dict[str, type | None]) -> set[str]:
    """Every ``HUB_*`` variable that means something, given the loaded plugins and their
    settings classes (``None`` for a plugin without settings)."""
    names = HOST_VARIABLES | TEST_VARIABLES | WORKER_VARIABLES
    names |= {f"HUB_{name.upper()}" for name in _env_fields(Settings) - {"plugins", "graphql"}}
    names |= {f"HUB_GRAPHQL_{name.upper()}" for name in _env_fields(GraphQLLimits)}
    for plugin, cls in plugin_options.items():
        names.add(f"HUB_{plugin.upper()}_LISTEN")
        if cls is not None:
            names |= {f"HUB_{plugin.upper()}_{name.upper()}" for name in _env_fields(cls)}
            hints = typing.get_type_hints(cls)
            for table in _env_fields(cls):
                kind = hints.get(table)
                if dataclasses.is_dataclass(kind):
                    names |= {
                        f"HUB_{plugin.upper()}_{table.upper()}_{name.upper()}"
                        for name in _env_fields(typing.cast(type, kind))
                    }
    return names


def unknown_env(known: set[str], env: dict[str, str] | None = None) -> list[str]:
    """One warning per ``HUB_*`` variable that nothing reads (a misspelt name would otherwise be
    silently ignored), with the closest known name when there is one."""
    names = os.environ if env is None else env
    warnings = []
    for name in sorted(n for n in names if n.startswith("HUB_") and n not in known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is not a setting of the hub or of a loaded plugin; ignored{hint}")
    return warnings


def _env_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def plugin_settings(
    settings: Settings, plugin: str, cls: type[T], env: dict[str, str] | None = None
) -> T:
    env = dict(os.environ if env is None else env)
    values = dict(settings.plugins.get(plugin, {}))
    values.pop("listen", None)  # the host's own per-plugin key
    prefix = f"HUB_{plugin.upper()}_"
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if prefix + f.name.upper() in env:
            values[f.name] = env[prefix + f.name.upper()]
        kind = hints.get(f.name)
        if dataclasses.is_dataclass(kind):  # a table: HUB_<PLUGIN>_<TABLE>_<KEY>
            table = values.get(f.name)
            table = dict(table) if isinstance(table, dict) else {}
            for name in _env_fields(typing.cast(type, kind)):
                variable = f"{prefix}{f.name.upper()}_{name.upper()}"
                if variable in env:
                    table[name] = env[variable]
            if table:
                values[f.name] = table
    return build(cls, values, prefix=f"plugins.{plugin}.")
