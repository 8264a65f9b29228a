"""A few-epoch model on a slice of real AQI-36 data beats column-mean imputation clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_dataset

from tsdiff import TSDiffImputer
from tsdiff.metrics import coverage, crps, mae


@pytest.mark.slow
def test_aqi36_slice_beats_column_mean() -> None:
    root = shared_dataset("air_quality_pm25")
    ground = pd.read_csv(root / "ground.csv.gz", index_col="time", parse_dates=["time"]).iloc[
        :, :12
    ]
    train, test = ground.iloc[:1200], ground.iloc[1200:1500]
    rng = np.random.default_rng(0)
    observed = test.notna().to_numpy()
    hidden = observed & (rng.random(test.shape) < 0.2)
    test_input = test.mask(hidden)
    imputer = TSDiffImputer(
        window_length=24,
        model={"channels": 32, "n_layers": 2, "n_heads": 4},
        max_epochs=4,
        batch_size=32,
        train_stride=2,
        n_samples=16,
        sampling_steps=5,
        trainer_kwargs={"accelerator": "cpu"},
        random_state=0,
        verbose=False,
    ).fit(train)
    filled = imputer.transform(test_input)
    truth = test.to_numpy()
    model_mae = mae(truth, filled.to_numpy(), hidden)
    mean_mae = mae(truth, test_input.fillna(train.mean()).to_numpy(), hidden)
    assert model_mae < 0.6 * mean_mae, (model_mae, mean_mae)
    samples = imputer.sample(test_input)
    assert crps(truth, samples, hidden) < 0.6 * crps(
        truth, test_input.fillna(train.mean()).to_numpy()[None], hidden
    )
    lower, upper = imputer.predict_interval(test_input, coverage=0.9)
    assert coverage(truth, lower.to_numpy(), upper.to_numpy(), hidden) > 0.5
