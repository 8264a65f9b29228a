"""The benchmarks' data sets, read from the shared data folder beside the repository.

* SMD (Server Machine Dataset): one machine's training series, its labelled test series and
  the labelled sensors of each event (``interpretation_label.txt``).
* SKAB (Skoltech Anomaly Benchmark): every run's training part (plus ``anomaly_free``) and its
  labelled test part.
* AQI-36 (Beijing PM2.5, 36 stations): the BRITS/GRIN/CSDI imputation split.

The folder is ``../shared/data`` beside the repository (``$TSDIFF_DATA`` overrides it). A data
set that is not there raises :class:`DataMissing` naming the path it looked for; tests skip on it.

Detection splits hold the last ``calibration_fraction`` of each training series out of fitting:
it normalises per-sensor scores and sets the label-free threshold, for tsdiff and the baselines
alike. Test labels are only used for metrics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATA_ENV = "TSDIFF_DATA"
SMD_MACHINES = ("machine-1-6", "machine-2-1", "machine-2-2", "machine-3-3")
CALIBRATION_FRACTION = 0.2
AQI36_TEST_MONTHS = (3, 6, 9, 12)
AQI36_VALIDATION_MONTH = 11


class DataMissing(FileNotFoundError):
    """A benchmark data set is not in the data folder."""


def data_dir() -> Path:
    """The shared data folder: ``$TSDIFF_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def dataset_dir(name: str) -> Path:
    """The folder of one data set (``"smd"``, ``"skab"``, ``"air_quality_pm25"``).

    Raises
    ------
    DataMissing
        If it does not exist.
    """
    path = data_dir() / name
    if not path.is_dir():
        raise DataMissing(
            f"Benchmark data {name!r} not found at {path}; put the shared data folder there "
            f"or point ${DATA_ENV} at it."
        )
    return path


# -- detection ------------------------------------------------------------------------------
Event = tuple[int, int, list[str]]


@dataclass
class Split:
    """Training series (fit and calibration parts) and labelled test series of one data set.

    Attributes
    ----------
    name : str
        The SMD machine, or ``"SKAB"``.
    train : list of DataFrame
        Whole training series (tsdiff holds its own calibration tail out of them).
    fit, calibration : list of DataFrame
        The training series without their tail, and the tails (series too short to split are
        fitted on whole and have no tail).
    test : list of DataFrame
        Test series, float64, without the label column.
    labels : list of ndarray
        0/1 label per test step.
    test_names : list of str
        One name per test series.
    interpretation : list of list of (start, end, sensors)
        SMD only: per test series, each event's first and last row (inclusive) and its
        labelled sensors.
    """

    name: str
    train: list[pd.DataFrame]
    fit: list[pd.DataFrame]
    calibration: list[pd.DataFrame]
    test: list[pd.DataFrame]
    labels: list[np.ndarray]
    test_names: list[str]
    interpretation: list[list[Event]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """The sensor names."""
        return [str(c) for c in self.fit[0].columns]


def split_tail(
    frame: pd.DataFrame, fraction: float = CALIBRATION_FRACTION, min_rows: int = 32
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``frame`` without its last ``fraction`` of rows (at least ``min_rows``), and those rows;
    ``(frame, None)`` when either part would be shorter than ``min_rows``."""
    held = max(round(fraction * len(frame)), min_rows)
    if len(frame) - held < min_rows:
        return frame, None
    return frame.iloc[: len(frame) - held], frame.iloc[len(frame) - held :]


def read_interpretation(path: Path) -> list[Event]:
    """SMD's ``interpretation_label.txt``: ``start-end:dim,dim`` per event, 0-based test rows
    with an exclusive end (checked against the labels), sensors named ``dimNN``."""
    events = []
    for line in path.read_text().split():
        span, dims = line.split(":")
        start, end = (int(v) for v in span.split("-"))
        events.append((start, end - 1, [f"dim{int(d):02d}" for d in dims.split(",")]))
    return events


def load_smd(machine: str, calibration_fraction: float = CALIBRATION_FRACTION) -> Split:
    """One SMD machine: train (fit and calibration parts), labelled test, interpretation."""
    root = dataset_dir("smd") / machine
    if not root.is_dir():
        raise DataMissing(f"SMD machine {machine!r} not found at {root}.")
    train = pd.read_csv(root / "train.csv.gz", index_col="time").astype(np.float64)
    test = pd.read_csv(root / "test.csv.gz", index_col="time")
    labels = test.pop("label").to_numpy().astype(np.int64)
    fit, calibration = split_tail(train, calibration_fraction)
    if calibration is None:
        raise ValueError(f"{machine}: training series too short for a calibration part.")
    return Split(
        machine,
        [train],
        [fit],
        [calibration],
        [test.astype(np.float64)],
        [labels],
        [machine],
        [read_interpretation(root / "interpretation_label.txt")],
    )


def _read_skab(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")), name="time")
    return frame


def skab_runs() -> list[str]:
    """The names of SKAB's 34 runs (``other_01``, ..., ``valve2_03``)."""
    root = dataset_dir("skab")
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def load_skab(
    with_anomaly_free: bool = True,
    runs: list[str] | None = None,
    calibration_fraction: float = CALIBRATION_FRACTION,
) -> Split:
    """SKAB: each run's train part (fit and calibration parts by time), optionally plus
    ``anomaly_free``, and each run's labelled test part. ``runs`` restricts both to those runs."""
    root = dataset_dir("skab")
    names = [n for n in skab_runs() if not runs or n in runs]
    trains, fit, calibration, test, labels = [], [], [], [], []
    parts = [root / n / "train.csv.gz" for n in names]
    if with_anomaly_free:
        parts.append(root / "anomaly_free.csv.gz")
    for path in parts:
        train = _read_skab(path).astype(np.float64)
        trains.append(train)
        part, held = split_tail(train, calibration_fraction)
        fit.append(part)
        if held is not None:
            calibration.append(held)
    for name in names:
        frame = _read_skab(root / name / "test.csv.gz")
        labels.append(frame.pop("label").to_numpy().astype(np.int64))
        test.append(frame.astype(np.float64))
    return Split("SKAB", trains, fit, calibration, test, labels, names)


def load_detection(name: str) -> Split:
    """``"SKAB"`` or one SMD machine (e.g. ``"machine-3-3"``)."""
    return load_skab() if name == "SKAB" else load_smd(name)


# -- imputation: AQI-36 ---------------------------------------------------------------------
@dataclass
class AQI36Split:
    """AQI-36 by the CSDI protocol: each month is its own series (months are not contiguous).

    Attributes
    ----------
    train : list of DataFrame
        The eight training months, ground-truth values.
    validation : list of DataFrame
        The validation month, ground-truth values.
    test_input : list of DataFrame
        Test months 3, 6, 9, 12 with their gaps (the model's input).
    test_truth : list of DataFrame
        The same months, ground truth.
    test_targets : list of ndarray of bool
        Evaluation targets: cells present in the ground truth but missing in the input.
    """

    train: list[pd.DataFrame]
    validation: list[pd.DataFrame]
    test_input: list[pd.DataFrame]
    test_truth: list[pd.DataFrame]
    test_targets: list[np.ndarray]

    @property
    def n_targets(self) -> int:
        """Number of evaluation targets."""
        return int(sum(t.sum() for t in self.test_targets))


def _read_aqi(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"time": str})
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")), name="time")
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(np.float64)


def _by_month(frame: pd.DataFrame, months: tuple[int, ...]) -> list[pd.DataFrame]:
    month = pd.DatetimeIndex(frame.index).month
    return [frame[month == m] for m in months]


def load_aqi36(
    data: Path | None = None, validation_month: int = AQI36_VALIDATION_MONTH
) -> AQI36Split:
    """Load AQI-36 (``air_quality_pm25``) and split it by the CSDI protocol.

    Parameters
    ----------
    data : Path, optional
        The shared data folder (default :func:`data_dir`).
    validation_month : int, default=11
        The training month held out as validation data.
    """
    root = data / "air_quality_pm25" if data is not None else dataset_dir("air_quality_pm25")
    given = _read_aqi(root / "data.csv.gz")
    ground = _read_aqi(root / "ground.csv.gz")
    if not given.index.equals(ground.index):
        raise ValueError("data and ground time axes differ")
    train_months = tuple(
        m for m in range(1, 13) if m not in AQI36_TEST_MONTHS and m != validation_month
    )
    test_input = _by_month(given, AQI36_TEST_MONTHS)
    test_truth = _by_month(ground, AQI36_TEST_MONTHS)
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
