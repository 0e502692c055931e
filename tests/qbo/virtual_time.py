"""Virtual time for tests: an injectable clock and sleep that never wait for real."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class VirtualTime:
    """`clock()` and `sleep()` for code under test. Sleepers wake in deadline order; time jumps
    to the next deadline once every runnable task has had its turn (a few event-loop passes)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        await future

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(30):  # let every runnable task run (and maybe sleep) first
                await asyncio.sleep(0)
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
