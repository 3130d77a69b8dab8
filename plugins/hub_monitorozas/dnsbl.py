"""Real DNSBL look-ups: an A record under a zone means listed, NXDOMAIN means not listed,
anything else (timeout, SERVFAIL, refused) is an error for that zone."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.resolver


@dataclass
class Verdict:
    status: str  # "clean" | "listed" | "error"
    listed_on: list[str] = field(default_factory=list)
    error: str | None = None


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


async def _zone(resolver: dns.asyncresolver.Resolver, name: str) -> bool:
    try:
        await resolver.resolve(name, "A", search=False)
        return True
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False


async def look_up(
    resolver: dns.asyncresolver.Resolver, target_type: str, value: str, zones: list[str]
) -> Verdict:
    names = [query_name(target_type, value, zone) for zone in zones]
    results = await asyncio.gather(*(_zone(resolver, n) for n in names), return_exceptions=True)
    listed = [zone for zone, r in zip(zones, results, strict=True) if r is True]
    errors = [
        f"{zone}: {_describe(r)}"
        for zone, r in zip(zones, results, strict=True)
        if isinstance(r, BaseException)
    ]
    if listed:
        return Verdict("listed", listed, "; ".join(errors) or None)
    if errors or not zones:
        return Verdict("error", [], "; ".join(errors) or "no zones configured")
    return Verdict("clean")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timed out"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no name server answered (SERVFAIL or refused)"
    return str(exc) or type(exc).__name__
