"""``hub schema check --against REF``: what the current code breaks for clients written against
REF (a git ref, or a directory holding ``schema.graphql`` and ``protos/``).

GraphQL goes through graphql-core's ``find_breaking_changes``/``find_dangerous_changes``; protos
are compiled by protoc on both sides and their descriptors compared, so the comparison sees what
protoc sees (imports, nested messages, packages) rather than a text diff."""

from __future__ import annotations

import importlib.util
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    if importlib.util.find_spec("hub.openapi") is None:
        notes.append("skipped openapi: the hub serves no OpenAPI documents yet")
    else:
        notes.append("skipped openapi: `hub schema check` does not compare OpenAPI documents yet")
    return changes, notes
