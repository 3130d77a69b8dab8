"""Real DNSBL look-ups. Under each zone, NXDOMAIN (or no A record) means not listed; A records
that are all listing codes (127.0.0.2-127.255.255.251) mean listed, and the codes are kept, since
they say which list or why; anything else is an error for that zone: a refusal code (127.0.0.1,
127.255.255.252-255, which lists answer a blocked, public or over-quota resolver or a misspelt
zone), an address outside 127.0.0.0/8, a timeout, SERVFAIL or a refused query."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.resolver

LISTING_CODES = (ipaddress.IPv4Address("127.0.0.2"), ipaddress.IPv4Address("127.255.255.251"))
REFUSALS = {
    "127.0.0.1": "query refused: blocked resolver",
    "127.255.255.252": "query refused: typing error in the zone name",
    "127.255.255.253": "query refused",
    "127.255.255.254": "query refused: public or open resolver",
    "127.255.255.255": "query refused: excessive number of queries",
}


class Unusable(Exception):
    """The zone answered, but not with listing codes."""


@dataclass
class Verdict:
    status: str  # "clean" | "listed" | "error"
    listed_on: list[str] = field(default_factory=list)
    error: str | None = None
    listings: list[dict[str, object]] = field(default_factory=list)  # {"zone", "codes"}


def listing_codes(answers: list[str]) -> list[str]:
    """The A records of one zone, if every one is a listing code; else :class:`Unusable`
    naming the first that is not."""
    for text in answers:
        if text in REFUSALS:
            raise Unusable(f"{REFUSALS[text]} ({text})")
        address = ipaddress.IPv4Address(text)
        if not LISTING_CODES[0] <= address <= LISTING_CODES[1]:
            raise Unusable(f"answered {text}, not a listing code (127.0.0.2-127.255.255.251)")
    return sorted(set(answers), key=ipaddress.IPv4Address)


def query_name(target_type: str, value: str, zone: str) -> str:
    """``d.c.b.a.<zone>`` for IPv4, reversed nibbles for IPv6, ``<domain>.<zone>`` else."""
    if target_type == "ip":
        address = ipaddress.ip_address(value)
        if address.version == 4:
            reversed_ip = ".".join(reversed(str(address).split(".")))
        else:
            reversed_ip = ".".join(reversed(address.exploded.replace(":", "")))
        return f"{reversed_ip}.{zone}"
    return f"{value}.{zone}"


def make_resolver(address: str, port: int, timeout: float) -> dns.asyncresolver.Resolver:
    if address:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [address]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None  # a listing can change between two rounds
    return resolver


async def _zone(resolver: dns.asyncresolver.Resolver, name: str) -> list[str]:
    """The listing codes of ``name`` (empty: not listed)."""
    try:
        answer = await resolver.resolve(name, "A", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return listing_codes([record.address for record in answer])


async def look_up(
    resolver: dns.asyncresolver.Resolver, target_type: str, value: str, zones: list[str]
) -> Verdict:
    names = [query_name(target_type, value, zone) for zone in zones]
    results = await asyncio.gather(*(_zone(resolver, n) for n in names), return_exceptions=True)
    listings: list[dict[str, object]] = [
        {"zone": zone, "codes": r}
        for zone, r in zip(zones, results, strict=True)
        if isinstance(r, list) and r
    ]
    errors = [
        f"{zone}: {_describe(r)}"
        for zone, r in zip(zones, results, strict=True)
        if isinstance(r, BaseException)
    ]
    if listings:
        listed = [str(item["zone"]) for item in listings]
        return Verdict("listed", listed, "; ".join(errors) or None, listings)
    if errors or not zones:
        return Verdict("error", [], "; ".join(errors) or "no zones configured")
    return Verdict("clean")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Unusable):
        return str(exc)
    if isinstance(exc, dns.exception.Timeout):
        return "timed out"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no name server answered (SERVFAIL or refused)"
    return str(exc) or type(exc).__name__
