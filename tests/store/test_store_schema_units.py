"""The arithmetic under the roll-ups: slot boundaries and the dwell histogram."""

from __future__ import annotations

import math
import random

import numpy as np

from affectra_edge.store.schema import (
    DAY_S,
    HIST_BINS,
    HIST_EDGES,
    SLOT_S,
    blob_to_hist,
    hist_bin,
    hist_median,
    hist_of,
    hist_to_blob,
    slot_of,
)


def test_slot_of_agrees_with_the_range_comparisons():
    rng = random.Random(5)
    values = [k * SLOT_S + d for k in (1_944_444, 1_944_445) for d in (0.0, -1e-6, 1e-6)]
    values += [math.nextafter(1_944_445 * SLOT_S, 0.0), rng.uniform(1e9, 2e9)]
    values += [rng.uniform(1e9, 2e9) for _ in range(1000)]
    for ts in values:
        for size in (SLOT_S, DAY_S):
            k = slot_of(ts, size)
            assert k * size <= ts < (k + 1) * size, (ts, size, k)


def test_hist_bins_follow_the_edges():
    rng = random.Random(9)
    samples = [0.0, 0.1, 0.25, 0.2500001, 1.0, 59.9, 3600.0, 1e7, *(HIST_EDGES[1:-1])]
    samples += [rng.lognormvariate(2, 1.5) for _ in range(2000)]
    for d in samples:
        i = hist_bin(d)
        assert 0 <= i < HIST_BINS
        assert HIST_EDGES[i] <= d < HIST_EDGES[i + 1], (d, i)
    assert hist_bin(float("nan")) == 0
    assert hist_bin(float("inf")) == HIST_BINS - 1


def test_hist_median_is_close_and_blob_round_trips():
    rng = np.random.default_rng(3)
    d = rng.lognormal(np.log(8.0), 0.9, 5001)
    h = hist_of(d)
    assert int(h.sum()) == 5001
    assert np.array_equal(blob_to_hist(hist_to_blob(h)), h)
    assert len(hist_to_blob(h)) == HIST_BINS * 4
    true = float(np.median(d))
    assert abs(hist_median(h) - true) / true < 0.05
    assert hist_median(np.zeros(HIST_BINS, dtype=np.int64)) == 0.0
