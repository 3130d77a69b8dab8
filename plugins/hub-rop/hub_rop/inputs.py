"""Checking what callers send, once for all three protocols; every message names the field."""

from __future__ import annotations

import math
from typing import Any

from hub.urls import http_url_fault
from hub_rop.errors import bad_request

MAX_ID = 255
MAX_TEXT = 4096
MAX_URL = 2048
MAX_ITEMS = 10_000
MAX_DEPTH = 16  # objects and arrays inside one another in extracted_data (gRPC's Struct: ~30)
UPLOAD_REQUIRED = ("manager_id", "call_id", "deal_id", "deal_stage_id", "audio_url")
UPLOAD_FIELDS = (*UPLOAD_REQUIRED, "duration")
STAGE_STATUSES = ("completed", "failed")


def ident(value: Any, name: str) -> str:
    """A CRM id: a non-empty string (JSON numbers are taken as their text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name}: required, a non-empty string")
    if len(value) > MAX_ID:
        raise bad_request(f"{name}: longer than {MAX_ID} characters")
    return no_nul(value, name)


def text(value: Any, name: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad_request(
            f"{name}: required, a non-empty string" if required else (f"{name}: expected a string")
        )
    if len(value) > limit:
        raise bad_request(f"{name}: longer than {limit} characters")
    return no_nul(value, name)


def no_nul(value: str, name: str) -> str:
    """PostgreSQL's text cannot hold NUL: refused alike on every engine, naming the field."""
    if "\x00" in value:
        raise bad_request(f"{name}: must not contain NUL (\\u0000)")
    return value


def http_url(value: Any, name: str) -> str:
    """An http(s) URL the hub can fetch or post to (:func:`hub.urls.http_url_fault`)."""
    url = text(value, name, limit=MAX_URL)
    fault = http_url_fault(url)
    if fault is not None:
        raise bad_request(f"{name}: {fault}")
    return url


def items(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"{name}: required, an array")
    if len(value) > MAX_ITEMS:
        raise bad_request(f"{name}: more than {MAX_ITEMS} items")
    return value


def obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{name}: expected an object")
    return value


def document(value: Any, name: str) -> dict[str, Any]:
    """A JSON object of an analyser or of ROP (``extracted_data``), as every protocol can give
    it back: nested at most :data:`MAX_DEPTH` deep (a gRPC ``Struct`` cannot hold much more,
    nor a JSON encoder), its numbers finite (a ``Struct`` can carry NaN, JSON cannot)."""
    data = obj(value, name)
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise bad_request(f"{name}: {item!r} is not a JSON number")
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise bad_request(f"{name}: objects and arrays nested deeper than {MAX_DEPTH}")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
    return data


def no_unknown(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in known:
            prefix = f"{where}." if where else ""
            raise bad_request(f"{prefix}{key}: unknown field; expected {', '.join(known)}")


def upload(data: Any) -> dict[str, Any]:
    """audio-upload's fields; all missing required ones are named at once (the seed's own test
    command leaves out two)."""
    data = obj(data, "body")
    no_unknown(data, UPLOAD_FIELDS, "")
    missing = [f for f in UPLOAD_REQUIRED if data.get(f) in (None, "")]
    if missing:
        raise bad_request(f"{', '.join(missing)}: required")
    out: dict[str, Any] = {f: ident(data[f], f) for f in UPLOAD_REQUIRED if f != "audio_url"}
    out["audio_url"] = http_url(data["audio_url"], "audio_url")
    out["duration"] = duration(data.get("duration"))
    return out


def duration(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 1 <= number <= 2700:
        raise bad_request(f"duration: expected seconds between 1 and 2700, got {value!r}")
    return number


def offices(data: Any) -> list[dict[str, Any]]:
    data = obj(data, "body")
    no_unknown(data, ("offices",), "")
    out, seen = [], set()
    for i, raw in enumerate(items(data.get("offices"), "offices")):
        where = f"offices[{i}]"
        office = obj(raw, where)
        no_unknown(office, ("office_title", "office_id", "leader_ids", "managers_ids"), where)
        office_id = ident(office.get("office_id"), f"{where}.office_id")
        if office_id in seen:
            raise bad_request(f"{where}.office_id: {office_id!r} is listed twice")
        seen.add(office_id)
        members = {}
        for key in ("leader_ids", "managers_ids"):
            ids = items(office.get(key, []), f"{where}.{key}")
            members[key] = list(
                dict.fromkeys(ident(m, f"{where}.{key}[{j}]") for j, m in enumerate(ids))
            )
        out.append(
            {
                "office_id": office_id,
                "office_title": text(office.get("office_title"), f"{where}.office_title"),
                **members,
            }
        )
    return out


def managers(data: Any) -> list[dict[str, Any]]:
    data = obj(data, "body")
    no_unknown(data, ("managers",), "")
    out, seen = [], set()
    for i, raw in enumerate(items(data.get("managers"), "managers")):
        where = f"managers[{i}]"
        manager = obj(raw, where)
        no_unknown(manager, ("manager_id", "name", "surname", "middlename"), where)
        manager_id = ident(manager.get("manager_id"), f"{where}.manager_id")
        if manager_id in seen:
            raise bad_request(f"{where}.manager_id: {manager_id!r} is listed twice")
        seen.add(manager_id)
        out.append(
            {
                "manager_id": manager_id,
                # the seed marks only manager_id as required; a name part left out is empty
                **{
                    part: text(manager.get(part), f"{where}.{part}", required=False, limit=MAX_ID)
                    for part in ("name", "surname", "middlename")
                },
            }
        )
    return out


def webhook(data: dict[str, Any], existing_secret: str | None) -> tuple[str | None, str | None]:
    """``(url, secret)``: a URL needs a secret (at least 16 characters) to sign with; an update
    that leaves the secret out keeps the stored one."""
    url = data.get("webhook_url")
    url = http_url(url, "webhook_url") if url not in (None, "") else None
    secret = data.get("webhook_secret")
    if secret in (None, ""):
        secret = existing_secret
    else:
        secret = text(secret, "webhook_secret", limit=MAX_ID)
        if len(secret) < 16:
            raise bad_request("webhook_secret: at least 16 characters")
    if url is not None and secret is None:
        raise bad_request("webhook_secret: required with webhook_url (signs every delivery)")
    return url, secret


def checklist(data: Any) -> dict[str, Any]:
    data = obj(data, "checklist")
    no_unknown(data, ("id", "name", "stages", "webhook_url", "webhook_secret"), "")
    stages, seen = [], set()
    for i, raw in enumerate(items(data.get("stages"), "stages")):
        where = f"stages[{i}]"
        stage = obj(raw, where)
        no_unknown(stage, ("id", "name", "criteria"), where)
        stage_id = ident(stage.get("id"), f"{where}.id")
        if stage_id in seen:
            raise bad_request(f"{where}.id: {stage_id!r} is listed twice")
        seen.add(stage_id)
        stages.append(
            {
                "id": stage_id,
                "name": text(stage.get("name"), f"{where}.name", limit=MAX_ID),
                "criteria": text(stage.get("criteria"), f"{where}.criteria", required=False),
            }
        )
    if not stages:
        raise bad_request("stages: a checklist needs at least one stage")
    return {
        "id": ident(data["id"], "id") if data.get("id") not in (None, "") else None,
        "name": text(data.get("name"), "name", limit=MAX_ID),
        "stages": stages,
    }


def table(data: Any) -> dict[str, Any]:
    data = obj(data, "table")
    no_unknown(data, ("id", "name", "fields", "webhook_url", "webhook_secret"), "")
    fields, seen = [], set()
    for i, raw in enumerate(items(data.get("fields"), "fields")):
        where = f"fields[{i}]"
        field = obj(raw, where)
        no_unknown(field, ("name", "description"), where)
        name = ident(field.get("name"), f"{where}.name")
        if name in seen:
            raise bad_request(f"{where}.name: {name!r} is listed twice")
        seen.add(name)
        fields.append(
            {
                "name": name,
                "description": text(
                    field.get("description"), f"{where}.description", required=False
                ),
            }
        )
    if not fields:
        raise bad_request("fields: a table needs at least one field")
    return {
        "id": ident(data["id"], "id") if data.get("id") not in (None, "") else None,
        "name": text(data.get("name"), "name", limit=MAX_ID),
        "fields": fields,
    }


def analysis(data: Any) -> dict[str, Any]:
    """The shape of a result (from ``ropSubmitAnalysis``, gRPC or the hook); whether its ids
    and stages fit the stored checklists and tables is checked against them later."""
    data = obj(data, "analysis")
    no_unknown(data, ("call_id", "checklists", "tables"), "")
    checklists, tables = [], []
    seen_checklists: set[str] = set()
    seen_tables: set[str] = set()
    for i, raw in enumerate(items(data.get("checklists", []), "checklists")):
        where = f"checklists[{i}]"
        entry = obj(raw, where)
        no_unknown(entry, ("checklist_id", "stages"), where)
        checklist_id = ident(entry.get("checklist_id"), f"{where}.checklist_id")
        if checklist_id in seen_checklists:
            raise bad_request(f"{where}.checklist_id: {checklist_id!r} is listed twice")
        seen_checklists.add(checklist_id)
        stages = []
        for j, raw_stage in enumerate(items(entry.get("stages"), f"{where}.stages")):
            at = f"{where}.stages[{j}]"
            stage = obj(raw_stage, at)
            no_unknown(stage, ("stage_id", "status", "comment", "quote"), at)
            status = stage.get("status")
            if status not in STAGE_STATUSES:
                raise bad_request(f"{at}.status: expected completed or failed, got {status!r}")
            stages.append(
                {
                    "stage_id": ident(stage.get("stage_id"), f"{at}.stage_id"),
                    "status": status,
                    "comment": text(stage.get("comment"), f"{at}.comment", required=False),
                    "quote": text(stage.get("quote"), f"{at}.quote", required=False),
                }
            )
        checklists.append({"checklist_id": checklist_id, "stages": stages})
    for i, raw in enumerate(items(data.get("tables", []), "tables")):
        where = f"tables[{i}]"
        entry = obj(raw, where)
        no_unknown(entry, ("table_id", "extracted_data"), where)
        table_id = ident(entry.get("table_id"), f"{where}.table_id")
        if table_id in seen_tables:
            raise bad_request(f"{where}.table_id: {table_id!r} is listed twice")
        seen_tables.add(table_id)
        tables.append(
            {
                "table_id": table_id,
                "extracted_data": document(entry.get("extracted_data"), f"{where}.extracted_data"),
            }
        )
    if not checklists and not tables:
        raise bad_request("checklists, tables: a result needs at least one of them")
    return {
        "call_id": ident(data.get("call_id"), "call_id"),
        "checklists": checklists,
        "tables": tables,
    }
