"""engine.live.LoopClock: run seconds on an asyncio loop; a closed clock runs nothing more."""

from __future__ import annotations

import asyncio

from engine.live import LoopClock


def test_callbacks_due_after_close_are_dropped():
    async def go():
        clock = LoopClock(asyncio.get_running_loop(), start_s=100.0, speed=50.0)
        ran = []
        clock.call_later(0.0, lambda: ran.append("before"))
        await asyncio.sleep(0.02)  # the loop runs it
        clock.call_later(0.0, lambda: ran.append("after"))  # due, but the loop has not
        clock.close()  # had a turn yet
        await asyncio.sleep(0.02)
        return ran, clock

    ran, clock = asyncio.run(go())
    assert ran == ["before"]
    assert clock.failure is None  # closing is not a failure


def test_a_callback_that_raises_stops_the_clock():
    async def go():
        clock = LoopClock(asyncio.get_running_loop())
        ran = []

        def bad():
            raise RuntimeError("boom")
        clock.call_later(0.0, bad)
        clock.call_later(0.01, lambda: ran.append(1))
        await asyncio.sleep(0.05)
        return ran, clock

    ran, clock = asyncio.run(go())
    assert isinstance(clock.failure, RuntimeError) and clock.failed.is_set()
    assert ran == []  # nothing more runs after a failure
