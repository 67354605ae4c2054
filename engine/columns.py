"""Columns the engine writes item by item and the pacer reads whole, in one buffer."""

from __future__ import annotations

from array import array

import numpy as np

__all__ = ["shared_column"]

_DTYPES = {"q": np.int64, "d": np.float64, "b": np.bool_}


def shared_column(typecode: str, n: int, fill: float) -> tuple[array, np.ndarray]:
    """``n`` items of ``fill`` in an ``array.array`` and a numpy view of the same memory.

    Speed shortcut: the engine reads and writes single items on every attempt (agent
    states, call slots) while the pacer reads whole columns as numpy arrays each tick. An
    item of an ``array.array`` is a plain Python int or float, read or written in a few
    machine instructions; a numpy item access goes through numpy's indexing machinery (and
    reads make a numpy scalar), several times the work. The two share one buffer, so each
    side sees the other's writes; the array is never resized (its view would dangle).
    ``typecode``: ``"q"`` (int64), ``"d"`` (float64) or ``"b"`` (bool)."""
    buf = array(typecode, [fill]) * n
    dtype = _DTYPES[typecode]
    return buf, np.frombuffer(buf, dtype=dtype) if n else np.zeros(0, dtype=dtype)
