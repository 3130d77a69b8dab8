"""The ``webim`` plugin's hooks: the entry point ``webim = "hub_webim.plugin"`` in the group ``hub``."""

from __future__ import annotations
