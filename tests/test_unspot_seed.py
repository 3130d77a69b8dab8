"""unspot against the seed's examples: a hub holding exactly the seed's displays, calendars,
webhooks and user sync (made through the admin gRPC API) answers each category with the seed's
bytes; an empty, off-premise hub answers with the seed's empty states and its 401."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hub_unspot.v1 import unspot_pb2 as pb

from tests import unspot_seed as seed
from tests.hubproc import HubProcess
from tests.unspot_helpers import (
    SEED_401,
    SEED_NOT_ON_PREMISE,
    RespServer,
    backlog_plugin,
    body,
    get,
    graphql,
    grpc_call,
    grpc_error,
    unspot_hub,
)


@pytest.fixture(scope="module")
def redis() -> Iterator[RespServer]:
    server = RespServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seed_hub(tmp_path_factory: pytest.TempPathFactory, redis: RespServer) -> Iterator[HubProcess]:
    """The seed's full example, made through the admin API."""
    plugins = tmp_path_factory.mktemp("plugins")
    backlog_plugin(plugins, depth=0)
    hub = unspot_hub(
        tmp_path_factory.mktemp("unspot-seed"), redis_url=f"redis://127.0.0.1:{redis.port}"
    )
    hub.env.update(HUB_PLUGINS="unspot,backlog", HUB_PLUGINS_DIR=str(plugins))
    hub.start()
    for display in seed.FULL["body"]["displays"]:
        grpc_call(hub, "UpsertDisplay", pb.UpsertDisplayRequest(**display))
    for i in range(100):
        status = "online" if i < 95 else "offline"
        grpc_call(hub, "UpsertCalendar", pb.UpsertCalendarRequest(name=f"room {i}", status=status))
    for i, status in enumerate(["online"] * 15 + ["failed"] * 3 + ["disabled"] * 2):
        url = f"https://hooks.example/{i}"
        grpc_call(hub, "UpsertWebhook", pb.UpsertWebhookRequest(url=url, status=status))
    grpc_call(hub, "RecordUserSync", pb.RecordUserSyncRequest(at="2026-02-04T11:41:39+00:00"))
    yield hub
    hub.stop()


def owner(hub: HubProcess) -> str:
    """A fresh owner token: each REST read uses up its category's window for that token."""
    return str(grpc_call(hub, "CreateUser", pb.CreateUserRequest(role="owner")).token)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("/calendars", seed.CALENDARS),
        ("/webhooks", seed.WEBHOOKS),
        ("/user-sync", seed.USER_SYNC),
    ],
)
async def test_category_is_the_seed_byte_for_byte(
    seed_hub: HubProcess, category: str, expected: bytes
) -> None:
    status, headers, raw = await get(seed_hub, category, owner(seed_hub))
    assert (status, raw) == (200, expected)
    assert headers["Content-Type"] == "application/json"


async def test_full_request_is_the_seed_field_by_field(seed_hub: HubProcess) -> None:
    status, _, raw = await get(seed_hub, "", owner(seed_hub))
    assert status == 200
    got, want = body(raw), seed.FULL
    assert list(got) == list(want) == ["message", "body"]
    assert got["message"] == "OK"
    assert list(got["body"]) == list(
        want["body"]
    )  # displays, calendars, webhooks, userSync, system
    for key in ("displays", "calendars", "webhooks", "userSync"):
        assert got["body"][key] == want["body"][key], key
    system, want_system = got["body"]["system"], want["body"]["system"]
    assert list(system) == list(want_system)
    for key in ("redis", "database", "filesystem"):
        assert system[key] == want_system[key] == "online"
    # the queues are this hub's own (the seed's are UnSpot's), in the seed's item shape
    assert system["queue"] == [{"name": "backlog.pending", "messages": 0}]
    assert all(list(q) == ["name", "messages"] for q in want_system["queue"])
    # the same JSON layout as every seed block: two-space indent, no trailing newline
    assert raw == orjson.dumps(got, option=orjson.OPT_INDENT_2)


async def test_system_has_the_seed_layout(seed_hub: HubProcess) -> None:
    status, _, raw = await get(seed_hub, "/system", owner(seed_hub))
    assert status == 200
    # the seed's example with this hub's one queue in place of UnSpot's "common"
    expected = seed.SYSTEM.replace(b'"name": "common"', b'"name": "backlog.pending"')
    assert raw == expected


async def test_one_display_is_the_seed_byte_for_byte(seed_hub: HubProcess) -> None:
    """Runs last in this module: it leaves only the seed's single-display example stored."""
    grpc_call(seed_hub, "DeleteDisplay", pb.DeleteRequest(id="45Dcvf9fjdew"))
    status, _, raw = await get(seed_hub, "/displays", owner(seed_hub))
    assert (status, raw) == (200, seed.DISPLAYS_ONE)


# -- an empty hub that is not on-premise -----------------------------------------------------
@pytest.fixture(scope="module")
def cloud_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = unspot_hub(tmp_path_factory.mktemp("unspot-cloud"), on_premise="false").start()
    yield hub
    hub.stop()


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("/displays", seed.DISPLAYS_NONE),
        ("/webhooks", seed.WEBHOOKS_NONE),
        ("/user-sync", seed.USER_SYNC_DISABLED),
    ],
)
async def test_empty_states_are_the_seed_byte_for_byte(
    cloud_hub: HubProcess, category: str, expected: bytes
) -> None:
    status, _, raw = await get(cloud_hub, category, owner(cloud_hub))
    assert (status, raw) == (200, expected)


async def test_empty_full_request_off_premise_has_no_system(cloud_hub: HubProcess) -> None:
    status, _, raw = await get(cloud_hub, "", owner(cloud_hub))
    assert status == 200
    expected = {
        "message": "OK",
        "body": {
            "displays": [],
            "calendars": {"total": 0, "online": 0, "offline": 0},
            "webhooks": {"total": 0, "online": 0, "failed": 0, "disabled": 0},
            "userSync": {"lastSyncDate": None},
        },
    }
    assert raw == orjson.dumps(expected, option=orjson.OPT_INDENT_2)


async def test_system_off_premise_is_the_seeds_401_everywhere(cloud_hub: HubProcess) -> None:
    token = owner(cloud_hub)
    status, _, raw = await get(cloud_hub, "/system", token)
    assert (status, raw) == (401, SEED_NOT_ON_PREMISE)
    # refused, so it did not use up the window: the token still reads another category...
    assert (await get(cloud_hub, "/displays", token))[0] == 200
    # ...and a bad token is still told its token is bad first
    assert (await get(cloud_hub, "/system", "nope"))[2] == SEED_401
    result = await graphql(cloud_hub, "{ unspot { monitoring { system { redis } } } }", token)
    assert result["data"]["unspot"]["monitoring"]["system"] is None
    error = result["errors"][0]
    assert error["message"] == "System monitoring is only available for on-premise environment"
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["status"] == 401
    failed = grpc_error(
        cloud_hub, "GetMonitoring", pb.GetMonitoringRequest(categories=["system"]), token
    )
    assert failed.code().name == "UNAUTHENTICATED"
    full = grpc_call(cloud_hub, "GetMonitoring", pb.GetMonitoringRequest(), token)
    assert not full.HasField("system") and full.HasField("displays")


async def test_user_sync_recorded_then_disabled(cloud_hub: HubProcess) -> None:
    recorded = grpc_call(
        cloud_hub, "RecordUserSync", pb.RecordUserSyncRequest(at="2026-02-04T14:41:39.9+03:00")
    )
    assert recorded.last_sync_date == "2026-02-04T11:41:39+00:00"  # UTC, seconds
    status, _, raw = await get(cloud_hub, "/user-sync", owner(cloud_hub))
    assert (status, raw) == (200, seed.USER_SYNC)
    disabled = grpc_call(cloud_hub, "DisableUserSync", pb.DisableUserSyncRequest())
    assert not disabled.HasField("last_sync_date")
    status, _, raw = await get(cloud_hub, "/user-sync", owner(cloud_hub))
    assert (status, raw) == (200, seed.USER_SYNC_DISABLED)
