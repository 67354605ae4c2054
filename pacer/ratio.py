"""Ratio-driven pacing: fixed ratio (VICIdial RATIO), progressive and preview.

All three are stateless: each call turns this tick's counts into the number of new
attempts per campaign. Arrays are one row per campaign (int64 counts, float64 ratios).

Rounding is PHP's ``round()`` as VICIdial uses it: half away from zero, after PHP's
pre-rounding of the value to 15 significant digits (PHP <= 8.3), so ``round(1.0005, 3)`` is
``1.001`` as in PHP although the binary double is a hair below the half. ``np.round`` is
banker's rounding (half to even) and is never used for pacing.

This module also holds the small validation helpers the other baseline and estimator
modules (``pacer.vicidial``, ``timed``, ``blending``, ``hitrate``, ``abandon``) share.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pacer.constants import MAX_COUNT, MAX_RATIO

__all__ = [
    "fixed_ratio_launch",
    "preview_launch",
    "progressive_launch",
    "round_half_away",
]

# --------------------------------------------------------------------------- kernels


@numba.njit(cache=True)
def _php_round(x, places):
    """PHP ``round(x, places)``: pre-round to 15 significant digits, then half away from zero.

    ``places`` is an int64 >= 0. Values whose scaled magnitude reaches 1e15 are returned
    unchanged (PHP: beyond double precision, rounding is pointless); NaN and inf pass through.
    """
    if x != x or x == np.inf or x == -np.inf:
        return x
    scale = 10.0**places
    y = abs(x) * scale
    if y >= 1e15:
        return x
    if y < 0.25:  # rounds to zero whatever the pre-rounding; also avoids 10**p overflow
        return 0.0 * x
    # Pre-round to 15 significant digits: z has 15 integer digits, exact in a double.
    e = math.floor(math.log10(y))
    p = 14 - e
    z = y * 10.0**p
    y15 = math.floor(z + 0.5) / 10.0**p
    r = math.floor(y15 + 0.5) / scale
    if x < 0.0:
        return -r
    return r


@numba.njit(cache=True)
def _php_round_array(x, places, out):
    for i in range(x.shape[0]):
        out[i] = _php_round(x[i], places)


@numba.njit(cache=True)
def _fixed_ratio_launch(ratio, ready, in_call, in_flight, out):
    """VICIdial RATIO: ``max(0, round(ratio * (ready + in_call)) - in_flight)`` per row.

    ratio float64[n] (lines per agent); ready, in_call, in_flight int64[n] (agents ready,
    agents on a call, calls in flight with connected calls included); out int64[n].
    Also the launch step of the VICIdial adaptive baseline, ``ratio`` being its dial level.
    """
    for i in range(ratio.shape[0]):
        want = _php_round(ratio[i] * (ready[i] + in_call[i]), 0)
        n = np.int64(want) - in_flight[i]
        out[i] = n if n > 0 else 0


@numba.njit(cache=True)
def _progressive_launch(ratio, idle, unconnected, out):
    """Progressive: ``max(0, round(ratio * idle) - unconnected)`` per row.

    ratio float64[n] (lines per idle agent, >= 1); idle int64[n] (agents ready now);
    unconnected int64[n] (calls launched and not yet connected to an agent: ringing plus
    live answers waiting for an agent); out int64[n].
    """
    for i in range(ratio.shape[0]):
        want = _php_round(ratio[i] * idle[i], 0)
        n = np.int64(want) - unconnected[i]
        out[i] = n if n > 0 else 0


@numba.njit(cache=True)
def _preview_launch(requests, dialling, out):
    """Preview: ``max(0, requests - dialling)`` per row (int64[n] each)."""
    for i in range(requests.shape[0]):
        n = requests[i] - dialling[i]
        out[i] = n if n > 0 else 0


# --------------------------------------------------------------------------- validation
# Shared by the pacer's baseline and estimator modules. Each helper returns a fresh,
# C-contiguous 1-D array of the kernel dtype, or raises ValueError naming the argument.


def as_array(name: str, value) -> np.ndarray:
    """``np.asarray(value)``, or a ValueError naming the argument when it is not array-like
    (ragged sequences, objects numpy cannot read as one array)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: expected a number or an array of numbers, got "
                         f"{type(value).__name__} ({exc})") from None


def real_array(name: str, value) -> np.ndarray:
    """``value`` (any shape) as a C-contiguous float64 array of real numbers: bool, int and
    float dtypes only (complex, datetime, str and object are a ValueError naming the
    argument, never a silent cast). Values are not checked."""
    arr = as_array(name, value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64, order="C")


def real_number(name: str, value, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    """``value`` as a finite float within ``[lo, hi]`` (``lo_open``: strict lower bound):
    ints, floats, numpy real scalars and 0-d real arrays; anything else (str, None,
    complex, arrays, NaN, inf) is a ValueError naming the argument."""
    a = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if a is None:
        arr = as_array(name, value)
        if arr.ndim != 0 or arr.dtype.kind not in "biuf":
            raise ValueError(f"{name}: expected a real number, got {value!r:.60}")
        a = arr.item()
    try:
        v = float(a)
    except OverflowError:  # an int past float range
        v = math.inf
    if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or \
            (hi is not None and v > hi):
        lo_txt = "" if lo is None else (f" > {lo}" if lo_open else f" >= {lo}")
        hi_txt = "" if hi is None else f" <= {hi}"
        raise ValueError(f"{name}: expected a finite number{lo_txt}{hi_txt}, got {value!r:.60}")
    return v


def _row_count(fields: dict[str, object]) -> int:
    """The common row count of the 1-D fields; scalars broadcast. 1 when all are scalars."""
    n = None
    for name, value in fields.items():
        shape = as_array(name, value).shape
        if len(shape) == 0:
            continue
        if len(shape) != 1:
            raise ValueError(f"{name}: expected a scalar or a 1-D array (one value per "
                             f"campaign), got shape {shape}")
        m = shape[0]
        if n is None:
            n = m
        elif m != n:
            raise ValueError(f"{name}: expected {n} rows like the other per-campaign "
                             f"arguments, got {m}")
    return 1 if n is None else n


def float_rows(name: str, value, n: int | None = None, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False) -> np.ndarray:
    """``value`` as float64[n] (scalars broadcast), finite and within ``[lo, hi]``.

    ``lo_open`` makes the lower bound strict. ``n=None`` accepts any 1-D length.
    """
    arr = as_array(name, value)
    if arr.dtype.kind not in "biuf":  # complex, datetime, str, object: not real numbers
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if arr.ndim == 0:
        if n is None:
            raise ValueError(f"{name}: expected a 1-D array, got a scalar")
        arr = np.full(n, float(arr), dtype=np.float64)
    elif arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array (one value per campaign), "
                         f"got shape {arr.shape}")
    else:
        arr = np.array(arr, dtype=np.float64, copy=True)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows, got {arr.shape[0]}")
    bad = ~np.isfinite(arr)
    if lo is not None:
        bad |= (arr <= lo) if lo_open else (arr < lo)
    if hi is not None:
        bad |= arr > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        lo_txt = "" if lo is None else (f" > {lo}" if lo_open else f" >= {lo}")
        hi_txt = "" if hi is None else f" <= {hi}"
        raise ValueError(f"{name}: expected finite values{lo_txt}{hi_txt}, got {arr[i]!r} "
                         f"at row {i}")
    return arr


def int_rows(name: str, value, n: int | None = None, lo: int | None = 0,
             hi: int | None = None) -> np.ndarray:
    """``value`` as int64[n] (scalars broadcast), integers within ``[lo, hi]``.

    Integer and boolean dtypes are accepted; floats are rejected even when integral, so a
    rate passed where a count is expected fails loudly.
    """
    arr = as_array(name, value)
    if arr.size == 0 and arr.dtype == np.float64:  # ``[]`` has no integer dtype
        arr = arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: expected integers, got {int(arr.max())} (beyond int64)")
    if arr.ndim == 0:
        if n is None:
            raise ValueError(f"{name}: expected a 1-D array, got a scalar")
        arr = np.full(n, int(arr), dtype=np.int64)
    elif arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array (one value per campaign), "
                         f"got shape {arr.shape}")
    else:
        arr = np.array(arr, dtype=np.int64, copy=True)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows, got {arr.shape[0]}")
    bad = np.zeros(arr.shape[0], dtype=np.bool_)
    if lo is not None:
        bad |= arr < lo
    if hi is not None:
        bad |= arr > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: expected integers {rng}, got {arr[i]} at row {i}")
    return arr


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


# --------------------------------------------------------------------------- public API


def round_half_away(x, places: int = 0) -> np.ndarray:
    """PHP ``round(x, places)`` elementwise, as float64: half away from zero.

    The value is first pre-rounded to 15 significant digits as PHP (<= 8.3) does, so
    decimal halves that binary cannot represent exactly still round away from zero.

    Raises:
        ValueError: ``x`` is not numeric or ``places`` is negative.
    """
    if isinstance(places, bool) or not isinstance(places, int | np.integer) or \
            not 0 <= places <= 308:
        raise ValueError(f"places: expected an integer in [0, 308], got {places!r:.40}")
    arr = real_array("x", x)
    flat = arr.ravel()
    out = np.empty_like(flat)
    _php_round_array(flat, np.int64(places), out)
    return out.reshape(arr.shape)


def fixed_ratio_launch(ratio, ready, in_call, in_flight) -> np.ndarray:
    """New attempts per campaign under VICIdial RATIO dialing (call every 2.5 s).

    ``max(0, round(ratio * (ready + in_call)) - in_flight)`` with PHP rounding.

    Args:
        ratio: lines per agent (float, 0..1000 = MAX_RATIO), scalar or one per campaign.
        ready: agents ready (waiting for a call), per campaign.
        in_call: agents talking on a call (VICIdial INCALL; agents in wrap-up or paused are
            not counted), per campaign.
        in_flight: calls in flight: ringing, waiting for an agent and connected.

    Returns:
        int64[n], the attempts to launch now.

    Raises:
        ValueError: an argument is of the wrong kind, shape or range.
    """
    n = _row_count({"ratio": ratio, "ready": ready, "in_call": in_call,
                    "in_flight": in_flight})
    r = float_rows("ratio", ratio, n, lo=0.0, hi=MAX_RATIO)
    out = np.empty(n, dtype=np.int64)
    _fixed_ratio_launch(r, int_rows("ready", ready, n, hi=MAX_COUNT),
                        int_rows("in_call", in_call, n, hi=MAX_COUNT),
                        int_rows("in_flight", in_flight, n, hi=MAX_COUNT), out)
    return out


def progressive_launch(ratio, idle, unconnected) -> np.ndarray:
    """New attempts per campaign under progressive dialing (call every tick).

    ``max(0, round(ratio * idle) - unconnected)`` with PHP rounding: each idle agent has
    ``ratio`` calls working for it; calls already launched and not yet connected to an agent
    (ringing, or answered and waiting) count against that. Connected calls do not count:
    their agent is no longer idle.

    Args:
        ratio: lines per idle agent (float, 1..1000 = MAX_RATIO, usually 1), scalar or
            per campaign.
        idle: agents ready now, per campaign.
        unconnected: calls in flight not yet connected to an agent, per campaign.

    Returns:
        int64[n], the attempts to launch now.

    Raises:
        ValueError: an argument is of the wrong kind, shape or range (ratio < 1 included).
    """
    n = _row_count({"ratio": ratio, "idle": idle, "unconnected": unconnected})
    r = float_rows("ratio", ratio, n, lo=1.0, hi=MAX_RATIO)
    out = np.empty(n, dtype=np.int64)
    _progressive_launch(r, int_rows("idle", idle, n, hi=MAX_COUNT),
                        int_rows("unconnected", unconnected, n, hi=MAX_COUNT), out)
    return out


def preview_launch(requests, dialling) -> np.ndarray:
    """New attempts per campaign under preview dialing: one per pending agent request.

    ``max(0, requests - dialling)``.

    Args:
        requests: agents' pending preview requests (agents who accepted a previewed contact
            and asked to dial), per campaign.
        dialling: previews already dialling (launched, not yet ended), per campaign.

    Returns:
        int64[n].

    Raises:
        ValueError: an argument is not a non-negative integer array of the common length.
    """
    n = _row_count({"requests": requests, "dialling": dialling})
    out = np.empty(n, dtype=np.int64)
    _preview_launch(int_rows("requests", requests, n, hi=MAX_COUNT),
                    int_rows("dialling", dialling, n, hi=MAX_COUNT), out)
    return out
