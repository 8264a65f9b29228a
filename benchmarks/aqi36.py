"""The AQI-36 imputation protocol of BRITS/GRIN/CSDI on ``../shared/data/air_quality_pm25``.

* Test months 3, 6, 9, 12: the model gets ``data`` (with its gaps); the evaluation targets are
  the cells present in ``ground`` but missing in ``data``.
* Training months: the other eight, with their ``ground`` values (as CSDI trains); one of them
  (month 11 by default) is held out as validation data.
* Each month is its own series (the months are not contiguous).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TEST_MONTHS = (3, 6, 9, 12)
VALIDATION_MONTH = 11


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository, or ``$TSDIFF_SHARED_DATA``."""
    env = os.environ.get("TSDIFF_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class AQI36Split:
    """Series of one protocol split."""

    train: list[pd.DataFrame]
    validation: list[pd.DataFrame]
    test_input: list[pd.DataFrame]
    test_truth: list[pd.DataFrame]
    test_targets: list[np.ndarray]

    @property
    def n_targets(self) -> int:
        return int(sum(t.sum() for t in self.test_targets))


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"time": str})
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")), name="time")
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(np.float64)


def _by_month(frame: pd.DataFrame, months: tuple[int, ...]) -> list[pd.DataFrame]:
    return [frame[frame.index.month == m] for m in months]


def load_aqi36(
    data_dir: Path | None = None, validation_month: int = VALIDATION_MONTH
) -> AQI36Split:
    """Load AQI-36 and split it by the CSDI protocol."""
    root = (data_dir or shared_data_dir()) / "air_quality_pm25"
    data = _read(root / "data.csv.gz")
    ground = _read(root / "ground.csv.gz")
    if not data.index.equals(ground.index):
        raise ValueError("data and ground time axes differ")
    train_months = tuple(m for m in range(1, 13) if m not in TEST_MONTHS and m != validation_month)
    test_input = _by_month(data, TEST_MONTHS)
    test_truth = _by_month(ground, TEST_MONTHS)
    targets = [
        t.notna().to_numpy() & i.isna().to_numpy()
        for i, t in zip(test_input, test_truth, strict=True)
    ]
    return AQI36Split(
        train=_by_month(ground, train_months),
        validation=_by_month(ground, (validation_month,)),
        test_input=test_input,
        test_truth=test_truth,
        test_targets=targets,
    )


if __name__ == "__main__":
    split = load_aqi36()
    print("train months:", [len(f) for f in split.train])
    print("validation months:", [len(f) for f in split.validation])
    print("test months:", [len(f) for f in split.test_input], "targets:", split.n_targets)
    truth = np.concatenate([t.to_numpy() for t in split.test_truth])
    mask = np.concatenate(split.test_targets)
    lin = np.concatenate(
        [f.interpolate(method="time", limit_direction="both").to_numpy() for f in split.test_input]
    )
    print("linear interpolation MAE:", np.abs(lin[mask] - truth[mask]).mean())
