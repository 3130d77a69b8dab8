"""``hub schema check --against REF``: what the current code breaks for clients written against
REF (a git ref, or a directory holding ``schema.graphql``, ``protos/`` and ``openapi/``).

GraphQL goes through graphql-core's ``find_breaking_changes``/``find_dangerous_changes``; protos
are compiled by protoc on both sides and their descriptors compared, so the comparison sees what
protoc sees (imports, nested messages, packages) rather than a text diff. OpenAPI documents are
compared operation by operation, with ``$ref``s followed, against the documents the code makes
(not the working tree's ``openapi/`` files, which may be stale)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
from google.protobuf.descriptor_pb2 import (
    DescriptorProto,
    EnumDescriptorProto,
    FieldDescriptorProto,
    FileDescriptorProto,
    FileDescriptorSet,
    MethodDescriptorProto,
    ServiceDescriptorProto,
)
from grpc_tools import protoc

from hub.openapi import built_in_documents


class SchemaCheckError(Exception):
    """The comparison could not be made (no git checkout, unknown ref, a proto protoc refuses)."""


@dataclass(frozen=True)
class Change:
    surface: str  # graphql, proto, openapi
    message: str
    breaking: bool = True

    def line(self) -> str:
        return f"{'BREAKING' if self.breaking else 'warning'} {self.surface}: {self.message}"


# -- the two sides ---------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SchemaCheckError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def materialize(project: Path, against: str, into: Path) -> Path:
    """The directory holding REF's ``schema.graphql`` and ``protos/``: ``against`` itself when it
    is a directory, else those files written out of the git ref into ``into``."""
    if Path(against).is_dir():
        return Path(against)
    try:
        root = Path(_git(project, "rev-parse", "--show-toplevel").strip())
    except (SchemaCheckError, FileNotFoundError):
        raise SchemaCheckError(
            f"{project.resolve()} is not in a git checkout: give --against a directory holding "
            "schema.graphql and protos/"
        ) from None
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{against}^{{commit}}").strip()
    except SchemaCheckError:
        raise SchemaCheckError(f"{against}: neither a directory nor a commit in {root}") from None
    listed = _git(root, "ls-tree", "-r", "-z", "--name-only", commit, "--", "schema.graphql")
    wanted = [p for p in listed.split("\0") if p]
    listed = _git(root, "ls-tree", "-r", "-z", "--name-only", commit, "--", "protos")
    wanted += [p for p in listed.split("\0") if p.endswith(".proto")]
    listed = _git(root, "ls-tree", "-z", "--name-only", commit, "--", "openapi/")
    wanted += [p for p in listed.split("\0") if p.endswith(".json")]
    for name in wanted:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_git(root, "show", f"{commit}:{name}"))
    return into


def _built_in_plugins(project: Path) -> list[str]:
    """The entry-point names of the distributions under ``project/plugins/``."""
    names: list[str] = []
    for pyproject in sorted((project / "plugins").glob("*/pyproject.toml")):
        config = tomllib.loads(pyproject.read_text())
        names += config.get("project", {}).get("entry-points", {}).get("hub", {})
    if not names:
        raise SchemaCheckError(f"{project.resolve()}: no plugin distributions under plugins/")
    return sorted(names)


def current_sdl(project: Path) -> str:
    """The SDL the code builds for the built-in plugins, as ``make schema`` writes it."""
    from hub.app import Hub
    from hub.config import Settings
    from hub.graphql.schema import build_schema

    env = {"HUB_PLUGINS": ",".join(_built_in_plugins(project))}
    with tempfile.TemporaryDirectory() as data_dir:
        hub = Hub(Settings(data_dir=data_dir), env=env)
        try:
            return str(build_schema(hub.graphql_parts).as_str())
        finally:
            hub.close()


# -- GraphQL ---------------------------------------------------------------------------------


def graphql_changes(old_sdl: str, new_sdl: str) -> list[Change]:
    old, new = graphql.build_schema(old_sdl), graphql.build_schema(new_sdl)
    changes = [
        Change("graphql", f"{c.description.rstrip('.')} ({c.type.name})")
        for c in graphql.find_breaking_changes(old, new)
    ]
    changes += [
        Change("graphql", f"{c.description.rstrip('.')} ({c.type.name})", breaking=False)
        for c in graphql.find_dangerous_changes(old, new)
    ]
    return changes


# -- protos ----------------------------------------------------------------------------------


def compile_protos(protos: Path, out: Path) -> list[FileDescriptorProto]:
    """The descriptors of every ``.proto`` under ``protos`` (imports are compiled but left out:
    a well-known type one side imports and the other does not is no change)."""
    names = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    if not names:
        return []
    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{protos}", f"-I{include}", f"--descriptor_set_out={out}"]
    if protoc.main([*args, "--include_imports", *names]) != 0:
        raise SchemaCheckError(f"protoc refused the protos under {protos} (its message is above)")
    files = FileDescriptorSet.FromString(out.read_bytes()).file
    return [f for f in files if f.name in names]


@dataclass
class ProtoIndex:
    """A side's messages, enums and services by fully qualified name."""

    messages: dict[str, DescriptorProto]
    enums: dict[str, EnumDescriptorProto]
    services: dict[str, ServiceDescriptorProto]

    @classmethod
    def of(cls, files: list[FileDescriptorProto]) -> ProtoIndex:
        index = cls({}, {}, {})
        for file in files:
            prefix = f"{file.package}." if file.package else ""
            index._add(prefix, file.message_type, file.enum_type)
            index.services |= {prefix + s.name: s for s in file.service}
        return index

    def _add(
        self,
        prefix: str,
        messages: Iterable[DescriptorProto],
        enums: Iterable[EnumDescriptorProto],
    ) -> None:
        self.enums |= {prefix + e.name: e for e in enums}
        for message in messages:
            self.messages[prefix + message.name] = message
            self._add(f"{prefix}{message.name}.", message.nested_type, message.enum_type)


def _field_type(field: FieldDescriptorProto) -> str:
    if field.type_name:
        return field.type_name.lstrip(".")
    return FieldDescriptorProto.Type.Name(field.type).removeprefix("TYPE_").lower()


def _label(field: FieldDescriptorProto) -> str:
    return FieldDescriptorProto.Label.Name(field.label).removeprefix("LABEL_").lower()


def _same_field(where: str, old: FieldDescriptorProto, new: FieldDescriptorProto) -> list[Change]:
    changes = []
    if _field_type(old) != _field_type(new):
        changes.append(
            Change("proto", f"{where}: type changed {_field_type(old)} -> {_field_type(new)}")
        )
    if _label(old) != _label(new):
        changes.append(Change("proto", f"{where}: label changed {_label(old)} -> {_label(new)}"))
    return changes


def _message_changes(name: str, old: DescriptorProto, new: DescriptorProto) -> list[Change]:
    by_name = {f.name: f for f in new.field}
    by_number = {f.number: f for f in new.field}
    old_names = {f.name for f in old.field}
    changes: list[Change] = []
    for field in old.field:
        where = f"{name}.{field.name} ({field.number})"
        match = by_name.get(field.name)
        if match is not None and match.number != field.number:
            changes.append(Change("proto", f"{where}: renumbered {field.number} -> {match.number}"))
        elif match is not None:
            changes += _same_field(where, field, match)
        elif field.number in by_number and by_number[field.number].name not in old_names:
            renamed = by_number[field.number]
            changes.append(Change("proto", f"{where}: renamed to {renamed.name}", breaking=False))
            changes += _same_field(where, field, renamed)
        else:
            changes.append(Change("proto", f"{where}: removed"))
    return changes


def _enum_changes(name: str, old: EnumDescriptorProto, new: EnumDescriptorProto) -> list[Change]:
    numbers = {v.name: v.number for v in new.value}
    changes = []
    for value in old.value:
        if value.name not in numbers:
            changes.append(Change("proto", f"{name}.{value.name} ({value.number}): removed"))
        elif numbers[value.name] != value.number:
            changes.append(
                Change(
                    "proto",
                    f"{name}.{value.name}: renumbered {value.number} -> {numbers[value.name]}",
                )
            )
    return changes


def _shape(method: MethodDescriptorProto) -> str:
    def one(type_name: str, streaming: bool) -> str:
        return f"{'stream ' if streaming else ''}{type_name.lstrip('.')}"

    return (
        f"({one(method.input_type, method.client_streaming)}) returns "
        f"({one(method.output_type, method.server_streaming)})"
    )


def _service_changes(
    name: str,
    old: ServiceDescriptorProto,
    new: ServiceDescriptorProto,
) -> list[Change]:
    methods = {m.name: m for m in new.method}
    changes = []
    for method in old.method:
        match = methods.get(method.name)
        if match is None:
            changes.append(Change("proto", f"{name}/{method.name}: removed"))
        elif _shape(match) != _shape(method):
            changes.append(
                Change("proto", f"{name}/{method.name}: {_shape(method)} -> {_shape(match)}")
            )
    return changes


def proto_changes(old: ProtoIndex, new: ProtoIndex) -> list[Change]:
    changes: list[Change] = []
    for name, message in old.messages.items():
        if name not in new.messages:
            changes.append(Change("proto", f"{name}: message removed"))
        else:
            changes += _message_changes(name, message, new.messages[name])
    for name, enum in old.enums.items():
        if name not in new.enums:
            changes.append(Change("proto", f"{name}: enum removed"))
        else:
            changes += _enum_changes(name, enum, new.enums[name])
    for name, service in old.services.items():
        if name not in new.services:
            changes.append(Change("proto", f"{name}: service removed"))
        else:
            changes += _service_changes(name, service, new.services[name])
    return changes


# -- OpenAPI ---------------------------------------------------------------------------------

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A path item's operations by upper-case method, ERA's ``LOOKUP`` (an additional one)
    included."""
    found = {m.upper(): item[m] for m in HTTP_METHODS if isinstance(item.get(m), dict)}
    found |= dict(item.get("x-additionalOperations", {}))
    return found


class _Document:
    """One side's document, its ``$ref``s followed."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen: set[str] = set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if ref in seen or not ref.startswith("#/"):
                return {}
            seen.add(ref)
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
        return schema if isinstance(schema, dict) else {}


def _types(schema: dict[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return frozenset(declared)
    return frozenset([declared]) if isinstance(declared, str) else frozenset()


@dataclass
class _Comparison:
    """Compares the schemas of one operation; ``response``: what the server sends (a removed
    property breaks readers), else what clients send (a new required property breaks writers)."""

    old: _Document
    new: _Document
    where: str
    changes: list[Change]

    def note(self, message: str, breaking: bool = True) -> None:
        self.changes.append(Change("openapi", f"{self.where}: {message}", breaking))

    def schemas(self, at: str, old: Any, new: Any, response: bool, depth: int = 0) -> None:
        old_schema, new_schema = self.old.resolve(old), self.new.resolve(new)
        old_types, new_types = _types(old_schema), _types(new_schema)
        if old_types and new_types and old_types != new_types:
            shown = "|".join(sorted(old_types)), "|".join(sorted(new_types))
            self.note(f"{at}: type changed {shown[0]} -> {shown[1]}")
            return
        if depth > 20:  # a record that contains itself: the first levels tell
            return
        if "items" in old_schema and "items" in new_schema:
            self.schemas(f"{at}[]", old_schema["items"], new_schema["items"], response, depth + 1)
        old_props = old_schema.get("properties", {})
        new_props = new_schema.get("properties", {})
        required = set(new_schema.get("required", [])) - set(old_schema.get("required", []))
        for name, schema in old_props.items():
            if name in new_props:
                self.schemas(f"{at}.{name}", schema, new_props[name], response, depth + 1)
            else:
                self.note(f"{at}.{name}: removed", breaking=response)
        for name in sorted(new_props.keys() - old_props.keys()):
            breaking = not response and name in required
            self.note(f"{at}.{name}: added{' (required)' if breaking else ''}", breaking)

    def parameters(self, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
        old_by = {(p.get("in"), p.get("name")): p for p in map(self.old.resolve, old)}
        new_by = {(p.get("in"), p.get("name")): p for p in map(self.new.resolve, new)}
        for key, param in new_by.items():
            shown = f"{key[0]} parameter {key[1]}"
            before = old_by.get(key)
            if before is None:
                required = bool(param.get("required"))
                self.note(f"{shown}: added{' (required)' if required else ''}", required)
                continue
            if param.get("required") and not before.get("required"):
                self.note(f"{shown}: became required")
            self.schemas(shown, before.get("schema"), param.get("schema"), response=False)
        for key in sorted(old_by.keys() - new_by.keys(), key=str):
            self.note(f"{key[0]} parameter {key[1]}: removed", breaking=False)

    def body(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        old, new = self.old.resolve(old), self.new.resolve(new)
        if new.get("required") and not old.get("required"):
            self.note("request body: became required")
        old_content, new_content = old.get("content", {}), new.get("content", {})
        for media, entry in new_content.items():
            if media in old_content:
                before = old_content[media].get("schema")
                self.schemas(f"request {media}", before, entry.get("schema"), response=False)
        for media in sorted(old_content.keys() - new_content.keys()):
            self.note(f"request body {media}: no longer taken")

    def responses(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        for status, answer in old.items():
            if status not in new:
                self.note(f"response {status}: removed")
                continue
            old_content = self.old.resolve(answer).get("content", {})
            new_content = self.new.resolve(new[status]).get("content", {})
            for media, entry in old_content.items():
                if media not in new_content:
                    self.note(f"response {status} {media}: removed")
                    continue
                after = new_content[media].get("schema")
                self.schemas(f"response {status}", entry.get("schema"), after, response=True)
        for status in sorted(new.keys() - old.keys()):
            self.note(f"response {status}: added", breaking=False)


def _read_documents(directory: Path) -> dict[str, dict[str, Any]]:
    """REF's ``openapi/<plugin>.json`` files by plugin."""
    documents = {}
    for path in sorted(directory.glob("*.json")):
        try:
            documents[path.stem] = json.loads(path.read_text())
        except ValueError as error:
            raise SchemaCheckError(f"{path.name} of the old side is not JSON: {error}") from None
    return documents


def openapi_changes(
    old_docs: dict[str, dict[str, Any]], new_docs: dict[str, dict[str, Any]]
) -> list[Change]:
    """What clients of ``old_docs`` (each plugin's document) find broken in ``new_docs``."""
    changes: list[Change] = []
    for plugin, old_doc in sorted(old_docs.items()):
        if plugin not in new_docs:
            changes.append(Change("openapi", f"{plugin}: document removed"))
            continue
        old, new = _Document(old_doc), _Document(new_docs[plugin])
        old_paths, new_paths = old_doc.get("paths", {}), new_docs[plugin].get("paths", {})
        for path in sorted(old_paths.keys() | new_paths.keys()):
            old_ops = _operations(old_paths.get(path, {}))
            new_ops = _operations(new_paths.get(path, {}))
            for method in sorted(old_ops.keys() | new_ops.keys()):
                at = _Comparison(old, new, f"{plugin} {method} {path}", changes)
                if method not in new_ops:
                    at.note("removed")
                elif method not in old_ops:
                    at.note("added", breaking=False)
                else:
                    before, after = old_ops[method], new_ops[method]
                    at.parameters(before.get("parameters", []), after.get("parameters", []))
                    at.body(before.get("requestBody"), after.get("requestBody"))
                    at.responses(before.get("responses", {}), after.get("responses", {}))
    for plugin in sorted(new_docs.keys() - old_docs.keys()):
        changes.append(Change("openapi", f"{plugin}: document added", breaking=False))
    return changes


# -- the report ------------------------------------------------------------------------------


def check(project: Path, against: str) -> tuple[list[Change], list[str]]:
    """The changes from ``against`` to ``project``'s current code, and notes on what was not
    compared and why."""
    notes: list[str] = []
    changes: list[Change] = []
    with tempfile.TemporaryDirectory() as tmp:
        old_side = materialize(project, against, Path(tmp) / "against")
        old_schema = old_side / "schema.graphql"
        if old_schema.is_file():
            changes += graphql_changes(old_schema.read_text(), current_sdl(project))
        else:
            notes.append(f"skipped graphql: {against} has no schema.graphql")
        old_files = compile_protos(old_side / "protos", Path(tmp) / "old.pb")
        if old_files:
            new_files = compile_protos(project / "protos", Path(tmp) / "new.pb")
            changes += proto_changes(ProtoIndex.of(old_files), ProtoIndex.of(new_files))
        else:
            notes.append(f"skipped proto: {against} has no protos/**/*.proto")
        old_documents = _read_documents(old_side / "openapi")
    if old_documents:
        new_documents = built_in_documents(_built_in_plugins(project))
        changes += openapi_changes(old_documents, new_documents)
    else:
        notes.append(f"skipped openapi: {against} has no openapi/ documents")
    return changes, notes
