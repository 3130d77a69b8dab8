"""The caller's address, read one way for every protocol: the TCP peer of an aiohttp request
(REST, GraphQL over HTTP and websockets) or of a gRPC call, and the ``X-Forwarded-For`` chain,
which counts only when the peer is a proxy the plugin trusts. Addresses come back as
:mod:`ipaddress` objects (an IPv4-mapped IPv6 address as its IPv4 one, without a zone), or
``None`` when the peer is not an IP endpoint (a Unix socket) or the entry is not an address."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = "x-forwarded-for"
Metadata = tuple[tuple[str, Any], ...]
_CALL_METADATA: ContextVar[tuple[Any, Metadata] | None] = ContextVar(
    "hub_grpc_metadata", default=None
)


def invocation_metadata(context: Any) -> Metadata:
    """A gRPC call's metadata, converted once per call: grpc.aio converts it from its C form on
    every ``context.invocation_metadata()``, and the request id, the credential and the peer
    each read it. (Each call runs in a task of its own, so the one kept is never another's.)"""
    kept = _CALL_METADATA.get()
    if kept is not None and kept[0] is context:
        return kept[1]
    metadata = tuple(context.invocation_metadata() or ())
    _CALL_METADATA.set((context, metadata))
    return metadata


@functools.lru_cache(maxsize=4096)  # every request reads its peer; clients come back
def parse_address(text: str | None) -> Address | None:
    """``127.0.0.1``, ``::1``, ``[::1]``, ``fe80::1%eth0``, ``::ffff:10.0.0.1`` (as
    ``10.0.0.1``); anything else is ``None``."""
    raw = (text or "").strip()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    try:
        address = ipaddress.ip_address(raw.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_grpc_peer(peer: str | None) -> Address | None:
    """gRPC's ``context.peer()``: ``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000`` and its
    URL-encoded form ``ipv6:%5B::1%5D:5000``; ``unix:...`` and the unknown are ``None``."""
    kind, _, rest = unquote(peer or "").partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return parse_address(rest[1 : rest.find("]")] if "]" in rest else "")
    if kind == "ipv4":
        host, sep, port = rest.rpartition(":")
        return parse_address(host if sep and port.isdigit() else rest)
    return None  # unix:, and an unbracketed ipv6 (ambiguous: is the last part the port?)


def parse_networks(items: Iterable[str]) -> list[Network]:
    """CIDRs or single addresses (a trusted-proxy list); raises ``ValueError`` on a bad one. An
    IPv4-mapped one (``::ffff:10.0.0.0/104``, as a dual-stack socket shows IPv4 peers) is its
    IPv4 network, as peers are read as their IPv4 address."""
    return [_unmapped(ipaddress.ip_network(item.strip(), strict=False)) for item in items]


def _unmapped(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        first = network.network_address.ipv4_mapped
        assert first is not None  # every address of ::ffff:0:0/96 is a mapped one
        return ipaddress.IPv4Network((first, network.prefixlen - 96))
    return network


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class Peer:
    """Where a request came from: the TCP peer and the ``X-Forwarded-For`` values it sent.
    Made from a request or a call, it reads them only when asked (``address``,
    ``forwarded_for``): most requests never ask, and parsing a gRPC peer costs a few µs."""

    __slots__ = ("_address", "_forwarded_for", "_read")

    def __init__(
        self,
        address: Address | None = None,
        forwarded_for: tuple[str, ...] = (),
        *,
        read: Callable[[], tuple[Address | None, tuple[str, ...]]] | None = None,
    ) -> None:
        self._address, self._forwarded_for, self._read = address, tuple(forwarded_for), read

    def _resolved(self) -> None:
        if self._read is not None:
            self._address, self._forwarded_for = self._read()
            self._read = None

    @property
    def address(self) -> Address | None:
        self._resolved()
        return self._address

    @property
    def forwarded_for(self) -> tuple[str, ...]:
        self._resolved()
        return self._forwarded_for

    def __repr__(self) -> str:
        return f"Peer({self.address!r}, {self.forwarded_for!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Peer):
            return NotImplemented
        return (self.address, self.forwarded_for) == (other.address, other.forwarded_for)

    def __hash__(self) -> int:
        return hash((self.address, self.forwarded_for))

    @classmethod
    def of_request(cls, request: Any) -> Peer:
        """An aiohttp request (``None``, for a caller with no HTTP request, has no address)."""
        if request is None:
            return cls(None)

        def read() -> tuple[Address | None, tuple[str, ...]]:
            forwarded = tuple(request.headers.getall("X-Forwarded-For", ()))
            return parse_address(request.remote), forwarded

        return cls(read=read)

    @classmethod
    def of_grpc(cls, context: Any) -> Peer:
        """A ``grpc.aio.ServicerContext``; forwarded hops come from ``x-forwarded-for``. The
        metadata is taken now (the call's own, whichever task asks later)."""
        metadata = invocation_metadata(context)

        def read() -> tuple[Address | None, tuple[str, ...]]:
            forwarded = tuple(
                value if isinstance(value, str) else value.decode("latin-1")
                for key, value in metadata
                if key.lower() == FORWARDED_FOR
            )
            return parse_grpc_peer(context.peer()), forwarded

        return cls(read=read)

    def client(self, trusted_proxies: Sequence[Network] = ()) -> Address | None:
        """The peer, or, when the peer is a trusted proxy, the first ``X-Forwarded-For`` hop
        from the right that is not one (``None`` if that hop is not an address)."""
        address = self.address

        def trusted(candidate: Address | None) -> bool:
            return candidate is not None and any(candidate in net for net in trusted_proxies)

        if not trusted(address):
            return address
        hops = [hop for value in self.forwarded_for for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = parse_address(hop)
            if not trusted(address):
                return address
        return address
