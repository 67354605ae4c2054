"""pacer.lookahead's five-row prefix sums give, bit for bit, a plain running sum of each row
(the same additions in the same order), and stack the rows' counts they read."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.lookahead import _prefixes


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       bins=st.lists(st.integers(1, 60), min_size=5, max_size=5),
       frac=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5),
       scale=st.sampled_from([1e-9, 1.0, 1e6]))
def test_prefixes_equal_a_running_sum_row_by_row(seed, bins, frac, scale):
    rng = np.random.default_rng(seed)
    rows = 3
    counts = [rng.exponential(scale, (rows, b)) for b in bins]
    which = [int(rng.integers(0, rows)) for _ in bins]
    needed = [round(f * b) for f, b in zip(frac, bins, strict=True)]  # 0 .. all bins
    want = [np.full(b + 1, np.nan) for b in bins]
    for c, r, n, p in zip(counts, which, needed, want, strict=True):
        acc = p[0] = 0.0  # the running sum in plain Python floats: IEEE doubles, in order
        for k in range(n):
            acc += float(c[r, k])
            p[k + 1] = acc
    hc = np.full((5, max(bins)), np.nan)
    hp = np.full((5, max(bins) + 1), np.nan)
    args = []
    for c, r, n in zip(counts, which, needed, strict=True):
        args += [c, r, n]
    _prefixes(*args, hc, hp)
    for i, (c, r, n, w) in enumerate(zip(counts, which, needed, want, strict=True)):
        assert np.array_equal(w[:n + 1], hp[i, :n + 1])  # bit for bit, both running sums
        assert np.array_equal(c[r, :n], hc[i, :n])  # the counts read, as they are
        assert np.isnan(hp[i, n + 1:]).all()  # nothing written past the bins needed
        assert np.isnan(hc[i, n:]).all()
