"""The ``unspot`` plugin's hooks: the entry point ``unspot = "hub_unspot.plugin"`` in the group ``hub``."""

from __future__ import annotations
