"""Plumbing of benchmarks/stays.py, without data or training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.stays import STAY_HOURS, cut_stays, hide, linear_fill, sample_crps


def test_stays_are_48_hour_blocks_of_each_column_group() -> None:
    frame = pd.DataFrame(np.arange(100 * 7, dtype=float).reshape(100, 7))
    stays = cut_stays(frame, n_variables=3)  # groups of columns 0-2 and 3-5; column 6 left out
    assert len(stays) == 2 * (100 // STAY_HOURS)
    assert all(s.shape == (STAY_HOURS, 3) for s in stays)
    np.testing.assert_array_equal(stays[1].to_numpy(), frame.iloc[48:96, :3].to_numpy())
    np.testing.assert_array_equal(stays[2].to_numpy(), frame.iloc[:48, 3:6].to_numpy())


def test_hide_masks_about_the_fraction_and_keeps_the_originals() -> None:
    stays = [pd.DataFrame(np.ones((STAY_HOURS, 10))) for _ in range(20)]
    hidden = hide(stays, 0.78, seed=0)
    share = np.mean([np.isnan(h.to_numpy()).mean() for h in hidden])
    assert abs(share - 0.78) < 0.02
    assert not any(np.isnan(s.to_numpy()).any() for s in stays)


def test_linear_fill_interpolates_and_falls_back_to_the_mean() -> None:
    stay = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "b": [np.nan] * 4})
    filled = linear_fill([stay], pd.Series({"a": 0.0, "b": 7.0}))
    np.testing.assert_allclose(filled[0], [[1, 7], [2, 7], [3, 7], [3, 7]])


def test_sample_crps_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    samples, truth = rng.normal(size=(9, 5)), rng.normal(size=5)
    pairwise = np.abs(samples[:, None] - samples[None]).mean(axis=(0, 1))
    expected = np.mean(np.abs(samples - truth).mean(axis=0) - 0.5 * pairwise)
    assert np.isclose(sample_crps(samples, truth), expected)
    assert np.isclose(sample_crps(np.full((4, 1), 2.0), np.array([5.0])), 3.0)
