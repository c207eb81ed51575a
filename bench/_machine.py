"""Where the machine's CPU went during a benchmark, from /proc: per process (sampled, so one
that exited counts up to its last sample) and the machine's busy time in all."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from bench._stack import CLOCK_TICKS


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every live process: its command name and CPU seconds (its own, not its children's)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def busy_seconds() -> float:
    """CPU seconds the machine has spent on anything but idling and waiting for I/O."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class CpuWatch:
    """CPU used between `__init__` and `stop`, by process."""

    def __init__(self) -> None:
        self.before = process_cpu()
        self.busy_before = busy_seconds()
        self.started = time.monotonic()
        self.after: dict[int, tuple[str, float]] = {}
        self.busy = self.wall = 0.0

    def sample(self) -> None:
        """Note every process's CPU now, so that one exiting before `stop` still counts (up
        to this sample)."""
        for pid, (name, seconds) in process_cpu().items():
            seen = self.after.get(pid)
            if seen is not None and seen[0] != name and pid in self.before:
                del self.before[pid]  # the pid was reused by another program
            self.after[pid] = (name, seconds)

    def stop(self) -> None:
        self.sample()
        self.busy = busy_seconds() - self.busy_before
        self.wall = time.monotonic() - self.started

    def heaviest(self, pids: set[int], count: int = 3) -> list[tuple[str, float]]:
        """The programs (by command name) that used the most CPU, leaving out `pids`."""
        by_name: dict[str, float] = {}
        for pid, (name, _) in self.after.items():
            if pid not in pids:
                by_name[name] = by_name.get(name, 0.0) + self.used([pid])
        return sorted(by_name.items(), key=lambda item: -item[1])[:count]

    def used(self, pids: Iterable[int]) -> float:
        """CPU seconds of these processes in the window (from 0 for one started in it)."""
        total = 0.0
        for pid in set(pids):
            if pid in self.after:
                before = self.before.get(pid)
                same = before is not None and before[0] == self.after[pid][0]
                total += self.after[pid][1] - (before[1] if same and before else 0.0)
        return total

    def pids_named(self, name: str) -> list[int]:
        return [pid for pid, (comm, _) in self.after.items() if comm == name]
