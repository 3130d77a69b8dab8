"""The hook ``rop`` defines for analyser plugins (added to the hub's plugin manager through the
module attribute ``hub_hookspecs`` of ``hub_rop.plugin``)."""

from __future__ import annotations

from typing import Any

from hub.hookspecs import hookspec


@hookspec(firstresult=True)
def rop_analyze_call(
    call: dict[str, Any],
    audio_path: str,
    checklists: list[dict[str, Any]],
    tables: list[dict[str, Any]],
) -> Any:
    """Analyse a downloaded call; return the result (or an awaitable of it), or ``None`` to let
    another analyser (or an outside one, through ``ropSubmitAnalysis``) answer. First result wins.
    """
