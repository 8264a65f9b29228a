"""Impute hidden cells of the bundled Beijing air-quality slice; compare with linear interpolation.

Run: python examples/impute_air_quality.py  (about 2-3 minutes on 2 CPU cores)
"""

from __future__ import annotations

import numpy as np

from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality
from tsdiff.metrics import coverage, crps, mae


def main() -> None:
    frame = load_air_quality()  # hourly, 2 stations x 6 variables, DatetimeIndex
    train, test = frame.iloc[:1700], frame.iloc[1700:]
    rng = np.random.default_rng(0)
    hidden = test.notna().to_numpy() & (rng.random(test.shape) < 0.15)
    test_input = test.mask(hidden)

    imputer = TSDiffImputer(
        window_length=36, max_time=90, n_samples=32, random_state=0, verbose=False
    )
    imputer.fit(train)
    samples = imputer.sample(test_input)  # [32, n_rows, n_columns], original units
    filled = imputer.transform(test_input)
    lower, upper = imputer.predict_interval(test_input, coverage=0.9)

    truth = test.to_numpy()
    linear = test_input.interpolate(method="time", limit_direction="both").to_numpy()
    print(f"trained {imputer.n_epochs_} epochs in {imputer.training_seconds_:.0f} s")
    model_mae = mae(truth, filled.to_numpy(), hidden)
    model_crps = crps(truth, samples, hidden)
    model_coverage = coverage(truth, lower.to_numpy(), upper.to_numpy(), hidden)
    print(f"tsdiff  MAE {model_mae:7.3f}  CRPS {model_crps:.4f}  90% coverage {model_coverage:.3f}")
    print(f"linear  MAE {mae(truth, linear, hidden):7.3f}")


if __name__ == "__main__":
    main()
