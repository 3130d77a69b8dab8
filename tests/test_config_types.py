"""What a plugin's settings class may declare, and what the config makes of each: choices
(``Literal``, an ``Enum``) are converted and checked as every other type is, a table's values
are converted to the dict's value type, and a type the config cannot give stops the start
(before, such fields took the config's text unconverted and unchecked: ``mode='zzz'``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from hub.config import ConfigError, Settings, plugin_settings, unsupported_field


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@dataclass
class Options:
    mode: Literal["fast", "safe"] = "fast"
    retries: Literal[1, 3] = 1
    level: Level = Level.LOW
    limits: dict[str, int] = field(default_factory=dict)


def options(env: dict[str, str] | None = None, **table: object) -> Options:
    settings = Settings(plugins={"p": dict(table)})
    return plugin_settings(settings, "p", Options, env or {})


def test_choices_and_table_values_are_converted_from_every_source() -> None:
    assert options() == Options()
    got = options({"HUB_P_MODE": "safe", "HUB_P_RETRIES": "3", "HUB_P_LEVEL": "HIGH"})
    assert (got.mode, got.retries, got.level) == ("safe", 3, Level.HIGH)
    got = options(mode="safe", retries=3, level=2, limits={"a": "5"})
    assert (got.mode, got.retries, got.level, got.limits) == ("safe", 3, Level.HIGH, {"a": 5})


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({}, {"HUB_P_MODE": "zzz"}, "plugins.p.mode: expected one of fast, safe, got 'zzz'"),
        ({"retries": 2}, {}, "plugins.p.retries: expected one of 1, 3, got 2"),
        ({}, {"HUB_P_LEVEL": "MEDIUM"}, "plugins.p.level: expected one of LOW, HIGH, 1, 2, got"),
        ({"limits": {"a": "many"}}, {}, "plugins.p.limits.a: expected int, got 'many'"),
    ],
)
def test_a_bad_choice_or_table_value_names_its_key(
    table: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        options(env, **table)
    assert str(refused.value).startswith(message), refused.value


@dataclass
class Nested:
    where: Path = Path(".")


@dataclass
class Outer:
    fine: list[int] = field(default_factory=list)
    inner: Nested = field(default_factory=Nested)


def test_a_type_the_config_cannot_give_is_named() -> None:
    assert unsupported_field(Options) is None
    assert unsupported_field(Outer) == (
        "inner: where: Path is no type the config can give (bool, int, float, str, list,"
        " dict[str, ...], X | None, Literal, an Enum, a dataclass)"
    )
