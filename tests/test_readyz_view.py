"""``/readyz`` gives every caller the status code, the overall status and each probe's name,
status and criticality (what an orchestrator needs), and the probes' details (which can name
paths and quote errors) only to the admin token, as ``{ hub { health } }`` and
``hub.v1.Hub/Health`` do. A missing, wrong or plugin token is that view, never a 401."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def readyz(hub: HubProcess, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + "/readyz", headers=headers) as resp,
    ):
        return resp.status, await resp.json()


def public_part(body: dict[str, Any]) -> tuple[Any, ...]:
    """What everyone sees: the status, the plugins' statuses, each probe but its detail."""
    probes = {(p["plugin"], p["name"], p["status"], p["critical"]) for p in body["probes"]}
    return body["status"], body["plugins"], probes


@pytest.fixture(scope="module")
def era_token(hub_process: HubProcess) -> str:
    return hub_process.creds("era")["token"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("who", ["anonymous", "wrong token", "plugin credential", "basic"])
async def test_without_the_admin_token_probe_details_are_null(
    hub_process: HubProcess, era_token: str, who: str
) -> None:
    headers = {
        "anonymous": {},
        "wrong token": bearer("not-" + ADMIN_TOKEN),
        "plugin credential": bearer(era_token),
        "basic": {"Authorization": "Basic bm90OmFkbWlu"},
    }[who]
    status, body = await readyz(hub_process, headers)
    admin_status, admin_body = await readyz(hub_process, bearer(ADMIN_TOKEN))
    assert (status, public_part(body)) == (admin_status, public_part(admin_body))
    assert status == 200 and body["status"] == "ready"
    assert set(body) == {"status", "plugins", "probes"}
    assert all(set(p) == {"plugin", "name", "status", "detail", "critical"} for p in body["probes"])
    assert [p["detail"] for p in body["probes"]] == [None] * len(body["probes"])


async def test_the_admin_token_sees_probe_details(hub_process: HubProcess) -> None:
    status, body = await readyz(hub_process, bearer(ADMIN_TOKEN))
    assert status == 200
    details = {(p["plugin"], p["name"]): p["detail"] for p in body["probes"]}
    assert "integration points" in details["era", "database"]
    assert details["hub", "data_dir"] == ""  # an ok without a word is not a withheld detail
