"""The ``monitorozas`` scenario of ``bench.py``: REST ``GET /monitorozas/api/v1/devices`` of a
key with 20 devices, against a bare aiohttp handler that encodes the same envelope from memory
per request with orjson (the hub's encoder; the answers are byte-identical).

The hub does per request what the product promises: key look-up (SHA-256, cached), the per-key
rate limit (one SQLite write, shared across processes), the IP allow-list, and a SQLite query of
the user's devices. The baseline does none of it, which is what the ratio shows.

Importing this module (``bench.py`` does, for its ``SUITES``) raises two settings of the hub that
``bench.py`` starts afterwards, unless they are set already: the per-key rate limit (120/min by
default, which a load test would hit in a fraction of a second; the limiter still runs on every
request) and the check interval (a day, so that no checks of the seeded devices, whose targets
do not exist, run during the measurement)."""

from __future__ import annotations

import os
from typing import Any

from hub_handle import HubHandle
from scenario_model import Baseline, Request, Scenario

os.environ.setdefault("HUB_MONITOROZAS_RATE_LIMIT", "100000000")
os.environ.setdefault("HUB_MONITOROZAS_INTERVAL", "86400")
os.environ.setdefault("HUB_MONITOROZAS_BLACKLIST_INTERVAL", "86400")

DEVICES = 20
PATH = "/monitorozas/api/v1/devices"
CITIES = ["budapest", "debrecen", "szeged", "pecs", "gyor", "nyiregyhaza", "kecskemet"]
SERVICES = ["ssh", "smtp", "imaps", "mysql", "postgresql"]


def seed(i: int) -> dict[str, Any]:
    """A realistic device: web shops behind proxies, mail and database servers, accents."""
    city = CITIES[i % len(CITIES)]
    if i % 3:
        device: dict[str, Any] = {
            "target_type": "domain",
            "target_value": f"shop{i:02d}.{city}.example.hu",
            "service_type": "web",
            "scheme": "https",
            "check_public_https": 1,
            "check_public_tls": 1,
            "expect_status": 200,
            "location": f"Webshop {city.title()} #{i} - éles",
        }
        if i % 2:
            device.update(
                {
                    "proxy_enabled": 1,
                    "origin_host": f"10.{i}.0.10",
                    "origin_scheme": "https",
                    "check_origin_http": 1,
                    "check_origin_tls": 1,
                    "host_header": f"www.shop{i:02d}.{city}.example.hu",
                }
            )
        return device
    return {
        "target_type": "ip",
        "target_value": f"192.0.2.{i + 1}",
        "service_type": SERVICES[i % len(SERVICES)],
        "location": f"Szerverterem {city.title()}",
    }


def setup(hub: HubHandle) -> list[Scenario]:
    key = hub.creds("monitorozas", user="bench", scopes="read,write")["key"]
    for i in range(DEVICES):
        hub.http("POST", "/monitorozas/api/v1/devices/create", seed(i), key)
    listed = hub.http("GET", PATH, token=key)
    if len(listed["data"]) != DEVICES:
        raise RuntimeError(f"expected {DEVICES} devices, the hub lists {len(listed['data'])}")
    request = Request(
        "http", {"method": "GET", "path": PATH, "headers": {"Authorization": f"Bearer {key}"}}
    )
    return [
        Scenario(
            f"REST list {DEVICES} monitorozas devices",
            request,
            Baseline("bare aiohttp", "monitorozas-rest", listed["data"], request),
            target=0.5,
        )
    ]


async def serve_rest(data: list[dict[str, Any]], host: str, options: dict[str, Any]) -> str:
    """``GET /monitorozas/api/v1/devices``: ``{"success": true, "data": [...]}`` encoded per
    request with orjson, as the hub answers."""
    import orjson
    from aiohttp import web
    from era_baselines import run_aiohttp

    async def devices(request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps({"success": True, "data": data}),
            content_type="application/json",
            charset="utf-8",
        )

    app = web.Application()
    app.router.add_get(PATH, devices)
    return await run_aiohttp(app, host)
