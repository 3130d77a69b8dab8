"""The ``monitorozas`` plugin's hooks: the entry point ``monitorozas = "hub_monitorozas.plugin"`` in the group ``hub``."""

from __future__ import annotations
