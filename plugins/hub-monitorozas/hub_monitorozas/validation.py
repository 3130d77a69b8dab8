"""Input rules of devices and blacklist monitors (the seed's field table): every value is
checked and normalised here, once, whichever protocol it came from. Each error names its field
and carries the seed's code (``missing_field``, ``invalid_field``, ``unknown_field``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import idna

from hub.errors import HubError
from hub_monitorozas.errors import error, invalid_field, missing_field

TARGET_TYPES = ("domain", "ip")
SCHEMES = ("http", "https")
SERVICE_PORTS: dict[str, int | None] = {
    "web": None,  # from the scheme
    "ssh": 22,
    "smtp": 25,
    "smtps": 465,
    "submission": 587,
    "imap": 143,
    "imaps": 993,
    "pop3": 110,
    "pop3s": 995,
    "ftp": 21,
    "dns": 53,
    "mysql": 3306,
    "postgresql": 5432,
    "rdp": 3389,
    "tcp": None,  # no well-known port: the caller names it
}
SCHEME_PORTS = {"http": 80, "https": 443}
WEB_CHECKS = ("check_public_http", "check_public_https", "check_public_tls")
ORIGIN_CHECKS = ("check_origin_http", "check_origin_tls")
ORIGIN_FIELDS = ("origin_host", "origin_scheme", "origin_port")
DEVICE_FIELDS = (
    "target_type",
    "target_value",
    "service_type",
    "scheme",
    "port",
    "host_header",
    "proxy_enabled",
    *ORIGIN_FIELDS,
    *WEB_CHECKS,
    *ORIGIN_CHECKS,
    "expect_status",
    "location",
    "is_enabled",
)
MONITOR_FIELDS = ("target_type", "target_value", "is_enabled")
ADMIN_FIELDS = ("user_id",)  # the owner, named by the admin token only
MAX_LOCATION = 255
DEFAULT_STATUS = 200  # expect_status of a device that names none, and of every non-web one
MAX_ID = 2**63 - 1  # SQLite's largest integer
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def invalid(name: str, message: str) -> HubError:
    return invalid_field(f"{name}: {message}")


ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(raw: Any, name: str = "id") -> int:
    """A positive integer id from a query string, GraphQL or gRPC; else 400 ``invalid_id``."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and ASCII_DIGITS.fullmatch(
        raw.strip()
    ):  # not superscript or full-width digits
        value = int(raw.strip())
    else:
        raise error(400, f"{name}: required, a positive integer", "invalid_id")
    if not 1 <= value <= MAX_ID:
        raise error(400, f"{name}: required, a positive integer", "invalid_id")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_bool(name: str, value: Any) -> bool:
    """0/1/true/false (JSON booleans, integers or those strings) as a boolean."""
    if isinstance(value, bool):
        return value
    if _is_int(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return value.strip().lower() in ("1", "true")
    raise invalid(name, f"expected 0, 1, true or false, got {value!r}")


def as_int(name: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value):
        raise invalid(name, f"expected an integer between {low} and {high}, got {value!r}")
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}, got {value}")
    return int(value)


def as_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise invalid(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value.strip().lower()


def hostname(name: str, value: Any) -> str:
    """An IDNA 2008 (UTS 46) host name in its ASCII (punycode) form, lower case, without a
    trailing dot."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "expected a host name such as example.hu")
    text = value.strip().rstrip(".")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        raise invalid(name, f"not a valid host name: {value!r}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(LABEL.match(label) for label in labels):
        raise invalid(name, f"not a valid host name: {value!r}")
    if all(label.isdigit() for label in labels):
        raise invalid(name, f"looks like an IP address, not a host name: {value!r}")
    return ascii_name


def address_target(name: str, value: Any) -> str | None:
    """``value`` as a target address, compressed; None when it is no IP address at all. An
    IPv4-mapped address (``::ffff:192.0.2.1``) is its IPv4 host, checked and looked up as one;
    an address with a zone index (``fe80::1%eth0``) names an interface of the hub's machine,
    not a target, and its zone is free text that would reach Host headers and DNS names."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            raise invalid(name, f"an address with a zone index is not a target: {value!r}")
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.compressed
    return address.compressed


def ip_text(name: str, value: Any) -> str:
    found = address_target(name, value)
    if found is None:
        raise invalid(name, f"not an IPv4 or IPv6 address: {value!r}")
    return found


def host_or_ip(name: str, value: Any) -> str:
    return address_target(name, value) or hostname(name, value)


def target(target_type: str, value: Any) -> str:
    if target_type == "ip":
        return ip_text("target_value", value)
    return hostname("target_value", value)


def _check_keys(data: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise error(400, "body: expected a JSON object", "invalid_json")
    for key in data:
        if key not in allowed:
            raise error(400, f"{key}: unknown field", "unknown_field")
    return data


def _required(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing_field(f"{name}: required")
    return value


def owner(data: dict[str, Any]) -> int:
    """The owner the admin names with ``user_id`` (for a key that field does not exist)."""
    if data.get("user_id") is None:
        raise missing_field("user_id: required when the admin token creates")
    return as_int("user_id", data["user_id"], 1, MAX_ID)


def device(data: Any, *, is_admin: bool = False) -> dict[str, Any]:
    """A create body as the normalised row: every field present, defaults filled in."""
    data = _check_keys(data, DEVICE_FIELDS + (ADMIN_FIELDS if is_admin else ()))
    out: dict[str, Any] = {}
    out["target_type"] = as_choice("target_type", _required(data, "target_type"), TARGET_TYPES)
    out["target_value"] = target(out["target_type"], _required(data, "target_value"))
    service = as_choice("service_type", _required(data, "service_type"), list(SERVICE_PORTS))
    out["service_type"] = service
    web = service == "web"

    def given(name: str) -> bool:
        return data.get(name) is not None

    def web_only(name: str) -> None:
        if not web and given(name):
            raise invalid(name, "only for service_type web")

    # a non-web device's own answer (proxy_enabled 0, expect_status 200, null web fields) is
    # taken back as a create body: only a value asking for web behaviour is refused
    for name in ("scheme", "host_header", *ORIGIN_FIELDS):
        web_only(name)
    out["scheme"] = (
        as_choice("scheme", data["scheme"], SCHEMES)
        if given("scheme")
        else ("https" if web else None)
    )
    if given("port"):
        out["port"] = as_int("port", data["port"], 1, 65535)
    elif web:
        out["port"] = SCHEME_PORTS[out["scheme"]]
    elif SERVICE_PORTS[service] is None:
        raise missing_field(f"port: required for service_type {service}")
    else:
        out["port"] = SERVICE_PORTS[service]
    out["host_header"] = (
        hostname("host_header", data["host_header"])
        if (given("host_header") and str(data["host_header"]).strip())
        else None
    )
    out["proxy_enabled"] = (
        as_bool("proxy_enabled", data["proxy_enabled"]) if given("proxy_enabled") else False
    )
    if out["proxy_enabled"] and not web:
        raise invalid("proxy_enabled", "only for service_type web")
    for name in (*WEB_CHECKS, *ORIGIN_CHECKS):
        value = as_bool(name, data[name]) if given(name) else None
        if value and not web:
            raise invalid(name, "only for service_type web")
        out[name] = value
    if web and all(out[name] is None for name in WEB_CHECKS):
        # nothing chosen: check the device's own scheme
        out["check_public_http"] = out["scheme"] == "http"
        out["check_public_https"] = out["scheme"] == "https"
    for name in (*WEB_CHECKS, *ORIGIN_CHECKS):
        out[name] = bool(out[name])
    if web and not any(out[name] for name in (*WEB_CHECKS, *ORIGIN_CHECKS)):
        raise invalid("check_public_http", "a web device needs at least one check enabled")
    for name in ORIGIN_CHECKS:
        if out[name] and not out["proxy_enabled"]:
            raise invalid(name, "needs proxy_enabled = 1")
    out["origin_host"] = (
        host_or_ip("origin_host", data["origin_host"]) if given("origin_host") else None
    )
    out["origin_scheme"] = (
        as_choice("origin_scheme", data["origin_scheme"], SCHEMES)
        if given("origin_scheme")
        else None
    )
    out["origin_port"] = (
        as_int("origin_port", data["origin_port"], 1, 65535) if given("origin_port") else None
    )
    if out["proxy_enabled"]:
        wants_origin = out["check_origin_http"] or out["check_origin_tls"]
        if wants_origin and out["origin_host"] is None:
            raise missing_field("origin_host: required for origin checks")
        if out["origin_host"] is not None:
            out["origin_scheme"] = out["origin_scheme"] or out["scheme"]
            out["origin_port"] = out["origin_port"] or SCHEME_PORTS[out["origin_scheme"]]
    out["expect_status"] = (
        as_int("expect_status", data["expect_status"], 100, 599)
        if given("expect_status")
        else DEFAULT_STATUS
    )
    if out["expect_status"] != DEFAULT_STATUS and not web:
        raise invalid("expect_status", f"only for service_type web (others keep {DEFAULT_STATUS})")
    location = data.get("location")
    if location is None:
        location = ""
    if not isinstance(location, str):
        raise invalid("location", f"expected a string, got {location!r}")
    if len(location) > MAX_LOCATION:
        raise invalid("location", f"longer than {MAX_LOCATION} characters")
    if "\0" in location:  # PostgreSQL's text cannot hold one: refused alike on every engine
        raise invalid("location", "must not contain NUL characters")
    out["location"] = location.strip()
    out["is_enabled"] = as_bool("is_enabled", data["is_enabled"]) if given("is_enabled") else True
    return out


def blacklist_monitor(data: Any, *, is_admin: bool = False) -> dict[str, Any]:
    data = _check_keys(data, MONITOR_FIELDS + (ADMIN_FIELDS if is_admin else ()))
    target_type = as_choice("target_type", _required(data, "target_type"), TARGET_TYPES)
    return {
        "target_type": target_type,
        "target_value": target(target_type, _required(data, "target_value")),
        "is_enabled": as_bool("is_enabled", data["is_enabled"])
        if data.get("is_enabled") is not None
        else True,
    }
