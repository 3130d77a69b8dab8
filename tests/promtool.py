"""Prometheus' own checker on a ``/metrics`` text, for the tests that hold the exposition to
the format (CI sets ``HUB_REQUIRE_PROMTOOL`` where promtool is installed: there it must run)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def promtool_check(text: str, *, or_skip: bool = True) -> None:
    """``promtool check metrics`` passes on ``text``. Without promtool the test fails where
    ``HUB_REQUIRE_PROMTOOL`` is set, else it is skipped here (``or_skip``) or goes on."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("HUB_REQUIRE_PROMTOOL"):
            pytest.fail("promtool is required (HUB_REQUIRE_PROMTOOL) but not installed")
        if or_skip:
            pytest.skip("promtool is not installed")
        return
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
