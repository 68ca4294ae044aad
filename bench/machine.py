"""What the machine did while a benchmark ran, for reading its figures.

The development machine is a VM with 2 cores on a shared host. In its slow spells the same
statements take much longer, and the CPU time they use grows too; /proc/stat's "steal"
column shows the time the hypervisor gave the VM's cores to others. The same re-score took
0.74 s (0.94 s CPU) with 0.2 % steal and 1.20 s (1.47 s CPU) with 7.6 % on one evening."""
from __future__ import annotations

from pathlib import Path


def cpu_ticks() -> list[int] | None:
    """The machine's cumulative CPU time per state (user, nice, system, idle, iowait, irq,
    softirq, steal, …) from /proc/stat; None where there is none (not Linux)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    """Per cent of all CPU time between two ``cpu_ticks`` readings that the hypervisor took
    (steal); None when unknown. Guest time is already counted in user, so only the first
    eight states make the total."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    d = [b - a for a, b in zip(before[:8], after[:8])]
    total = sum(d)
    return 100.0 * d[7] / total if total > 0 else None
