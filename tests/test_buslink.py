"""The pieces both event-bus links share (hub.buslink) that their own tests do not pin down: the
reconnection pacing and its two log lines, and the subscriber tally."""

from __future__ import annotations

import logging

import pytest

from hub import buslink
from hub.buslink import Backoff, tally


async def test_retries_double_to_the_cap_with_one_warning_and_one_line_on_success(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(buslink, "FIRST_RETRY", 0.001)
    monkeypatch.setattr(buslink, "LAST_RETRY", 0.006)
    backoff = Backoff()
    delays = []
    with caplog.at_level(logging.INFO, "hub.bus"):
        for attempt in range(5):
            delays.append(backoff.delay)
            await backoff.failed("event bus: attempt %d failed", attempt)
        backoff.succeeded("event bus: back")
    assert delays == [0.001, 0.002, 0.004, 0.006, 0.006]
    assert [record.getMessage() for record in caplog.records] == [
        "event bus: attempt 0 failed",
        "event bus: back",
    ]
    assert (backoff.delay, backoff.failing) == (0.001, False)


async def test_a_loss_after_success_warns_and_a_failure_already_said_stays_quiet(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(buslink, "FIRST_RETRY", 0.001)
    backoff = Backoff()
    with caplog.at_level(logging.INFO, "hub.bus"):
        backoff.succeeded("event bus: not said: nothing failed")
        backoff.lost("event bus: lost it")
        await backoff.failed("event bus: not said: the loss was")
        backoff.succeeded("event bus: back")
        await backoff.failed(None)  # the caller logged why
        backoff.succeeded("event bus: back again")
    assert [record.getMessage() for record in caplog.records] == [
        "event bus: lost it",
        "event bus: back",
        "event bus: back again",
    ]


def test_a_tally_forgets_a_topic_nobody_listens_to() -> None:
    counts: dict[str, int] = {}
    tally(counts, "a", 2)
    tally(counts, "b", 1)
    tally(counts, "a", 0)
    tally(counts, "c", 0)
    assert counts == {"b": 1}
