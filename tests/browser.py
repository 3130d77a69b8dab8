"""A headless Chromium that reaches the hub under test and nothing else, for the tests of the
hub's pages (GraphiQL, Swagger UI, the status page): Debian's chromium driven by playwright
(never a downloaded browser); every request to another host is aborted and recorded, no name
resolves but the hub's, no proxy is used. Without chromium the test is skipped, unless
``HUB_REQUIRE_CHROMIUM`` (CI, once it installed chromium) makes that a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Browsing:
    page: Any
    blocked: list[str] = field(default_factory=list)  # requests to other hosts, aborted
    sockets: list[Any] = field(default_factory=list)  # every websocket the page opened


@contextlib.contextmanager
def hub_only_page(hub_url: str, **page_options: Any) -> Iterator[Browsing]:
    if CHROMIUM is None:
        if os.environ.get("HUB_REQUIRE_CHROMIUM"):
            pytest.fail("HUB_REQUIRE_CHROMIUM is set but no chromium is on PATH")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    hub_address = urlsplit(hub_url).netloc
    hub_host = urlsplit(hub_url).hostname
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # and below the browser's own routing: no name resolves, no proxy is used
            args=[
                f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {hub_host}",
                "--no-proxy-server",
                "--no-sandbox",
            ],
        )
        try:
            browsing = Browsing(browser.new_page(**page_options))

            def only_the_hub(route: Any) -> None:
                if urlsplit(route.request.url).netloc == hub_address:
                    route.continue_()
                else:
                    browsing.blocked.append(route.request.url)
                    route.abort("internetdisconnected")

            browsing.page.route("**/*", only_the_hub)
            browsing.page.on("websocket", lambda socket: browsing.sockets.append(socket))
            yield browsing
        finally:
            browser.close()
