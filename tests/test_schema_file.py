"""schema.graphql is the SDL of the built-in plugins; it must match what the code builds."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hub.app import Hub
from hub.config import Settings
from hub.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parent.parent


def built_in_plugins() -> list[str]:
    """The entry-point names of the distributions under plugins/."""
    names = []
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml"):
        names += tomllib.loads(pyproject.read_text())["project"]["entry-points"]["hub"]
    assert names, "no plugin distributions found under plugins/"
    return sorted(names)


def export(tmp_path: Path) -> str:
    hub = Hub(Settings(data_dir=str(tmp_path)), env={"HUB_PLUGINS": ",".join(built_in_plugins())})
    try:
        return build_schema(hub.graphql_parts).as_str() + "\n"
    finally:
        hub.close()


def test_schema_file_is_current(tmp_path: Path) -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == export(tmp_path), "schema.graphql is stale: run `make schema`"


def test_schema_has_every_built_in_root(tmp_path: Path) -> None:
    sdl = export(tmp_path)
    for plugin in built_in_plugins():
        assert f"  {plugin}: " in sdl
