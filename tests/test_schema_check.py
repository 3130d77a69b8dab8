"""`hub schema check --against REF`: a REF whose schema and protos the current code breaks gives
one line per break and exit 1; the tree against its own HEAD gives exit 0."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.openapi import built_in_documents
from hub.schemacheck import openapi_changes
from tests.test_schema_file import built_in_plugins

ROOT = Path(__file__).resolve().parent.parent
ERA_PROTO = Path("protos/hub/era/v1/era.proto")

# What the old side had that the current code no longer has, each paired with today's text.
SDL_EDITS = [
    ("type EraExt {\n  ct: String!\n", "type EraExt {\n  ct: String!\n  legacyName: String!\n"),
    ("enum EraOrderDirection {\n  ASC\n  DESC\n}", "enum EraOrderDirection {\n  ASC\n}"),
]
PROTO_EDITS = [
    ("string lwt = 2;", "string lwt = 3;"),
    ("bool issync = 4;", "string issync = 4;"),
    (
        "  rpc List(ListRequest) returns (ListResponse);\n",
        "  rpc List(ListRequest) returns (ListResponse);\n"
        "  rpc Purge(DeleteRequest) returns (DeleteResponse);\n",
    ),
    ("message Opts {", "message Legacy {\n  string x = 1;\n}\n\nmessage Opts {"),
]
EXPECTED = {
    "BREAKING graphql: Field EraExt.legacyName was removed (FIELD_REMOVED)",
    "warning graphql: Enum value EraOrderDirection.DESC was added (VALUE_ADDED_TO_ENUM)",
    "BREAKING proto: hub.era.v1.Ext.lwt (3): renumbered 3 -> 2",
    "BREAKING proto: hub.era.v1.Opts.issync (4): type changed string -> bool",
    "BREAKING proto: hub.era.v1.OptsInput.issync (4): type changed string -> bool",
    "BREAKING proto: hub.era.v1.Era/Purge: removed",
    "BREAKING proto: hub.era.v1.Legacy: message removed",
}


def edited(text: str, edits: list[tuple[str, str]]) -> str:
    for today, before in edits:
        assert today in text, f"the fixture no longer matches the tree: {today!r}"
        text = text.replace(today, before)
    return text


def write_old_side(into: Path) -> None:
    """schema.graphql and protos/ as a release before today's breaking changes had them."""
    shutil.copytree(ROOT / "protos", into / "protos")
    (into / ERA_PROTO).write_text(edited((ROOT / ERA_PROTO).read_text(), PROTO_EDITS))
    schema = (ROOT / "schema.graphql").read_text()
    (into / "schema.graphql").write_text(edited(schema, SDL_EDITS))


def schema_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hub", "schema", "check", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def reported(done: subprocess.CompletedProcess[str]) -> set[str]:
    return {line for line in done.stdout.splitlines() if line.startswith(("BREAKING", "warning"))}


def test_breaks_against_a_directory_are_reported_with_exit_1(tmp_path: Path) -> None:
    write_old_side(tmp_path)
    done = schema_check("--against", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert reported(done) == EXPECTED
    assert "skipped openapi: " in done.stdout
    assert done.stdout.splitlines()[-1] == f"6 breaking, 1 warnings against {tmp_path}"


def test_breaks_against_a_git_ref_are_reported_with_exit_1(tmp_path: Path) -> None:
    """A repository whose previous commit has the old schema; the working tree has today's."""
    repo = tmp_path / "repo"
    write_old_side(repo)
    for pyproject in ROOT.glob("plugins/*/pyproject.toml"):  # which plugins are built in
        (repo / pyproject.relative_to(ROOT)).parent.mkdir(parents=True)
        shutil.copy(pyproject, repo / pyproject.relative_to(ROOT))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "old"], check=True)
    shutil.copy(ROOT / ERA_PROTO, repo / ERA_PROTO)
    shutil.copy(ROOT / "schema.graphql", repo / "schema.graphql")
    subprocess.run([*git, "commit", "-q", "-am", "today"], check=True)

    done = schema_check("--against", "HEAD~1", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert reported(done) == EXPECTED
    assert schema_check("--against", "HEAD", cwd=repo).returncode == 0


def test_the_tree_against_its_head_passes() -> None:
    done = schema_check("--against", "HEAD")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(line.startswith("BREAKING") for line in done.stdout.splitlines())


def test_a_ref_outside_a_git_checkout_is_one_line_and_exit_2(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    done = schema_check("--against", "HEAD", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Error: {tmp_path} is not in a git checkout: give --against a directory holding "
        "schema.graphql and protos/"
    ]
    unknown = schema_check("--against", "no-such-ref")
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip() == f"Error: no-such-ref: neither a directory nor a commit in {ROOT}"
    )


# -- OpenAPI ---------------------------------------------------------------------------------
ERA_POINTS = "/rest/v1/service/integration_points"
OPENAPI_EXPECTED = {
    "BREAKING openapi: era GET /rest/v1/legacy: removed",
    f"BREAKING openapi: era GET {ERA_POINTS}: response 418: removed",
    f"BREAKING openapi: era DELETE {ERA_POINTS}/{{id}}: path parameter id: became required",
    f"warning openapi: era LOOKUP {ERA_POINTS}: added",
}


def old_era_document(today: dict[str, Any]) -> dict[str, Any]:
    """ERA's document as a release before today's changes had it."""
    old = json.loads(json.dumps(today))
    paths = old["paths"]
    paths["/rest/v1/legacy"] = {
        "get": {"summary": "gone", "responses": {"200": {"description": "OK"}}}
    }
    assert "418" not in paths[ERA_POINTS]["get"]["responses"]
    paths[ERA_POINTS]["get"]["responses"]["418"] = {"description": "I'm a teapot"}
    assert paths[ERA_POINTS].pop("x-additionalOperations").keys() == {"LOOKUP"}
    (id_param,) = [
        p for p in paths[f"{ERA_POINTS}/{{id}}"]["delete"]["parameters"] if p["name"] == "id"
    ]
    id_param["required"] = False
    return old


def test_openapi_breaks_are_reported_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "openapi").mkdir()
    for name, doc in built_in_documents(built_in_plugins()).items():
        old = old_era_document(doc) if name == "era" else doc
        (tmp_path / "openapi" / f"{name}.json").write_text(json.dumps(old))
    done = schema_check("--against", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert reported(done) == OPENAPI_EXPECTED
    assert "skipped openapi" not in done.stdout
    assert "skipped graphql: " in done.stdout


def test_openapi_schemas_are_compared_through_refs() -> None:
    def doc(answer: dict[str, Any], param: dict[str, Any], body: dict[str, Any]) -> Any:
        operation = {
            "parameters": [param],
            "requestBody": {"content": {"application/json": {"schema": body}}},
            "responses": {"200": {"content": {"application/json": {"schema": answer}}}},
        }
        return {"paths": {"/things": {"get": operation}}, "components": {"schemas": {}}}

    old = doc(
        {"type": "object", "properties": {"id": {"type": "string"}, "gone": {"type": "string"}}},
        {"name": "q", "in": "query", "schema": {"type": "string"}},
        {"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    new = doc(
        {"$ref": "#/components/schemas/Thing"},
        {"name": "q", "in": "query", "required": True, "schema": {"type": "integer"}},
        {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "m": {"type": "string"}},
            "required": ["m"],
        },
    )
    new["components"]["schemas"] = {
        "Thing": {"type": "object", "properties": {"id": {"type": "integer"}, "new": {}}}
    }
    lines = {change.line() for change in openapi_changes({"x": old}, {"x": new})}
    assert lines == {
        "BREAKING openapi: x GET /things: query parameter q: became required",
        "BREAKING openapi: x GET /things: query parameter q: type changed string -> integer",
        "BREAKING openapi: x GET /things: request application/json.m: added (required)",
        "BREAKING openapi: x GET /things: response 200.id: type changed string -> integer",
        "BREAKING openapi: x GET /things: response 200.gone: removed",
        "warning openapi: x GET /things: response 200.new: added",
    }
    assert [change.line() for change in openapi_changes({"x": old}, {"y": old})] == [
        "BREAKING openapi: x: document removed",
        "warning openapi: y: document added",
    ]
