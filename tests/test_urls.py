"""The one rule for URLs the hub sends requests to later (``hub.urls.http_url_fault``): what it
refuses, and what it keeps as sent. The plugins' and the upstream settings' own tests show it
answered as a 400 naming the field, or one line naming the setting."""

from __future__ import annotations

import pytest

from hub.urls import http_url_fault


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("http://[::1", "not a URL"),
        ("ftp://example.org/x", "expected an http or https URL"),
        ("http:///path", "expected an http or https URL"),
        ("example.org/hook", "expected an http or https URL"),
        ("http://example.org:99999/hook", "bad port"),
        ("http://example.org:port/hook", "bad port"),
        ("http://exa mple.org/hook", "bad host name"),
        ("http://a..b/x", "bad host name"),
        (f"http://{'a' * 64}.com/x", "bad host name"),
        ("http://example.org/ho\nok", "a control or invisible character"),
        ("http://example.org/\thook", "a control or invisible character"),
        ("http://a\u200db.com/x", "a control or invisible character"),
        ("http://example.org/\x00", "a control or invisible character"),
    ],
)
def test_a_url_no_request_could_go_to_is_named_with_its_fault(url: str, fault: str) -> None:
    found = http_url_fault(url)
    assert found is not None and found.startswith(fault), found
    assert repr(url) in found  # the phrase quotes the URL, escapes shown


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:8080/hook",
        "https://example.org:443/h?a=1#x",
        "http://host/",
        "http://127.0.0.1:9/x",
        "https://пример.рф/путь",  # a host name in Unicode, as IDNA takes it
        "http://example.org/my file.mp3",  # a space in the path: the client encodes it
    ],
)
def test_a_url_a_request_can_go_to_passes(url: str) -> None:
    assert http_url_fault(url) is None
