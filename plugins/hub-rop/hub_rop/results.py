"""Turning an analyser's answer into the seed's result documents. Scores and percentages are
computed here from the stage statuses, never taken from the analyser."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_rop.errors import bad_request
from hub_rop.records import (
    Call,
    Checklist,
    ChecklistResult,
    StageResult,
    Table,
    TableResult,
)


def checklist_result(
    call: Call,
    checklist: Checklist,
    submitted: list[dict[str, Any]],
    where: str,
    now: datetime,
) -> ChecklistResult:
    """The seed's checklist document: each stage scores 1 (completed) or -1 (failed) and is
    100 or 0 percent done; the checklist's completion is the share of completed stages."""
    given: dict[str, dict[str, Any]] = {}
    for stage in submitted:
        if stage["stage_id"] in given:
            raise bad_request(f"{where}.stages: stage {stage['stage_id']!r} is given twice")
        given[stage["stage_id"]] = stage
    defined = {s.id: s for s in checklist.stages}
    unknown = [s for s in given if s not in defined]
    if unknown:
        raise bad_request(
            f"{where}.stages: {unknown[0]!r} is not a stage of checklist {checklist.id!r}"
        )
    missing = [s for s in defined if s not in given]
    if missing:
        raise bad_request(f"{where}.stages: missing stage(s) {', '.join(map(repr, missing))}")
    stages = []
    for defined_stage in checklist.stages:
        answer = given[defined_stage.id]
        completed = answer["status"] == "completed"
        stages.append(
            StageResult(
                stage_id=defined_stage.id,
                stage_name=defined_stage.name,
                score=1 if completed else -1,
                percentage=100.0 if completed else 0.0,
                status=answer["status"],
                comment=answer["comment"],
                quote=answer["quote"],
                timestamp=now,
            )
        )
    done = sum(1 for s in stages if s.score == 1)
    return ChecklistResult(
        call_id=call.call_id,
        manager_id=call.manager_id,
        checklist_name=checklist.name,
        total_score=sum(s.score for s in stages),
        max_score=len(stages),
        completion_percentage=round(100.0 * done / len(stages), 2),
        stages=tuple(stages),
        timestamp=now,
    )


def table_result(
    call: Call,
    table: Table,
    extracted: dict[str, Any],
    where: str,
    now: datetime,
) -> TableResult:
    """The seed's table document; ``processing_time`` is seconds from upload to this result."""
    names = {f.name for f in table.fields}
    for key in extracted:
        if key not in names:
            raise bad_request(
                f"{where}.extracted_data.{key}: not a field of table {table.id!r}"
                f" (fields: {', '.join(sorted(names))})"
            )
    return TableResult(
        call_id=call.call_id,
        table_id=table.id,
        table_name=table.name,
        extracted_data=extracted,
        processing_time=round(max(0.0, (now - call.created_at).total_seconds()), 3),
        timestamp=now,
    )
