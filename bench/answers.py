"""Asking both sides of a row the scenario's request once, and whether they answer alike:
the same JSON bytes for REST, the same JSON document for GraphQL, the same serialized message
for gRPC, the same rows when the hub's GraphQL is compared with REST or Mesh, the same channel
but for what its server makes for a create."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import node_peers
from scenario_model import Request, Scenario, grpc_call


def _body(params: dict[str, Any], unique: str) -> bytes | None:
    body = params.get("body")
    if body is None:
        return None
    return (body.replace(params["unique"], unique) if params.get("unique") else body).encode()


async def fetch(request: Request, address: str, unique: str = "") -> bytes:
    """The raw answer to ``request``: the body for HTTP, the serialized message for gRPC.
    ``unique`` replaces the request's placeholder for a value no other request gets."""
    p = request.params
    if request.kind == "http":
        import aiohttp

        body = _body(p, unique or uuid.uuid4().hex)
        url = f"http://{address}{p['path']}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(p["method"], url, headers=p.get("headers") or {}, data=body) as resp,
        ):
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url}: HTTP {resp.status}: {raw[:300]!r}")
            return raw
    if request.kind == "grpc":
        import grpc

        path, message = grpc_call(p)
        metadata = tuple(tuple(m) for m in p.get("metadata", ()))
        async with grpc.aio.insecure_channel(address) as channel:
            answer = await channel.unary_unary(path)(message.SerializeToString(), metadata=metadata)
            return answer  # type: ignore[no-any-return]
    raise ValueError(f"unknown request kind {request.kind!r}")


def snake_case(name: str) -> str:
    """GraphQL's field name in REST's: ``tokenRemote2`` is ``token_remote2``."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _rows(raw: bytes) -> list[dict[str, Any]]:
    """The channels of an answer, in REST's field names with instants parsed: from a REST
    list, the hub's GraphQL connection or Mesh's list field."""
    doc = json.loads(raw)
    if isinstance(doc, dict):
        data = doc.get("data") or {}
        if "era" in data:
            doc = [edge["node"] for edge in data["era"]["integrationPoints"]["edges"]]
        else:
            doc = data.get(node_peers.MESH_LIST_FIELD)
    if not isinstance(doc, list):
        raise ValueError(f"no list of channels in {raw[:300]!r}")

    def row(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {snake_case(k): row(v) for k, v in value.items()}
        for key in ("ct", "lwt"):
            if isinstance(out.get(key), str):
                out[key] = datetime.fromisoformat(out[key])
        return out

    return [row(item) for item in doc]


def _created(raw: bytes) -> dict[str, Any]:
    """A created channel but for what its server makes: id, local token and the times."""
    doc = json.loads(raw)
    return {k: v for k, v in doc.items() if k not in ("id", "token_local", "ext")} | {
        "ext": sorted(doc["ext"])
    }


COMPARERS: dict[str, Callable[[bytes, bytes], bool]] = {
    "bytes": lambda hub, base: hub == base,
    "json": lambda hub, base: json.loads(hub) == json.loads(base),
    "rows": lambda hub, base: _rows(hub) == _rows(base),
    "created": lambda hub, base: _created(hub) == _created(base),
}


def verify(scenario: Scenario, hub_address: str, base_address: str) -> int:
    """Both sides answer alike, or stop: returns the size of the hub's answer."""
    unique = f"verify-{uuid.uuid4().hex}"
    hub_body = asyncio.run(fetch(scenario.hub_request, hub_address, unique))
    base_body = asyncio.run(fetch(scenario.baseline.request, base_address, unique))
    try:
        same = hub_body == base_body or COMPARERS[scenario.compare](hub_body, base_body)
    except (ValueError, KeyError, TypeError) as exc:
        same = False
        print(f"{scenario.name}: comparing failed: {exc!r}", file=sys.stderr)
    if not same:
        raise SystemExit(
            f"{scenario.name}: the {scenario.baseline.label} does not answer like the hub\n"
            f"  hub:      {hub_body[:400]!r}\n  baseline: {base_body[:400]!r}"
        )
    return len(hub_body)
