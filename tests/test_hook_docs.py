"""Every hook is documented in docs/hooks.md with its exact signature, every hook has a live
implementation in the host, a built-in plugin or the example plugin (datasette's rule), and the
plugins annotate their implementations as the hooks are typed, so mypy checks them."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import pytest

from hub import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS_MD = ROOT / "docs" / "hooks.md"
EXAMPLE = ROOT / "examples" / "hub-notes"
IMPLEMENTERS = ("hub.builtin", "hub_era.plugin", "hub_notes.plugin")
PLUGINS = tuple(f"hub_{name}.plugin" for name in ("era", "monitorozas", "unspot", "webim", "rop"))
HEADING = re.compile(r"^## `(\w+)\((.*)\)`$", re.M)
SIGNATURE = re.compile(r"^def (\w+)(\(.*\) -> .+)$", re.M)


def _specs() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "hub_spec")
    }


SPECS = _specs()


def short(name: str) -> str:
    """``register_rest(hub, register)``: what a section heading says."""
    return f"{name}({', '.join(inspect.signature(SPECS[name]).parameters)})"


def full(name: str) -> str:
    """``(hub: Any, register: Callable[[Any], None]) -> None``, annotations as written."""
    return str(inspect.signature(SPECS[name])).replace("'", "")


def test_hooks_exist() -> None:
    assert len(SPECS) >= 11


def test_every_hook_has_a_section_with_its_signature() -> None:
    text = HOOKS_MD.read_text()
    headings = {name: f"{name}({params})" for name, params in HEADING.findall(text)}
    signatures = dict(SIGNATURE.findall(text))
    for name in SPECS:
        assert name in headings, f"docs/hooks.md has no section `## `{short(name)}``"
        assert headings[name] == short(name), f"docs/hooks.md documents {headings[name]}"
        assert signatures.get(name) == full(name), (
            f"docs/hooks.md should show `def {name}{full(name)}`, shows {signatures.get(name)!r}"
        )
    assert set(headings) <= set(SPECS), f"documented but not hooks: {set(headings) - set(SPECS)}"


def _module(path: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    if path.startswith("hub_notes") and importlib.util.find_spec("hub_notes") is None:
        monkeypatch.syspath_prepend(str(EXAMPLE))  # the example, not installed into this venv
    return importlib.import_module(path)


def test_every_hook_has_a_live_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = pluggy.PluginManager("hub")
    pm.add_hookspecs(hookspecs)
    for path in IMPLEMENTERS:
        pm.register(_module(path, monkeypatch), name=path)  # checks each implementation's arguments
    pm.check_pending()
    for name in SPECS:
        implementers = [impl.plugin_name for impl in getattr(pm.hook, name).get_hookimpls()]
        assert implementers, f"hook {name} is implemented by none of {', '.join(IMPLEMENTERS)}"


@pytest.mark.parametrize("path", [*PLUGINS, "hub_notes.plugin"])
def test_implementations_are_annotated_as_the_hooks(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pluggy matches arguments by name only: without the hook's annotations on an
    implementation, mypy would check its body against ``Any``."""
    module = _module(path, monkeypatch)
    for name, spec in SPECS.items():
        impl = getattr(module, name, None)
        if impl is None:
            continue
        wanted = inspect.signature(spec).parameters
        for param in inspect.signature(impl).parameters.values():
            assert param.annotation == wanted[param.name].annotation, (
                f"{path}.{name}: annotate {param.name} as {wanted[param.name].annotation},"
                f" not {param.annotation}"
            )
