"""GraphiQL at /graphql with no internet: the page and every asset come from the hub itself, and
a headless Chromium (Debian's ``chromium``, driven by playwright) with every other host blocked
runs a query through the page, with the Authorization typed into its headers editor, and opens
a subscription over the hub's websocket."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import hub_only_page
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.static_pages import check_bundled_asset, get

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def page_assets(hub: HubProcess) -> tuple[Any, list[str]]:
    status, headers, body = get(f"{hub.url}/graphql", {"Accept": BROWSER_ACCEPT})
    assert status == 200, body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    return headers, re.findall(r'(?:src|href)="([^"]+)"', body.decode())


def test_page_references_only_the_hubs_own_assets(hub_process: HubProcess) -> None:
    headers, assets = page_assets(hub_process)
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert len(assets) == 5, assets
    for asset in assets:
        assert asset.startswith("/graphql/static/"), asset
        check_bundled_asset(hub_process.url, asset)


def test_licences_are_served_and_unknown_assets_are_404(hub_process: HubProcess) -> None:
    for package in ("graphiql", "react", "react-dom"):
        status, headers, body = get(f"{hub_process.url}/graphql/static/LICENSE.{package}")
        assert status == 200 and b"MIT License" in body, package
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
    for name in ("nothing.js", "..%2Fview.py", ".hidden"):
        status, _, body = get(f"{hub_process.url}/graphql/static/{name}")
        assert status == 404, (name, body)
        assert json.loads(body)["error"]["reason"] == "not_found"  # the hub's own error shape


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture
def browser_page(hub_process: HubProcess) -> Iterator[tuple[Any, list[str], list[Any]]]:
    """A Chromium page that reaches the hub's address only (tests/browser.py)."""
    with hub_only_page(hub_process.url) as browsing:
        yield browsing.page, browsing.blocked, browsing.sockets


def set_editor(page: Any, editor: str, text: str) -> None:
    """Type ``text`` into one of GraphiQL's editors (the one shown), replacing what it held."""
    code_mirror = page.locator(f"{editor} .CodeMirror:visible").first
    code_mirror.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    assert code_mirror.evaluate("element => element.CodeMirror.getValue()") == text


def response_text(page: Any) -> str:
    return page.evaluate(  # type: ignore[no-any-return]
        "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    )


def run_and_read(page: Any, query: str) -> dict[str, Any]:
    set_editor(page, ".graphiql-query-editor", query)
    page.locator(".graphiql-execute-button").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = response_text(page)
        if text.strip():
            return json.loads(text)  # type: ignore[no-any-return]
        page.wait_for_timeout(100)
    raise AssertionError("GraphiQL showed no result within 20 s")


def test_graphiql_runs_a_query_with_no_internet(
    hub_process: HubProcess, browser_page: tuple[Any, list[str], list[Any]]
) -> None:
    page, blocked, websockets = browser_page
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{hub_process.url}/graphql", wait_until="load")
    page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=20_000)

    # without a credential the admin-only field is refused, through the page
    refused = run_and_read(page, "{ hub { credentials { totalCount } } }")
    assert refused["errors"], refused

    page.get_by_role("button", name="Headers").click()
    set_editor(
        page, ".graphiql-editor-tool", json.dumps({"Authorization": f"Bearer {ADMIN_TOKEN}"})
    )
    answer = run_and_read(page, "{ hub { credentials { totalCount } } }")
    assert "errors" not in answer, answer
    assert isinstance(answer["data"]["hub"]["credentials"]["totalCount"], int)

    assert blocked == [], f"the page tried to reach other hosts: {blocked}"
    assert websockets == [], [socket.url for socket in websockets]
    assert not console_errors, console_errors


def test_graphiql_subscribes_over_the_hubs_websocket(
    hub_process: HubProcess, browser_page: tuple[Any, list[str], list[Any]]
) -> None:
    page, blocked, _ = browser_page
    frames: list[dict[str, Any]] = []

    def record(socket: Any) -> None:
        assert socket.url == f"ws://{urlsplit(hub_process.url).netloc}/graphql", socket.url
        socket.on("framesent", lambda payload: frames.append({"sent": json.loads(payload)}))
        socket.on("framereceived", lambda payload: frames.append({"received": json.loads(payload)}))

    page.on("websocket", record)
    page.goto(f"{hub_process.url}/graphql", wait_until="load")
    page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=20_000)
    page.get_by_role("button", name="Headers").click()
    set_editor(
        page, ".graphiql-editor-tool", json.dumps({"Authorization": f"Bearer {ADMIN_TOKEN}"})
    )
    set_editor(
        page,
        ".graphiql-query-editor",
        "subscription { monitorozasDeviceStatusChanged { previousStatus } }",
    )
    # GraphiQL parses the editor's document after a pause in typing; only then does it know the
    # operation is a subscription (before, it would send it over HTTP, which answers 400)
    page.wait_for_timeout(1000)
    page.locator(".graphiql-execute-button").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        frame.get("sent", {}).get("type") == "subscribe" for frame in frames
    ):
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # room for a refusal, were there one

    sent = [frame["sent"] for frame in frames if "sent" in frame]
    received = [frame["received"] for frame in frames if "received" in frame]
    assert sent[0] == {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
    }, frames
    assert received[0] == {"type": "connection_ack"}, frames
    assert any(
        message["type"] == "subscribe"
        and "monitorozasDeviceStatusChanged" in message["payload"]["query"]
        for message in sent
    ), frames
    assert not [m for m in received if m["type"] in ("error", "complete")], frames
    assert blocked == [], blocked
