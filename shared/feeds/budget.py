"""A weighted semaphore on bytes, so the documents parsed at once in a process fit in memory.

Parsing a feed takes about six times its size in memory (feedparser's tree, the decoded text,
the sanitised copies: 11 MiB of RSS peaks at 64 MiB). A worker with ten threads that meets ten
big feeds at once would hold them all; the budget makes the later ones wait, so a process's
parse memory stays near six times the budget whatever the feeds and the thread count. A
document bigger than the whole budget waits for the budget to be free and runs alone.

Written here because the standard library's semaphores count units, not weights, and this is
twenty lines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ByteBudget:
    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError("a budget must be positive")
        self.total = total
        self.in_use = 0
        self._free = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Take `size` bytes of the budget (all of it, for a document bigger than the budget)
        until the block ends; waits while they are taken."""
        weight = min(max(size, 0), self.total)
        with self._free:
            self._free.wait_for(lambda: self.in_use + weight <= self.total)
            self.in_use += weight
        try:
            yield
        finally:
            with self._free:
                self.in_use -= weight
                self._free.notify_all()
