"""Swagger UI at /openapi/ui with no internet: the page and every asset come from the hub itself,
and a headless Chromium (Debian's ``chromium``, driven by playwright) with every other host
blocked lists every plugin's document in the top bar and renders ERA's operations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import hub_only_page
from tests.hubproc import HubProcess
from tests.static_pages import check_bundled_asset, get

ERA_PATH = "/rest/v1/service/integration_points"


def test_page_references_only_the_hubs_own_assets(hub_process: HubProcess) -> None:
    status, headers, body = get(f"{hub_process.url}/openapi/ui")
    assert status == 200, body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', body.decode())
    assert len(assets) == 4, assets
    for asset in assets:
        assert asset.startswith("/openapi/static/"), asset
        check_bundled_asset(hub_process.url, asset)


def test_licences_are_served_and_unknown_assets_are_404(hub_process: HubProcess) -> None:
    status, headers, body = get(f"{hub_process.url}/openapi/static/LICENSE.swagger-ui")
    assert status == 200 and b"Apache License" in body
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    for name in ("NOTICE.swagger-ui", "LICENSE.swagger-ui-bundle", "VERSIONS"):
        assert get(f"{hub_process.url}/openapi/static/{name}")[0] == 200, name
    for name in ("nothing.js", "..%2Fopenapi_ui.py", ".hidden"):
        status, _, body = get(f"{hub_process.url}/openapi/static/{name}")
        assert status == 404, (name, body)
        assert json.loads(body)["error"]["reason"] == "not_found"  # the hub's own error shape


@pytest.fixture
def browser_page(hub_process: HubProcess) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page that reaches the hub's address only (tests/browser.py)."""
    with hub_only_page(hub_process.url) as browsing:
        yield browsing.page, browsing.blocked


def test_swagger_ui_shows_every_plugin_and_eras_paths_with_no_internet(
    hub_process: HubProcess, browser_page: tuple[Any, list[str]]
) -> None:
    page, blocked = browser_page
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{hub_process.url}/openapi/ui", wait_until="load")

    chooser = page.locator(".topbar select")
    chooser.wait_for(timeout=20_000)
    listed = chooser.locator("option").all_inner_texts()
    _, _, index = get(f"{hub_process.url}/openapi")
    assert listed == [entry["plugin"] for entry in json.loads(index)["documents"]]
    assert "era" in listed

    chooser.select_option(label="era")
    page.locator(".info .title", has_text="hub: era").wait_for(timeout=20_000)
    paths = page.locator(".opblock-summary-path")
    paths.first.wait_for(timeout=20_000)
    shown = {text.replace("\u200b", "") for text in paths.all_inner_texts()}
    assert ERA_PATH in shown, shown
    assert f"{ERA_PATH}/{{id}}" in shown, shown

    assert blocked == [], f"the page tried to reach other hosts: {blocked}"
    assert not console_errors, console_errors
