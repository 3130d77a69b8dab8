"""What a deep page costs against the first one: ``era``'s ``integrationPoints`` over GraphQL.

Run ``python bench/paging_bench.py`` (``--help`` for the options). One run:

1. starts a real hub (``tests.hubproc.HubProcess``) with only ``era`` loaded on a temporary data
   dir and creates ``--rows`` integration points over REST (``--concurrency`` at a time);
2. for each order (creation order, and ``code`` descending, an order by a field with no index),
   walks every page of ``--page`` rows by the cursors the hub answers, checking that the walk
   sees every row once, and keeps the cursor that opens the last page;
3. asks for the first and the last page ``--repeat`` times each, alternating, on one keep-alive
   connection, and prints the median latency of each and their ratio: the last page asked with
   the hub's keyset cursor, and (for comparison) with an offset cursor to the same row, which
   is how every page was read before lists could seek.

One client, one request at a time: the figure is the latency of a page, not throughput. The
client shares the machine with the hub, so figures vary; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.paging import offset_cursor  # noqa: E402
from tests.hubproc import HubProcess  # noqa: E402

PATH = "/era/rest/v1/service/integration_points"
QUERY = """
query($first: Int, $after: String, $order: [EraOrderInput!]) {
  era { integrationPoints(first: $first, after: $after, order: $order) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id code type tokenLocal tokenRemote tokenRemote2 url
      recvSvcscriptcode recvSvcscriptcodeWs sendSvcscriptcode sendSvcscriptcodeWs
      opts { title comment allowFilesApi issync } ext { ct lwt }
    } }
  } }
}"""
ORDERS: dict[str, list[dict[str, str]] | None] = {
    "creation order": None,
    "order: code DESC": [{"field": "code", "direction": "DESC"}],
}


async def seed(session: aiohttp.ClientSession, token: str, rows: int, concurrency: int) -> None:
    numbers = iter(range(rows))
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        for i in numbers:
            body = {
                "code": f"PAGE-{i:06d}",
                "type": ("webshop", "pos", "erp", "crm")[i % 4],
                "url": f"https://shop{i}.example.hu/era/api/v2/callback",
                "opts": {"title": f"Csatorna #{i}", "issync": i % 2 == 1},
            }
            async with session.post(PATH, json=body, headers=headers) as reply:
                if reply.status != 200:
                    raise SystemExit(f"creating row {i}: {reply.status} {await reply.text()}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def page(
    session: aiohttp.ClientSession, token: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    async with session.post(
        "/graphql",
        json={"query": QUERY, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    ) as reply:
        result = await reply.json()
    elapsed = time.perf_counter() - started
    if "errors" in result:
        raise SystemExit(f"GraphQL errors: {result['errors']}")
    return result["data"]["era"]["integrationPoints"], elapsed


async def last_page_cursor(
    session: aiohttp.ClientSession, token: str, order: Any, size: int, rows: int
) -> str:
    """Walks every page; the cursor that opens the last one."""
    seen: set[str] = set()
    after, opening = None, None
    while True:
        connection, _ = await page(session, token, {"first": size, "after": after, "order": order})
        ids = [edge["node"]["id"] for edge in connection["edges"]]
        if seen.intersection(ids):
            raise SystemExit("the walk answered a row twice")
        seen.update(ids)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        opening = after = connection["pageInfo"]["endCursor"]
    if len(seen) != rows or opening is None:
        raise SystemExit(f"the walk saw {len(seen)} of {rows} rows")
    return opening


async def median_latency(
    session: aiohttp.ClientSession, token: str, variants: list[dict[str, Any]], repeat: int
) -> list[float]:
    """Each variant's median latency over ``repeat`` requests, asked in turn (ABCABC...)."""
    times: list[list[float]] = [[] for _ in variants]
    for _ in range(repeat):
        for i, variables in enumerate(variants):
            times[i].append((await page(session, token, variables))[1])
    return [statistics.median(t) for t in times]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"rows": args.rows, "page": args.page, "orders": {}}
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp) / "data", env={"HUB_PLUGINS": "era"}).start()
        try:
            token = hub.creds("era")["token"]
            async with aiohttp.ClientSession(base_url=hub.url) as session:
                await seed(session, token, args.rows, args.concurrency)
                last_offset = args.rows - (args.rows - 1) % args.page - 1  # of the last page
                for name, order in ORDERS.items():
                    keyset = await last_page_cursor(session, token, order, args.page, args.rows)
                    base = {"first": args.page, "order": order}
                    first, last, by_offset = await median_latency(
                        session,
                        token,
                        [
                            base,
                            {**base, "after": keyset},
                            {**base, "after": offset_cursor(last_offset - 1)},
                        ],
                        args.repeat,
                    )
                    report["orders"][name] = {
                        "first_ms": first * 1000,
                        "last_ms": last * 1000,
                        "last_by_offset_ms": by_offset * 1000,
                        "ratio": last / first,
                        "ratio_by_offset": by_offset / first,
                    }
        finally:
            hub.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=100, help="rows per page (first)")
    parser.add_argument("--repeat", type=int, default=40, help="requests per page measured")
    parser.add_argument("--concurrency", type=int, default=16, help="for creating the rows")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.rows <= args.page:
        parser.error("--rows must exceed --page, or there is no last page to compare")
    report = asyncio.run(run(args))
    print(f"era integrationPoints over GraphQL, {args.rows} rows, pages of {args.page}:")
    for name, row in report["orders"].items():
        print(
            f"  {name:<18} first {row['first_ms']:7.2f} ms  last {row['last_ms']:7.2f} ms"
            f"  last/first {row['ratio']:5.2f}x   (offset cursor: last"
            f" {row['last_by_offset_ms']:7.2f} ms, {row['ratio_by_offset']:5.2f}x)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
