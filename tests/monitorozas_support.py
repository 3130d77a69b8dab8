"""What the monitorozas tests share: a small HTTP client (with a choosable source address, for
the trusted-proxy tests), and the real servers the checks run against, all on loopback in one
background thread: HTTP, HTTPS with a test CA (good, wrong-name and expired certificates), an
origin that insists on its public Host/SNI, banner servers, a server that hangs, a closed port
and a DNS server answering DNSBL queries."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PREFIX = "/monitorozas/api/v1"
ORIGIN_NAME = "www.site.test"
IP_ZONES = ("bl.test", "bl2.test")
DOMAIN_ZONES = ("dbl.test",)
LISTED_IPV6 = "2001:db8::99"
LOOPBACKS = tuple(f"127.0.0.{i}" for i in range(2, 17))
# what bl.test answers for these addresses besides the plain listing of 127.0.0.2: several
# listing codes, the refusal codes lists send to blocked or public resolvers, a non-127 answer
ANSWERS = {
    "192.0.2.12": ["127.0.0.10", "127.0.0.4"],
    "192.0.2.13": ["127.255.255.254"],
    "192.0.2.14": ["127.255.255.252"],
    "192.0.2.15": ["127.255.255.255"],
    "192.0.2.16": ["10.0.0.1"],
    "192.0.2.17": ["127.0.0.1"],
}


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def without_port(host: str) -> str:
    """A Host header's name: ``www.site.test:8443`` → ``www.site.test``."""
    return host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host


class Api:
    """``call(method, path, ...)`` → ``(status, headers, json)`` over one fresh connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)  # [::1]:8080 too

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=(source, 0) if source else None
        )
        send = dict(headers or {})
        if key is not None:
            send["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            send.setdefault("Content-Type", "application/json")
        target = (
            path
            if path.startswith("/graphql") or path.startswith("/monitorozas")
            else (PREFIX + path)
        )
        try:
            conn.request(method, target, body=data, headers=send)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        parsed = json.loads(payload) if payload else None
        return response.status, dict(response.getheaders()), parsed

    def graphql(self, query: str, key: str | None, variables: dict[str, Any] | None = None) -> Any:
        status, _, body = self.call(
            "POST", "/graphql", key, {"query": query, "variables": variables or {}}
        )
        assert status in (200, 400), body
        return body


def issue(api: Api, **params: str) -> dict[str, Any]:
    """A key through the admin's ``hubAddCredential`` (what ``hub creds add monitorozas``
    does, without starting a process per key)."""
    result = api.graphql(
        'mutation($params: [HubParamInput!]) { hubAddCredential(plugin: "monitorozas",'
        " params: $params) }",
        "test-admin-token",
        {"params": [{"key": k, "value": v} for k, v in params.items()]},
    )
    if "errors" in result:
        raise ValueError(result["errors"][0]["message"])
    return result["data"]["hubAddCredential"]  # type: ignore[no-any-return]


def wait_for(predicate: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll until ``predicate()`` is truthy (its value); fail with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{message} (last: {last!r})")


# -- certificates ------------------------------------------------------------------------------
def expired_cert(ca: trustme.CA, directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` signed by ``ca`` whose validity ended yesterday."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = directory / "expired.pem", directory / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(configure: Callable[[ssl.SSLContext], None]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    configure(ctx)
    return ctx


# -- the servers -------------------------------------------------------------------------------
class Targets:
    """Every server the check tests need, on 127.0.0.1, served by one background loop.
    ``ports[name]`` is each one's port; ``hosts_seen[name]`` the Host headers it received."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.ca_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.ports: dict[str, int] = {}
        self.hosts_seen: dict[str, list[str]] = {}
        self.listed: set[str] = set()
        self.answers: dict[str, list[str]] = {}
        self.servfail: set[str] = set()
        self.dns_queries: list[str] = []
        self._next: dict[int, int] = {}
        self.loop = asyncio.new_event_loop()
        self._hanging: list[asyncio.StreamWriter] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # the DNSBL data: 127.0.0.2 on bl.test, an IPv6 address on bl2.test, a domain on dbl.test
    def dnsbl_data(self) -> None:
        self.listed = {
            "2.0.0.127.bl.test",
            ".".join(reversed(ipaddress.ip_address(LISTED_IPV6).exploded.replace(":", "")))
            + ".bl2.test",
            "spam.example.hu.dbl.test",
        }
        self.servfail = {f"99.2.0.192.{zone}" for zone in IP_ZONES}
        self.answers = {
            ".".join(reversed(ip.split("."))) + ".bl.test": codes for ip, codes in ANSWERS.items()
        }

    def start(self) -> Targets:
        self.dnsbl_data()
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test servers did not start")
        return self

    def stop(self) -> None:
        """Ends the handlers still at work (a banner's pause) before the loop stops: none is
        left pending, to be finalised once its loop is gone."""
        asyncio.run_coroutine_threadsafe(self._end_handlers(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _end_handlers(self) -> None:
        handlers = asyncio.all_tasks() - {asyncio.current_task()}
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self._ready.set()
        self.loop.run_forever()

    async def _listen(self, name: str, handler: Any, tls: ssl.SSLContext | None = None) -> None:
        """On 127.0.0.1 and the same port of 127.0.0.2-16, so that tests can make devices
        that differ in target (the duplicate rule) yet reach the same server."""
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        await asyncio.start_server(handler, list(LOOPBACKS), port, ssl=tls)
        self.ports[name] = port
        self._next[port] = 0

    def address(self, port: int) -> str:
        """A loopback address not yet handed out for ``port``."""
        index = self._next.get(port, 0)
        self._next[port] = index + 1
        return LOOPBACKS[index % len(LOOPBACKS)]

    def _http(self, name: str, status: int | Callable[[str], int]) -> Any:
        self.hosts_seen[name] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                writer.close()
                return
            host = ""
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if line.lower().startswith("host:"):
                    host = line.split(":", 1)[1].strip()
            self.hosts_seen[name].append(host)
            code = status(host) if callable(status) else status
            writer.write(
                f"HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
            )
            try:
                await writer.drain()
            finally:
                writer.close()

        return handle

    def _banner(self, text: bytes) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(text)
            try:
                await writer.drain()
                await asyncio.sleep(0.5)
            finally:
                writer.close()

        return handle

    async def _hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._hanging.append(writer)  # accept, then say nothing, ever

    async def _serve(self) -> None:
        good = self.ca.issue_cert("localhost", "127.0.0.1")
        wrong = self.ca.issue_cert("wrong.example")
        origin = self.ca.issue_cert(ORIGIN_NAME)
        expired = expired_cert(self.ca, self.directory, "localhost")
        await self._listen("http", self._http("http", 200))
        await self._listen("http_503", self._http("http_503", 503))
        await self._listen("https", self._http("https", 200), server_context(good.configure_cert))
        await self._listen(
            "https_wrong_name",
            self._http("https_wrong_name", 200),
            server_context(wrong.configure_cert),
        )

        def load_expired(ctx: ssl.SSLContext) -> None:
            ctx.load_cert_chain(str(expired[0]), str(expired[1]))

        await self._listen(
            "https_expired", self._http("https_expired", 200), server_context(load_expired)
        )
        # the origin answers only to its public name, as a virtual host behind a CDN would
        await self._listen(
            "origin",
            self._http("origin", lambda host: 200 if without_port(host) == ORIGIN_NAME else 421),
            server_context(origin.configure_cert),
        )
        await self._listen("proxy", self._http("proxy", 200))
        if has_ipv6_loopback():
            server = await asyncio.start_server(self._http("http6", 200), "::1", 0)
            self.ports["http6"] = server.sockets[0].getsockname()[1]
        await self._listen("ssh", self._banner(b"SSH-2.0-OpenSSH_9.6 test\r\n"))
        await self._listen("smtp", self._banner(b"220 mail.test ESMTP ready\r\n"))
        await self._listen("not_ssh", self._banner(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
        await self._listen("hang", self._hang)
        with socket.socket() as sock:  # a port that nothing listens on
            sock.bind(("127.0.0.1", 0))
            self.ports["closed"] = sock.getsockname()[1]
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: DnsblServer(self), local_addr=("127.0.0.1", 0)
        )
        self.ports["dns"] = transport.get_extra_info("sockname")[1]


class DnsblServer(asyncio.DatagramProtocol):
    """A for listed names (127.0.0.2, as DNSBLs answer, or the codes of ``answers``), SERVFAIL
    for the broken ones, NXDOMAIN for everything else."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        query = dns.message.from_wire(data)
        answer = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        self.targets.dns_queries.append(name)
        if name in self.targets.listed:
            answer.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.2"))
        elif name in self.targets.answers:
            codes = self.targets.answers[name]
            answer.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", *codes))
        elif name in self.targets.servfail:
            answer.set_rcode(dns.rcode.SERVFAIL)
        else:
            answer.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(answer.to_wire(), addr)


def hub_env(targets: Targets, **extra: str) -> dict[str, str]:
    """Settings for a hub that checks these targets every second."""
    env = {
        "HUB_MONITOROZAS_INTERVAL": "1",
        "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "1",
        "HUB_MONITOROZAS_SCHEDULER_TICK": "0.1",
        "HUB_MONITOROZAS_TIMEOUT": "1.5",
        "HUB_MONITOROZAS_CA_FILE": str(targets.ca_file),
        "HUB_MONITOROZAS_RESOLVER": "127.0.0.1",
        "HUB_MONITOROZAS_RESOLVER_PORT": str(targets.ports["dns"]),
        "HUB_MONITOROZAS_IP_ZONES": ",".join(IP_ZONES),
        "HUB_MONITOROZAS_DOMAIN_ZONES": ",".join(DOMAIN_ZONES),
    }
    env.update(extra)
    return env
