"""What the kernel says about a process (/proc): CPU seconds used and resident memory.

CPU seconds per document hold on a loaded machine where wall-clock does not; the benches print
them per process (rentsync, the emulator, PostgreSQL with its backends).
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def cpu_seconds(pid: int, *, with_children: bool = False) -> float | None:
    """CPU seconds (user + system) the process has used, from /proc/<pid>/stat; with
    `with_children`, also those of its children that have exited (PostgreSQL's backends, which
    the postmaster reaps). None once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL server: the postmaster, its live processes and those that
    have exited."""
    total = cpu_seconds(postmaster, with_children=True) or 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
            total += cpu_seconds(int(entry.name)) or 0.0
    return total


def rss_mb(pid: int) -> float | None:
    """The process's resident set now (VmRSS) in MB, or None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MB, or None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def parent_pid(pid: int) -> int:
    """The process's parent (e.g. a PostgreSQL backend's postmaster)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
