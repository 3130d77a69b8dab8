"""One rule for the http(s) URLs the hub is given to send requests to later (a webhook, a file
to fetch, a vendor's base URL): checked when it is given, so a URL that no request could ever
go to is refused then, naming the field or setting, not found out at every delivery."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def http_url_fault(url: str) -> str | None:
    """What makes ``url`` no absolute http(s) URL a request could go to (a phrase that quotes
    it, to follow ``"<field>: "``), or ``None``.

    Refused: a control or invisible character anywhere (``urlsplit`` silently drops some, and
    the HTTP client refuses others only when it sends); what ``urlsplit`` cannot read (an
    unclosed IPv6 literal); a scheme other than http/https or no host; a port that is not a
    number from 0 to 65535; a host name no resolver takes (white space, a label empty or over
    63 characters). A space in the path or query is kept: the client encodes it."""
    if not url.isprintable():
        return f"a control or invisible character in {url!r}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"not a URL: {url!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http or https URL, got {url!r}"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in 0-65535
    except ValueError:
        return f"bad port in {url!r}"
    if any(c.isspace() for c in parts.hostname):
        return f"bad host name in {url!r}"
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return f"bad host name in {url!r}"
    return None


def without_password(url: str) -> str:
    """``url`` as the hub shows it to whoever may read it: a password in it replaced by
    ``***``, the user name kept (so a reader sees that one is sent). The hub keeps the URL
    whole and sends requests with it; a URL that does not parse is shown as it is."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
