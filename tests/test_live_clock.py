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


def test_the_run_clock_catches_up_with_the_wall_clock_and_never_goes_back(caplog):
    # a live run's clock after a suspend (the loop's monotonic time does not count it):
    # behind the time of day, so calling windows would shift; caught up at once
    wall = [1000.0]

    async def go():
        clock = LoopClock(asyncio.get_running_loop(), start_s=1000.0, wall=lambda: wall[0])
        seen = [clock.follow_wall()]  # in step: nothing to do
        wall[0] = clock.now() + 3600.0  # an hour asleep
        seen.append(clock.follow_wall())
        after = clock.now()
        wall[0] = after - 600.0  # the wall clock set back ten minutes
        seen.append(clock.follow_wall())
        seen.append(clock.follow_wall())
        return clock, seen, after

    clock, seen, after = asyncio.run(go())
    assert seen[0] == 0.0 and abs(seen[1] - 3600.0) < 0.1 and seen[2:] == [0.0, 0.0]
    assert after >= 4600.0 and clock.now() >= after  # forward, never back
    assert (clock.jumps, round(clock.jumped_s)) == (1, 3600)
    said = [r.getMessage() for r in caplog.records if r.name == "engine.live"]
    assert sum("behind the wall clock" in m for m in said) == 1
    assert sum("set back?" in m for m in said) == 1  # once, not at every look
