"""The per-sensor window-neighbour distances (tsdiff.scoring.neighbours)."""

from __future__ import annotations

import numpy as np
import pytest

from tsdiff.scoring.neighbours import WindowNeighbours, centred_windows, scored_steps


def _brute_force(values, observed, reference, length, k):
    """Distances one window and one reference window at a time."""
    n, n_sensors = values.shape
    before = (length - 1) // 2
    out = np.full((n, n_sensors), np.nan)
    for j in range(n_sensors):
        for t in range(n):
            if not observed[t, j]:
                continue
            cells = [
                (i, t - before + i)
                for i in range(length)
                if 0 <= t - before + i < n and observed[t - before + i, j]
            ]
            if len(cells) < length / 2:
                continue
            d = sorted(
                sum((values[r, j] - ref[i]) ** 2 for i, r in cells) * length / len(cells)
                for ref in reference[j]
            )
            out[t, j] = np.sqrt(d[k - 1])
    return out


def test_distances_equal_a_brute_force_computation_with_missing_cells():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(60, 3))
    test = rng.normal(size=(25, 3))
    test[5:9, 1] += 4.0
    observed = rng.random(test.shape) > 0.2
    neighbours = WindowNeighbours(length=6, n_neighbors=3, max_reference=40, step=1)
    reference = neighbours.reference([train], [np.ones_like(train, dtype=bool)])
    assert reference.shape == (3, 40, 6)
    got = neighbours.cell_scores([np.where(observed, test, np.nan)], [observed], reference)[0]
    want = _brute_force(test, observed, reference, 6, 3)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.isnan(got[~observed]).all()


def test_a_shifted_level_scores_higher_than_the_same_shape_at_the_training_level():
    rng = np.random.default_rng(1)
    train = np.sin(np.arange(400)[:, None] / 5.0) + 0.1 * rng.normal(size=(400, 2))
    test = train[:200].copy()
    test[100:150, 0] += 2.0  # a sustained shift of sensor 0 only
    neighbours = WindowNeighbours(length=16)
    reference = neighbours.reference([train], [np.ones_like(train, dtype=bool)])
    scores = neighbours.cell_scores([test], [np.ones_like(test, dtype=bool)], reference)[0]
    assert scores[110:140, 0].min() > 3 * np.median(scores[:90, 0])
    assert scores[110:140, 1].max() < 2 * np.median(scores[:90, 1]) + 1e-6


def test_a_part_of_a_series_scores_as_the_whole_series_with_its_context():
    rng = np.random.default_rng(2)
    train, series = rng.normal(size=(200, 2)), rng.normal(size=(120, 2))
    neighbours = WindowNeighbours(length=8, step=3)
    reference = neighbours.reference([train], [np.ones_like(train, dtype=bool)])
    whole = neighbours.cell_scores([series], [np.ones_like(series, dtype=bool)], reference)[0]
    before, after = neighbours.context
    start, stop = 50, 80
    part = series[start - before : stop + after]
    got = neighbours.cell_scores(
        [part], [np.ones_like(part, dtype=bool)], reference, row_offset=start - before
    )[0]
    np.testing.assert_array_equal(got[before : before + stop - start], whole[start:stop])


def test_scored_steps_take_the_nearest_multiple_of_the_step():
    centres, nearest = scored_steps(10, 4)
    assert centres.tolist() == [0, 4, 8]
    assert centres[nearest].tolist() == [0, 0, 0, 4, 4, 4, 4, 8, 8, 8]
    centres, nearest = scored_steps(3, 4, row_offset=1)  # rows 1..3 hold no multiple of 4
    assert centres.tolist() == [0, 1, 2]


def test_centred_windows_leave_the_outside_of_the_series_out():
    values = np.arange(5, dtype=float)[:, None]
    windows, inside = centred_windows(values, np.ones_like(values, dtype=bool), 4)
    assert windows[0, 0].tolist() == [0.0, 0.0, 1.0, 2.0]
    assert inside[0, 0].tolist() == [False, True, True, True]


def test_series_too_short_warn_and_bad_parameters_are_named():
    neighbours = WindowNeighbours(length=16)
    short = np.zeros((5, 2))
    with pytest.warns(UserWarning, match="No training series has 16 steps"):
        reference = neighbours.reference([short], [np.ones_like(short, dtype=bool)])
    scores = neighbours.cell_scores([short], [np.ones_like(short, dtype=bool)], reference)
    assert np.isnan(scores[0]).all()
    with pytest.raises(ValueError, match="n_neighbors"):
        WindowNeighbours(n_neighbors=10, max_reference=5).validate()
    with pytest.raises(ValueError, match="length"):
        WindowNeighbours(length=0).validate()
