"""What the service returns: a typed record that each adapter renders through ``hub.records``
(``to_json`` for REST, ``to_graphql``, ``to_message``), so no adapter formats a time itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.records import Instant, spec

MILLISECONDS = spec(instant=Instant(timespec="milliseconds"))  # 2024-05-01T12:00:00.000Z


@dataclass(frozen=True)
class Note:
    id: str
    title: str
    body: str
    created_at: datetime = field(metadata=MILLISECONDS)
    expires_at: datetime | None = field(metadata=MILLISECONDS)  # None: never expires


@dataclass(frozen=True)
class NoteList:
    """A page of notes, as REST lists them."""

    notes: list[Note]
    total: int  # live notes in all, whatever the page
