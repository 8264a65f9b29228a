"""Held-out calibration: blending with interpolation and interval width."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY

from tsdiff import TSDiffImputer
from tsdiff.data.interpolation import interpolate_series
from tsdiff.metrics import coverage, mae


def test_interpolate_series_matches_pandas_time_interpolation() -> None:
    rng = np.random.default_rng(0)
    index = pd.DatetimeIndex(np.cumsum(rng.integers(1, 5, 40)) * 3_600_000_000_000)
    frame = pd.DataFrame(rng.standard_normal((40, 3)), index=index).mask(rng.random((40, 3)) < 0.3)
    frame.iloc[:, 2] = np.nan
    stamps = index.asi8.astype(float) / 3.6e12
    filled = interpolate_series(frame.to_numpy(), stamps)
    expected = frame.interpolate(method="time", limit_direction="both").fillna(0.0).to_numpy()
    np.testing.assert_allclose(filled, expected, rtol=1e-10)


def _smooth(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.stack([np.sin(t / 9 + i) for i in range(3)], axis=1) + 0.02 * rng.standard_normal(
        (n, 3)
    )
    return pd.DataFrame(
        values, index=pd.date_range("2024", periods=n, freq="h"), columns=list("abc")
    )


def test_a_useless_model_falls_back_to_interpolation() -> None:
    frame = _smooth()
    params = {**TINY, "n_samples": 8, "calibration_windows": 24}
    imputer = TSDiffImputer(**params).fit(frame.iloc[:400])
    # Wreck the network: its samples become noise far from the data.
    with torch.no_grad():
        torch.nn.init.normal_(imputer.model_.output.weight, std=50.0)
    imputer._calibrate_on_held_out(
        imputer._split_validation(
            imputer._parse(frame.iloc[:400], reset=False).series(imputer.time_step_),
            imputer.validation_fraction,
        )[1]
    )
    assert np.all(imputer.blend_weights_ <= 0.2), imputer.blend_weights_
    test = frame.iloc[400:]
    hidden = np.random.default_rng(1).random(test.shape) < 0.2
    filled = imputer.transform(test.mask(hidden))
    linear = test.mask(hidden).interpolate(method="time", limit_direction="both")
    truth = test.to_numpy()
    assert mae(truth, filled.to_numpy(), hidden) <= 1.3 * mae(truth, linear.to_numpy(), hidden)


def test_calibration_can_be_switched_off_and_follows_the_sampler() -> None:
    frame = _smooth(300)
    imputer = TSDiffImputer(**{**TINY, "calibration_windows": 0}).fit(frame)
    assert np.all(imputer.blend_weights_ == 1.0) and imputer.interval_scale_ == 1.0
    calibrated = TSDiffImputer(**TINY).fit(frame)
    assert calibrated.calibrated_sampler_ == ["dpmpp_2m", TINY["sampling_steps"], 0.0]
    assert 0.2 <= calibrated.interval_scale_ <= 20.0


@pytest.mark.slow
def test_calibrated_intervals_reach_nominal_coverage_on_new_data() -> None:
    frame = _smooth(900, seed=3)
    imputer = TSDiffImputer(
        **{**TINY, "n_samples": 16, "max_epochs": 3, "calibration_windows": 40}
    ).fit(frame.iloc[:600])
    test = frame.iloc[600:]
    rng = np.random.default_rng(2)
    hidden = test.notna().to_numpy() & (rng.random(test.shape) < 0.3)
    lower, upper = imputer.predict_interval(test.mask(hidden), coverage=0.9)
    reached = coverage(test.to_numpy(), lower.to_numpy(), upper.to_numpy(), hidden)
    # Calibrated on the training mask distribution (on average half the cells hidden), the
    # intervals are at least nominal on these easier 30 % gaps; uncalibrated they were ~0.3.
    assert reached >= 0.85, reached
    imputer.set_params(calibration_windows=0)
    imputer._calibrate_on_held_out(None)  # drop the calibration: back to the raw samples
    lower, upper = imputer.predict_interval(test.mask(hidden), coverage=0.9)
    assert coverage(test.to_numpy(), lower.to_numpy(), upper.to_numpy(), hidden) < reached


def test_calibrate_relearns_for_a_changed_sampler_and_refuses_empty_data() -> None:
    frame = _smooth(300)
    imputer = TSDiffImputer(**TINY).fit(frame)
    fitted_scale = imputer.interval_scale_
    imputer.set_params(sampler="ddim", sampling_steps=2)
    assert not imputer._is_calibrated()  # samples are used as drawn until calibrated again
    assert imputer.calibrate(frame.iloc[150:]) is imputer
    assert imputer._is_calibrated()
    assert imputer.calibrated_sampler_ == ["ddim", 2, 0.0]
    assert 0.2 <= imputer.interval_scale_ <= 20.0
    assert imputer.interval_scale_ != fitted_scale
    with pytest.raises(ValueError, match="nothing to condition on"):
        imputer.calibrate(frame.iloc[:50] * np.nan)


def test_rows_to_observed_counts_rows_to_the_nearest_observation_of_the_column() -> None:
    from tsdiff.data.gaps import NO_OBSERVATION, distance_band, rows_to_observed

    rng = np.random.default_rng(0)
    observed = rng.random((3, 50, 4)) < 0.15
    observed[1, :, 2] = False  # a column without any observation
    distance = rows_to_observed(observed)
    for window in range(3):
        for column in range(4):
            rows = np.flatnonzero(observed[window, :, column])
            for row in range(50):
                expected = np.abs(rows - row).min() if len(rows) else NO_OBSERVATION
                assert distance[window, row, column] == expected
    bands = distance_band(np.array([0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 40, NO_OBSERVATION]))
    np.testing.assert_array_equal(bands, [0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5])


def test_band_scales_follow_each_band_and_fall_back_to_the_pooled_scale() -> None:
    from tsdiff.api._imputer_calibration import MIN_CELLS_PER_BAND, band_scales, interval_scale

    rng = np.random.default_rng(0)
    near = np.abs(rng.standard_normal(4000))  # band 0
    far = 3.0 * np.abs(rng.standard_normal(4000))  # band 4
    few = 10.0 * np.ones(MIN_CELLS_PER_BAND - 1)  # band 5: too few cells for its own scale
    ratios = np.concatenate([near, far, few])
    bands = np.repeat([0, 4, 5], [len(near), len(far), len(few)])
    scales = band_scales(ratios, bands, 6)
    assert scales[0] == pytest.approx(np.quantile(near, 0.9))
    assert scales[4] == pytest.approx(np.quantile(far, 0.9))
    pooled = interval_scale(ratios)
    np.testing.assert_allclose(scales[[1, 2, 3, 5]], pooled)


def test_each_missing_cell_uses_the_interval_scale_of_its_distance_band() -> None:
    from tsdiff.data.gaps import distance_band, rows_to_observed

    frame = _smooth(800)
    rng = np.random.default_rng(1)
    gappy = frame.mask(rng.random(frame.shape) < 0.2)
    gappy.iloc[650:670, 0] = np.nan  # a 20-row outage: cells up to 10 rows from an observation
    params = {**TINY, "n_samples": 8, "calibration_windows": 48, "random_state": 0}
    imputer = TSDiffImputer(**params).fit(gappy.iloc[:600])
    scales = imputer.interval_scales_
    assert scales.shape == (6,) and np.isfinite(scales).all()
    test = gappy.iloc[600:]
    lower, upper = imputer.predict_interval(test)
    # a model saved before scales per band existed uses its pooled scale for every cell
    del imputer.interval_scales_
    lower_pooled, upper_pooled = imputer.predict_interval(test)
    missing = test.isna().to_numpy()
    bands = distance_band(rows_to_observed(~missing))[missing]
    assert len(set(bands.tolist())) >= 3
    ratio = (upper - lower).to_numpy()[missing] / (upper_pooled - lower_pooled).to_numpy()[missing]
    np.testing.assert_allclose(ratio, scales[bands] / imputer.interval_scale_, rtol=1e-6)
