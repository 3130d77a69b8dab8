"""The hub under measurement: a real ``hub serve`` in a subprocess on a data dir of its own, and
the :class:`HubHandle` through which a suite seeds it over REST."""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_processes import ROOT

if TYPE_CHECKING:
    from hub.testing.process import HubProcess


@dataclass
class HubHandle:
    """The running hub, as a suite's ``setup`` sees it."""

    url: str  # http://host:port
    grpc: str  # host:port
    admin_token: str
    process: Any  # tests.hubproc.HubProcess
    options: dict[str, Any] = field(default_factory=dict)  # e.g. {"rows": 1000}

    def creds(self, plugin: str, **params: str) -> dict[str, Any]:
        return self.process.creds(plugin, **params)  # type: ignore[no-any-return]

    def http(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


@contextlib.contextmanager
def stopped_at_exit(process: HubProcess, name: str = "the hub") -> Iterator[HubProcess]:
    """A started hub, stopped at exit; a hub that exits with an error shows its last lines."""
    try:
        yield process
    finally:
        output = process.output
        code = process.stop()
        if code not in (0, None):
            tail = "".join(output[-20:])
            print(f"warning: {name} exited with {code}:\n{tail}", file=sys.stderr)


@contextlib.contextmanager
def running_hub(data_dir: Path, options: dict[str, Any] | None = None) -> Iterator[HubHandle]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.hubproc import ADMIN_TOKEN, HubProcess

    with stopped_at_exit(HubProcess(data_dir).start()) as process:
        yield HubHandle(process.url, process.grpc, ADMIN_TOKEN, process, options or {})
