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
