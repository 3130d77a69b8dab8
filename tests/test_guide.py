"""The plugin-authoring guide works as written: the code blocks of docs/plugin-authoring.md,
taken together, are the plugin hub-todo, and that plugin installs and serves.

What a block is: every ```` ```python ````, ```` ```toml ```` and ```` ```proto ```` block has
one HTML comment on the line right before its fence (a ```` ```sh ```` block's markers are
tests/test_docs_examples.py's business, and may stand on the lines above this one):

- ``<!-- file: PATH -->``: the file PATH of the plugin's project, or its first part;
- ``<!-- file: PATH (continued) -->``: the next part of PATH, appended (after two blank lines
  in a Python file, one elsewhere), as a reader adds to the file they are writing;
- ``<!-- excerpt: PATH -->``: lines repeated, verbatim, from PATH, which is a file of the
  plugin or a file of this repository (``examples/hub-notes/...``); a line ``...`` skips lines.
  Excerpts are checked here, never written;
- ``<!-- not a file: WHY -->``: a signature or a sketch that belongs to no file.

How the plugin is built, without the network and without touching the test venv's installs:
the files go into a temporary project; ``hub protogen PROJECT`` writes the gRPC stubs (as the
guide says to); then the test venv's own pip installs the project, non-editable, with
``--no-deps --no-build-isolation --target DIR``: the host and setuptools are already in the
venv, so nothing is fetched, and nothing is written outside DIR. The hub process sees the
plugin because ``PYTHONPATH=DIR`` puts the package and its ``.dist-info`` (the entry point in
the group ``hub``) on its path: a target directory rather than a second venv, because it needs
no venv creation and tests.hubproc.HubProcess runs the test venv's interpreter. The guide's
plugin is named ``todo``, so it never clashes with the installed example ``notes``;
``HUB_PLUGINS=todo`` only spares the served hub the built-in plugins.

What is served: a real hub (tests.hubproc.HubProcess) with a token from ``hub creds add todo``;
an item is created and the list read over REST, GraphQL and gRPC (found through reflection),
each protocol seeing the items the others created. A ```` ```sh ```` block marked
``<!-- not run: ... tests/test_guide.py runs it -->`` (one that needs the plugin installed) is
run here with the plugin on the path, honouring a ``<!-- fails with: TEXT -->`` above it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.markdown_blocks import FAILS_WITH, NOT_RUN, ROOT, Block, fenced_blocks

GUIDE = "docs/plugin-authoring.md"
CODE = {"python", "toml", "proto"}
MARKER = re.compile(r"^<!--\s*(file|excerpt|not a file):\s*(.*?)\s*-->$")
CONTINUED = " (continued)"
RUN_HERE = "tests/test_guide.py runs it"
PLUGIN = "todo"
SERVICE = "hub.todo.v1.Todo"


def guide_blocks() -> list[Block]:
    return fenced_blocks(GUIDE)


def project_files(blocks: list[Block]) -> tuple[dict[str, str], list[tuple[Block, str]]]:
    """The plugin's files from the file blocks, and the excerpts to check (block, path)."""
    files: dict[str, str] = {}
    excerpts = []
    for block in blocks:
        if block.language not in CODE:
            continue
        marker = MARKER.match(block.before[-1]) if block.before else None
        assert marker, (
            f"{block.where}: a ```{block.language} block needs <!-- file: PATH -->, "
            "<!-- file: PATH (continued) -->, <!-- excerpt: PATH --> or <!-- not a file: WHY -->"
        )
        kind, value = marker.groups()
        assert value, f"{block.where}: the marker names no path or reason"
        if kind == "excerpt":
            excerpts.append((block, value))
        elif kind == "file" and value.endswith(CONTINUED):
            path = value.removesuffix(CONTINUED)
            assert path in files, f"{block.where}: continues {path}, which no block started"
            gap = "\n\n" if path.endswith(".py") else "\n"
            files[path] += gap + block.text
        elif kind == "file":
            assert value not in files, f"{block.where}: {value} starts twice (say continued)"
            files[value] = block.text
    return files, excerpts


def check_excerpt(block: Block, path: str, files: dict[str, str]) -> None:
    """Each run of lines between ``...`` lines stands in the file, in order."""
    if path in files:
        source = files[path]
    else:
        assert (ROOT / path).is_file(), f"{block.where}: excerpt of {path}, which does not exist"
        source = (ROOT / path).read_text(encoding="utf-8")
    chunks = re.split(r"^[ \t]*\.\.\.[ \t]*\n", block.text, flags=re.M)
    position = 0
    for chunk in filter(None, chunks):
        found = source.find(chunk, position)
        assert found >= 0, f"{block.where}: not verbatim in {path}:\n{chunk}"
        position = found + len(chunk)


@pytest.fixture(scope="module")
def guide() -> tuple[dict[str, str], list[Block]]:
    blocks = guide_blocks()
    files, _ = project_files(blocks)
    return files, blocks


@pytest.fixture(scope="module")
def project(
    guide: tuple[dict[str, str], list[Block]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The guide's project written out, with the stubs ``hub protogen`` generates."""
    files, _ = guide
    project = tmp_path_factory.mktemp("hub-todo")
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    run([sys.executable, "-m", "hub.cli", "protogen", str(project)])
    return project


@pytest.fixture(scope="module")
def installed(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project installed into a target directory; returns it (for PYTHONPATH)."""
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    run([*pip, "--no-index", "--target", str(target), str(project)], cwd=project)
    return target


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def plugin_env(target: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "HUB_PLUGINS": PLUGIN}


@pytest.fixture(scope="module")
def hub(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("data"), env=plugin_env(installed)).start()
    yield process
    process.stop()


def test_the_guide_is_one_complete_plugin(guide: tuple[dict[str, str], list[Block]]) -> None:
    files, _ = guide
    assert {
        "pyproject.toml",
        "protos/hub/todo/v1/todo.proto",
        "hub_todo/__init__.py",
        "hub_todo/plugin.py",
        "hub_todo/service.py",
        "hub_todo/rest.py",
        "hub_todo/graphql.py",
        "hub_todo/grpc.py",
    } <= set(files)
    assert 'dependencies = ["hub-gateway"]' in files["pyproject.toml"]
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")  # a clear failure naming the file before any install


def test_mypy_checks_the_plugin_against_the_host(project: Path) -> None:
    """The guide's code is typed against the host's own annotations (``hub: HubApi``, the
    hooks' ``register`` callables); the host's modules are read from this checkout, not
    reported on (``--follow-imports=silent``), and the generated stubs are not checked."""
    run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--python-version=3.11",
            "--ignore-missing-imports",
            "--follow-imports=silent",
            "--warn-unused-ignores",
            "--exclude=_pb2",
            "hub_todo",
        ],
        cwd=project,
        env={**os.environ, "MYPYPATH": str(ROOT)},
    )


def test_excerpts_are_verbatim() -> None:
    blocks = guide_blocks()
    files, excerpts = project_files(blocks)
    assert excerpts, "the guide discusses lines of its files in excerpts"
    for block, path in excerpts:
        check_excerpt(block, path, files)


def http(hub: HubProcess, method: str, path: str, token: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        hub.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_rest_graphql_and_grpc_serve_the_same_items(hub: HubProcess) -> None:
    token = hub.creds(PLUGIN)["token"]

    created = http(hub, "POST", "/todo/api/items", token, {"title": "buy milk"})
    assert created["title"] == "buy milk" and created["done"] is False

    mutation = 'mutation { todoCreateItem(input: {title: "call Bob", done: true}) { id done } }'
    result = http(hub, "POST", "/graphql", token, {"query": mutation})
    assert "errors" not in result, result
    assert result["data"]["todoCreateItem"]["done"] is True

    with grpc.insecure_channel(hub.grpc) as channel:
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service = pool.FindServiceByName(SERVICE)
        metadata = (("authorization", f"Bearer {token}"),)

        def call(method: str, **fields: Any) -> Any:
            descriptor = service.FindMethodByName(method)
            request_class = GetMessageClass(descriptor.input_type)
            response_class = GetMessageClass(descriptor.output_type)
            stub = channel.unary_unary(
                f"/{SERVICE}/{method}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            return stub(request_class(**fields), metadata=metadata, timeout=30)

        item = call("CreateItem", title="water plants")
        assert item.title == "water plants" and not item.done
        listed = call("ListItems", limit=10)
        assert [i.title for i in listed.items] == ["buy milk", "call Bob", "water plants"]
        assert listed.total_count == 3

    titles = ["buy milk", "call Bob", "water plants"]
    listing = http(hub, "GET", "/todo/api/items?limit=10", token)
    assert [i["title"] for i in listing["items"]] == titles and listing["total"] == 3
    query = "{ todo { items(first: 10) { totalCount nodes { title done } } } }"
    result = http(hub, "POST", "/graphql", token, {"query": query})
    assert "errors" not in result, result
    items = result["data"]["todo"]["items"]
    assert [n["title"] for n in items["nodes"]] == titles and items["totalCount"] == 3


def test_the_admin_token_reads_and_a_missing_token_is_refused(hub: HubProcess) -> None:
    assert http(hub, "GET", "/todo/api/items", ADMIN_TOKEN)["total"] >= 0
    request = urllib.request.Request(hub.url + "/todo/api/items")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"] == "unauthorized"


def test_shell_examples_that_need_the_plugin(
    installed: Path, guide: tuple[dict[str, str], list[Block]], tmp_path: Path
) -> None:
    """Run as a reader would, in one directory whose ``hub-data`` a hub of its own serves; the
    documented port 8080 is that hub's, and curl fails on an HTTP error status."""
    _, blocks = guide
    ours = [
        b
        for b in blocks
        if b.language == "sh"
        and any((m := NOT_RUN.match(line)) and RUN_HERE in m.group(1) for line in b.before)
    ]
    assert ours, f"the guide has a shell example marked '{RUN_HERE}'"
    shims = tmp_path / ".shims"
    shims.mkdir()
    (shims / "curl").write_text(f'#!/bin/sh\nexec {shutil.which("curl")} --fail-with-body "$@"\n')
    (shims / "curl").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= plugin_env(installed)
    env["PATH"] = os.pathsep.join([str(shims), str(Path(sys.prefix) / "bin"), env["PATH"]])
    # SQLite, as the guide's own `hub` commands (no HUB_* in their environment) use
    hub = HubProcess(tmp_path / "hub-data", env={**plugin_env(installed), "HUB_DATABASE_URL": ""})
    hub.start()
    port = hub.http.rsplit(":", 1)[1]
    try:
        for block in ours:
            fails = next((m.group(1) for x in block.before if (m := FAILS_WITH.match(x))), None)
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", re.sub(r"\b8080\b", port, block.text)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            output = result.stdout + result.stderr
            if fails is None:
                assert result.returncode == 0, f"{block.where}:\n{output}"
            else:
                assert result.returncode != 0 and fails in output, f"{block.where}:\n{output}"
    finally:
        hub.stop()
