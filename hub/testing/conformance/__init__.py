"""The conformance check any plugin can run against an in-process hub that loads it:

    await conformance.check(hub_server, "notes")

It probes the plugin's REST surface, its GraphQL fields (subscriptions over the websocket) and
its gRPC services the way a careless or hostile client would (unknown paths, wrong methods,
malformed and oversized bodies, no or a wrong credential, bytes that are no message) and fails
listing every answer that is not in the plugin's own REST error shape or not per the error
table, every 5xx, and every gRPC service that reflection or the health service does not know.
See docs/plugin-authoring.md."""

from __future__ import annotations

from hub.testing.clients import HubClient
from hub.testing.conformance import graphql, grpc, rest
from hub.testing.inprocess import RunningHub


async def problems(running: RunningHub, plugin: str) -> list[str]:
    """Everything the check finds wrong, one sentence each; empty when the plugin conforms."""
    hub = running.hub
    if plugin not in hub.plugins:
        return [f"plugin {plugin} is not loaded (installed? left out by HUB_PLUGINS?)"]
    found = []
    async with HubClient(running.url, running.grpc) as client:
        api = hub.rest.get(plugin)
        if api is not None:
            limit = api.max_body or hub.settings.max_body
            found += await rest.problems(client.rest, running.rest_url(plugin), api, limit)
        if plugin in hub.graphql_parts:
            found += await graphql.problems(client, running.server.schema._schema, plugin)
        services = [service.name for owner, service in hub.grpc_services if owner == plugin]
        found += await grpc.problems(client.grpc_channel, services, plugin)
    return found


async def check(running: RunningHub, plugin: str) -> None:
    """Raise ``AssertionError`` listing every problem :func:`problems` finds."""
    found = await problems(running, plugin)
    if found:
        raise AssertionError(
            f"plugin {plugin} does not conform ({len(found)} problems):\n- " + "\n- ".join(found)
        )
