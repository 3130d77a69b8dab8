"""The ``rop`` plugin's hooks: the entry point ``rop = "hub_rop.plugin"`` in the group ``hub``."""

from __future__ import annotations
