"""unspot's conformance audit: inputs an acceptance suite rarely sends (a webhook URL that does
not parse, a bad port, a sync instant before 1970), each refused or recorded as documented over
GraphQL and gRPC, with nothing stored changed and never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hub_unspot.v1 import unspot_pb2 as pb

from tests.hubproc import HubProcess
from tests.unspot_helpers import ADMIN, graphql, graphql_ok, grpc_call, grpc_error, unspot_hub

WEBHOOKS = "{ unspot { monitoring { webhooks { total online failed disabled } } } }"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = unspot_hub(tmp_path_factory.mktemp("unspot-audit"))
    hub.start()
    yield hub
    hub.stop()


async def webhook_counts(hub: HubProcess) -> dict[str, Any]:
    return (await graphql_ok(hub, WEBHOOKS))["unspot"]["monitoring"]["webhooks"]  # type: ignore[no-any-return]


BAD_URLS = [
    "http://[::1",  # an unclosed IPv6 literal: urlsplit raises
    "https://[not-an-address]/hook",
    "http://example.org:99999/hook",  # a port past 65535
    "http://example.org:port/hook",
    "http://exa mple.org/hook",  # a space in the host
    "https://example.org/a\nb",  # a line break
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_webhook_url_that_is_not_a_url_is_a_400_naming_url(
    hub: HubProcess, url: str
) -> None:
    before = await webhook_counts(hub)
    result = await graphql(
        hub,
        'mutation($u: String!) { unspotUpsertWebhook(input: {url: $u, status: "online"}) { id } }',
        ADMIN,
        u=url,
    )
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST", error
    assert error["message"].startswith("url: ")
    failed = grpc_error(
        hub, "UpsertWebhook", pb.UpsertWebhookRequest(url=url, status="online"), ADMIN
    )
    assert failed.code().name == "INVALID_ARGUMENT" and failed.details().startswith("url: ")
    assert await webhook_counts(hub) == before


async def test_a_bad_url_leaves_a_stored_webhook_as_it_was(hub: HubProcess) -> None:
    made = grpc_call(
        hub, "UpsertWebhook", pb.UpsertWebhookRequest(url="https://example.org/h", status="failed")
    )
    for url in BAD_URLS:
        failed = grpc_error(
            hub,
            "UpsertWebhook",
            pb.UpsertWebhookRequest(id=made.id, url=url, status="online"),
            ADMIN,
        )
        assert failed.code().name == "INVALID_ARGUMENT", url
    kept = grpc_call(hub, "UpsertWebhook", pb.UpsertWebhookRequest(id=made.id))
    assert (kept.url, kept.status) == ("https://example.org/h", "failed")


@pytest.mark.parametrize(
    "url", ["http://[::1]:8080/hook", "https://example.org:443/h?a=1#x", "http://host/"]
)
async def test_good_webhook_urls_are_stored_as_sent(hub: HubProcess, url: str) -> None:
    made = grpc_call(hub, "UpsertWebhook", pb.UpsertWebhookRequest(url=url, status="online"))
    assert made.url == url


@pytest.mark.parametrize(
    ("at", "written"),
    [
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59+00:00"),
        ("1970-01-01T00:00:00.999+00:00", "1970-01-01T00:00:00+00:00"),
        ("2026-02-04T11:41:39.999+03:00", "2026-02-04T08:41:39+00:00"),
    ],
)
async def test_a_sync_instant_keeps_its_second(hub: HubProcess, at: str, written: str) -> None:
    """lastSyncDate is the recorded instant to the second: the fraction is dropped, never
    rounded up into the next second (before 1970 too)."""
    data = await graphql_ok(
        hub, "mutation($at: String!) { unspotRecordUserSync(at: $at) { lastSyncDate } }", at=at
    )
    assert data["unspotRecordUserSync"]["lastSyncDate"] == written
    read = await graphql_ok(hub, "{ unspot { monitoring { userSync { lastSyncDate } } } }")
    assert read["unspot"]["monitoring"]["userSync"]["lastSyncDate"] == written
