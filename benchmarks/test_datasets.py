"""Checks of the benchmarks' data loading: ``python -m pytest benchmarks``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import datasets


def test_data_dir_is_beside_the_repository_unless_overridden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    repo = Path(datasets.__file__).resolve().parents[1]
    assert datasets.data_dir() == repo.parent / "shared" / "data"
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    assert datasets.data_dir() == tmp_path


def test_missing_data_names_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    with pytest.raises(datasets.DataMissing, match=str(tmp_path / "smd")):
        datasets.load_smd("machine-3-3")
    with pytest.raises(datasets.DataMissing, match="TSDIFF_DATA"):
        datasets.load_aqi36()


def test_split_tail_holds_out_the_end_or_nothing_when_too_short() -> None:
    frame = pd.DataFrame({"a": np.arange(200.0)})
    fit, held = datasets.split_tail(frame, 0.2, min_rows=32)
    assert held is not None and (len(fit), len(held)) == (160, 40)
    assert held["a"].iloc[0] == 160.0
    fit, held = datasets.split_tail(frame.iloc[:60], 0.2, min_rows=32)
    assert held is None and len(fit) == 60


def _require(name: str) -> None:
    if not (datasets.data_dir() / name).is_dir():
        pytest.skip(f"no {name} data at {datasets.data_dir()}")


def test_smd_machine_split() -> None:
    _require("smd")
    split = datasets.load_smd("machine-3-3")
    assert len(split.fit[0]) + len(split.calibration[0]) == len(split.train[0])
    assert split.test[0].shape[1] == len(split.columns) == 38
    assert set(np.unique(split.labels[0])) == {0, 1}
    start, end, sensors = split.interpretation[0][0]
    assert split.labels[0][start : end + 1].all() and set(sensors) <= set(split.columns)


def test_skab_runs_and_anomaly_free() -> None:
    _require("skab")
    runs = datasets.skab_runs()[:2]
    split = datasets.load_skab(runs=runs)
    assert split.test_names == runs and len(split.test) == 2
    assert len(split.train) == 3  # the two runs and anomaly_free
    assert len(datasets.load_skab(with_anomaly_free=False, runs=runs).train) == 2


def test_aqi36_split() -> None:
    _require("air_quality_pm25")
    split = datasets.load_aqi36()
    assert [pd.DatetimeIndex(f.index).month[0] for f in split.test_input] == list(
        datasets.AQI36_TEST_MONTHS
    )
    assert len(split.train) == 7 and pd.DatetimeIndex(split.validation[0].index).month[0] == 11
    assert split.n_targets > 0
