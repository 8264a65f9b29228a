"""Issue 14: whole-window (SDEdit) reconstruction scores, the combined scorer, the
``strips_mix_full`` training target and per-window seeding of the detector's sampling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import detector_tiny_params

from tsdiff import TSDiffAnomalyDetector
from tsdiff.data.masking import FULL_WINDOW_FRACTION, condition_mask
from tsdiff.scoring import CombinedScorer, MaskedReimputationScorer, WholeWindowScorer
from tsdiff.scoring.seeded import reverse_steps


def sensors(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(2 * np.pi * t / 24)
    data = {
        "a": base + 0.1 * rng.standard_normal(n),
        "b": 0.5 * base + 0.1 * rng.standard_normal(n),
        "c": np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
    }
    frame = pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="min"))
    if shift:
        frame.iloc[n // 2 :, 0] += shift
    return frame


def whole_params(**kwargs: Any) -> dict[str, Any]:
    params = detector_tiny_params()
    params["scorer"] = CombinedScorer(
        masked=params["scorer"], whole=WholeWindowScorer(**kwargs) if kwargs else None
    )
    return params


@pytest.fixture(scope="module")
def fitted() -> TSDiffAnomalyDetector:
    return TSDiffAnomalyDetector(**whole_params(start_step=4, sampling_steps=2)).fit(
        sensors(400, 0)
    )


def test_strips_mix_full_hides_whole_windows_in_a_share_of_the_batch() -> None:
    observed = torch.ones((2000, 3, 16), dtype=torch.bool)
    hide = torch.from_numpy(MaskedReimputationScorer(strip_length=8).masks(3, 16))
    generator = torch.Generator().manual_seed(0)
    cond = condition_mask(observed, "strips_mix_full", generator, hide)
    empty = (~cond).flatten(1).all(dim=1).float().mean().item()
    assert abs(empty - FULL_WINDOW_FRACTION) < 0.05
    with pytest.raises(ValueError, match="hide_masks"):
        condition_mask(observed, "strips_mix_full", generator)


def test_reverse_steps_start_where_asked() -> None:
    assert reverse_steps(10, 10) == list(range(9, -1, -1))
    assert reverse_steps(10, 3, start_step=4) == [4, 2, 0]
    assert reverse_steps(10, 9, start_step=2) == [2, 1, 0]
    with pytest.raises(ValueError, match="start_step"):
        reverse_steps(10, 3, start_step=10)


def test_whole_window_scorer_validates_start_step() -> None:
    with pytest.raises(ValueError, match="start_step"):
        WholeWindowScorer(start_step=10).validate(16, 10)
    WholeWindowScorer(start_step=9).validate(16, 10)
    assert WholeWindowScorer().masks(3, 16).all()


def test_detector_trains_on_full_windows_for_the_whole_scorer() -> None:
    assert TSDiffAnomalyDetector()._training_settings()["target_strategy"] == "strips_mix"
    for scorer in (WholeWindowScorer(), CombinedScorer()):
        detector = TSDiffAnomalyDetector(scorer=scorer)
        assert detector._training_settings()["target_strategy"] == "strips_mix_full"


def test_combined_scores_fold_to_one_column_per_sensor(fitted: TSDiffAnomalyDetector) -> None:
    test = sensors(200, 1, shift=3.0)
    result = fitted.detect(test)
    assert result.sensor_scores.shape == test.shape
    assert list(result.sensor_scores.columns) == list(test.columns)
    scores = np.asarray(result.scores)
    assert np.isfinite(scores).all()
    # the shifted half scores higher than the normal half
    assert scores[120:].mean() > scores[:80].mean()


def test_fold_max_and_mean() -> None:
    table = np.array([[1.0, np.nan, 3.0, 2.0], [0.0, 5.0, np.nan, 1.0]])
    np.testing.assert_allclose(
        CombinedScorer(fold="max").fold_sensors(table), [[3.0, 2.0], [0.0, 5.0]]
    )
    np.testing.assert_allclose(
        CombinedScorer(fold="mean").fold_sensors(table), [[2.0, 2.0], [0.0, 3.0]]
    )


def test_window_noise_does_not_depend_on_the_other_windows(
    fitted: TSDiffAnomalyDetector,
) -> None:
    series = sensors(160, 2)
    parsed = fitted._check_fitted_input(series).series(fitted.time_step_)
    full = fitted._cell_scores(fitted.scorer_, parsed)[0]
    first = fitted._check_fitted_input(series.iloc[:96]).series(fitted.time_step_)
    part = fitted._cell_scores(fitted.scorer_, first)[0]
    # windows of 16 at 0, 16, ..., 80 are the same windows in both calls
    np.testing.assert_allclose(part[:96], full[:96], rtol=1e-5, atol=1e-5)


def test_combined_scorer_round_trips_through_save(tmp_path: Any, fitted: Any) -> None:
    fitted.save(tmp_path / "model")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "model")
    assert isinstance(loaded.scorer_, CombinedScorer)
    test = sensors(96, 3)
    np.testing.assert_allclose(
        np.asarray(loaded.detect(test).scores), np.asarray(fitted.detect(test).scores)
    )


def test_config_builds_the_new_scorers() -> None:
    from tsdiff.config import build_component

    scorer = build_component(
        {"type": "CombinedScorer", "whole": {"n_samples": 1, "start_step": 3}, "fold": "mean"}
    )
    masked, whole = scorer.parts()
    assert isinstance(masked, MaskedReimputationScorer)
    assert whole.n_samples == 1 and whole.start_step == 3
