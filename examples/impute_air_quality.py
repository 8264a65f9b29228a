"""Fill hidden and real gaps in the bundled Beijing air-quality data; compare with interpolation.

The data are a DataFrame with an hourly ``DatetimeIndex`` and about 1.6 % genuinely missing
cells. On top of those, 15 % of the observed test cells and one whole day of one sensor are
hidden so that the imputation can be scored against the truth. Run from the repository root::

    python examples/impute_air_quality.py --fast        # tiny model, well under a minute
    python examples/impute_air_quality.py               # 90 s of training, 2-3 minutes on 2 cores

A plot of two sensors with the 90 % interval is written to ``--out`` (default: a temporary
folder with ``--fast``, ``./tsdiff-examples`` otherwise) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality
from tsdiff.metrics import coverage, crps, mae

TINY = {"channels": 16, "n_layers": 1, "n_heads": 2}


def main(fast: bool, out: Path) -> None:
    frame = load_air_quality()  # hourly, 2 stations x 6 variables, DatetimeIndex, real NaNs
    if fast:
        frame = frame.iloc[: 24 * 21]  # three weeks
    split = int(len(frame) * 0.78)
    train, test = frame.iloc[:split], frame.iloc[split:]
    gaps = int(test.isna().sum().sum())
    print(f"train {train.shape}, test {test.shape}, real gaps in test: {gaps}")

    rng = np.random.default_rng(0)
    hidden = test.notna().to_numpy() & (rng.random(test.shape) < 0.15)
    column = test.columns.get_loc("Dongsi.PM2.5")
    hidden[24:48, column] = test["Dongsi.PM2.5"].notna().to_numpy()[24:48]  # a whole day
    test_input = test.mask(hidden)  # NaN = missing: the real gaps and the hidden cells

    settings = (
        {"model": TINY, "max_epochs": 2, "train_stride": 4, "n_samples": 8}
        if fast
        else {"max_time": 90, "n_samples": 32}
    )
    imputer = TSDiffImputer(window_length=36, random_state=0, verbose=False, **settings)
    imputer.fit(train)  # the real gaps of train need no special handling
    samples = imputer.sample(test_input)  # [n_samples, n_rows, n_columns], original units
    filled = imputer.transform(test_input)  # same DatetimeIndex and columns
    lower, upper = imputer.predict_interval(test_input, coverage=0.9)

    truth = test.to_numpy()
    linear = test_input.interpolate(method="time", limit_direction="both").to_numpy()
    print(f"trained {imputer.n_epochs_} epochs in {imputer.training_seconds_:.0f} s")
    model_mae = mae(truth, filled.to_numpy(), hidden)
    model_crps = crps(truth, samples, hidden)
    model_coverage = coverage(truth, lower.to_numpy(), upper.to_numpy(), hidden)
    print(f"tsdiff  MAE {model_mae:7.3f}  CRPS {model_crps:.4f}  90% coverage {model_coverage:.3f}")
    print(f"linear  MAE {mae(truth, linear, hidden):7.3f}")
    print(f"real gaps left: {int(filled.isna().sum().sum())}")

    try:
        import matplotlib.pyplot as plt

        from tsdiff.plot import plot_imputation
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_imputation(
        test_input,
        filled,
        lower,
        upper,
        hidden=test,
        columns=["Dongsi.PM2.5", "Dongsi.O3"],
        title="Air quality: hidden cells, imputed with the 90 % interval",
    )
    fig.savefig(out / "imputation.png", dpi=120)
    plt.close(fig)
    print(f"plot: {out / 'imputation.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny model and data (CI)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the plot")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default = Path(tempfile.mkdtemp(prefix="tsdiff-")) if args.fast else Path("tsdiff-examples")
    main(args.fast, args.out or default)
