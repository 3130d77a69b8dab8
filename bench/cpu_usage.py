"""CPU time from /proc: what a server's processes (and their children: Node's, a supervisor's
workers) and the whole machine spent, read before and after each slice of load."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """utime + stime in seconds, all threads, of each live process of ``pids`` and of their
    descendants, by pid."""
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        spent[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    wanted = set(pids)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return {pid: spent[pid] for pid in wanted if pid in spent}


def tree_cpu(pids: list[int]) -> float | None:
    """CPU seconds of the processes ``pids`` and their descendants, all threads; None without
    pids or when none of them runs."""
    if not pids:
        return None
    by_pid = cpu_by_pid(pids)
    if not any(pid in by_pid for pid in pids):
        return None
    return sum(by_pid.values())


def machine_busy() -> float | None:
    """CPU seconds the whole machine spent busy (all cores); None without /proc."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    jiffies = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / CLOCK_TICKS
