"""PHP's ``var_dump`` of a flat array, byte for byte: ``string(N)`` counts UTF-8 bytes."""

from __future__ import annotations

from collections.abc import Mapping


def _value(value: str | int | bool | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return f"bool({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"int({value})"
    return f'string({len(value.encode("utf-8"))}) "{value}"'


def var_dump(array: Mapping[str, str | int | bool | None]) -> str:
    lines = [f"array({len(array)}) {{"]
    for key, value in array.items():
        lines.append(f'  ["{key}"]=>')
        lines.append(f"  {_value(value)}")
    lines.append("}")
    return "\n".join(lines) + "\n"
