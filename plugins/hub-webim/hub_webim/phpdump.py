"""PHP's ``var_dump`` of a flat array, byte for byte: ``string(N)`` counts UTF-8 bytes. Written
for info.php in local mode, read back from the vendor's info.php in upstream mode."""

from __future__ import annotations

import re
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


_ARRAY = re.compile(rb"array\((\d+)\) \{\n")
_KEY = re.compile(rb'  \["([^"\n]*)"\]=>\n  ')
_STRING = re.compile(rb'string\((\d+)\) "')
_INT = re.compile(rb"int\((-?\d+)\)\n")


def parse_var_dump(body: bytes) -> dict[str, str | None]:
    """A flat array as PHP's ``var_dump`` prints it (what ``phpdump.var_dump`` writes): each
    ``string(N)`` read by its byte length, so a value may hold newlines; ``int(n)`` as its
    digits; ``NULL`` as ``None``."""
    head = _ARRAY.match(body)
    if head is None:
        raise ValueError("not a var_dump of an array")
    pos, out = head.end(), {}
    while not body.startswith(b"}", pos):
        entry = _KEY.match(body, pos)
        if entry is None:
            raise ValueError(f"no array key at byte {pos}")
        key, pos = entry[1].decode("utf-8"), entry.end()
        value: str | None
        if body.startswith(b"NULL\n", pos):
            value, pos = None, pos + 5
        elif (string := _STRING.match(body, pos)) is not None:
            end = string.end() + int(string[1])
            if body[end : end + 2] != b'"\n':
                raise ValueError(f"{key}: string({int(string[1])}) is not its byte length")
            value, pos = body[string.end() : end].decode("utf-8"), end + 2
        elif (number := _INT.match(body, pos)) is not None:
            value, pos = number[1].decode(), number.end()
        else:
            raise ValueError(f"{key}: neither a string, an int nor NULL")
        out[key] = value
    if body[pos:].strip() != b"}":
        raise ValueError("bytes after the array")
    if len(out) != int(head[1]):
        raise ValueError(f"array({int(head[1])}) holds {len(out)} keys")
    return out
