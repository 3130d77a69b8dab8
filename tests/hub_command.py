"""For the tests that run the ``hub`` command as a process of its own."""

from __future__ import annotations

import subprocess

import pytest


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """The command's exit status, stdout and stderr; past ``timeout`` it is killed (never a
    hub left behind) and the test fails with what it wrote."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} did not finish in {timeout}s:\n{out}\n{err}")
    return proc.returncode, out, err
