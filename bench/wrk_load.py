"""One slice of HTTP load with wrk, for ``bench.py``: a Lua script sets the method, headers and
body (a body with a placeholder gets a fresh value per request: a prefix unique to the slice and
wrk thread, and a counter), and reports wrk's own figures as one JSON line from ``done()``:
requests, non-2xx (wrk counts statuses above 399), socket errors, p50 and p99 latency. The
servers' CPU is read from /proc around the slice."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "WRKJSON "

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d,"p50_us":%.0f,"p99_us":%.0f}\n', "MARK", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
""".replace('"MARK"', json.dumps(MARK))

_UNIQUE = r"""
local threads, counter, prefix = 0, 0, ""
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix = (args[1] or "u") .. "-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, HEAD .. prefix .. counter .. TAIL)
end
"""


def lua_script(params: dict[str, Any]) -> str:
    """wrk's script for an HTTP request as ``bench.py`` describes it (``method``, ``path``,
    ``headers``, ``body``; ``unique``: a placeholder in the body replaced per request)."""
    lines = [
        f"wrk.method = {json.dumps(params['method'])}",
        f"wrk.path = {json.dumps(params['path'])}",
    ]
    for name, value in (params.get("headers") or {}).items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    body = params.get("body")
    unique = params.get("unique")
    if body is not None and unique:
        head, _, tail = body.partition(unique)
        lines.append(f"HEAD = {_lua_string(head)}\nTAIL = {_lua_string(tail)}")
        lines.append(_UNIQUE)
    elif body is not None:
        lines.append(f"wrk.body = {_lua_string(body)}")
    lines.append(_DONE)
    return "\n".join(lines)


def _lua_string(text: str) -> str:
    """A Lua long string holding ``text`` byte for byte (no escapes are read in one)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[\n{text}]{eq}]"  # a newline right after the opening bracket is dropped


@dataclass
class WrkSlice:
    requests: int  # answered, whatever the status
    seconds: float
    non_2xx: int  # wrk's status errors: answers with a status above 399
    socket_errors: dict[str, int]  # connect, read, write, timeout
    p50_ms: float
    p99_ms: float
    server_cpu: float | None  # CPU seconds of the server processes during the slice
    loader_cpu: float  # CPU seconds wrk used
    machine_cpu: float | None  # CPU seconds the whole machine was busy

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def ok(self) -> int:
        return max(0, self.requests - self.non_2xx)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str,
    script: Path,
    seconds: int,
    connections: int,
    cpu_of: Callable[[], float | None],
    machine_busy: Callable[[], float | None],
    script_arg: str = "",
) -> WrkSlice:
    """``seconds`` of load on ``url`` (scheme and authority; the script sets the path)."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk not found (Debian package: wrk)")
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
        "--",
        script_arg or f"s{os.getpid()}x{time.monotonic_ns()}",
    ]
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server0, machine0 = cpu_of(), machine_busy()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    server1, machine1 = cpu_of(), machine_busy()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith(MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line[len(MARK) :])
    return WrkSlice(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=figures["status"],
        socket_errors={k: figures[k] for k in ("connect", "read", "write", "timeout")},
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu=None if server0 is None or server1 is None else server1 - server0,
        loader_cpu=(children1.ru_utime + children1.ru_stime)
        - (children0.ru_utime + children0.ru_stime),
        machine_cpu=None if machine0 is None or machine1 is None else machine1 - machine0,
    )
