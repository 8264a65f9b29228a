"""Small real datasets bundled with tsdiff for the demo, examples and tests.

* :func:`load_air_quality`: 3 months of hourly air-quality readings at two Beijing stations
  (UCI Beijing Multi-Site Air-Quality data, Zhang et al. 2017, CC BY 4.0), with its genuine gaps.
* :func:`load_beijing_pm`: 4 years of hourly PM2.5 and PM10 at all 12 Beijing stations (same
  source), split into the first 3 years (``"train"``, the pretrained imputer's data) and the
  held-out last year (``"test"``, the demo's data).
* :func:`load_server_metrics`: a slice of the Server Machine Dataset (OmniAnomaly, MIT licence),
  machine-1-6: a training part without labels and a labelled test part.

See ``tsdiff/datasets/README.md`` for sources, conversion and licences.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["PM_SPLIT", "dataset_path", "load_air_quality", "load_beijing_pm", "load_server_metrics"]

#: First time stamp of the held-out part of :func:`load_beijing_pm` (``"test"``).
PM_SPLIT = "2016-03-01T00:00:00"

_FILES = {
    "air_quality": "air_quality.csv.gz",
    "beijing_pm": "beijing_pm.csv.gz",
    "server_metrics_train": "server_metrics_train.csv.gz",
    "server_metrics_test": "server_metrics_test.csv.gz",
}


def dataset_path(name: str) -> resources.abc.Traversable:
    """The packaged file of a dataset (``air_quality``, ``beijing_pm``,
    ``server_metrics_train``/``_test``).

    Returns a :class:`importlib.resources.abc.Traversable` (a ``Path`` for normal installs);
    use ``.open("rb")`` to read it wherever the package lives.
    """
    if name not in _FILES:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(_FILES)}.")
    return resources.files(__name__).joinpath(_FILES[name])


def _read(name: str) -> pd.DataFrame:
    with dataset_path(name).open("rb") as handle:
        return pd.read_csv(handle, compression="gzip")


def load_air_quality() -> pd.DataFrame:
    """Hourly air quality at two Beijing stations, September to November 2014.

    Returns
    -------
    DataFrame of shape (2184, 12)
        ``DatetimeIndex`` named ``time`` (hourly, no gaps in the time axis) and float columns
        ``<Station>.<variable>`` for the stations Aotizhongxin and Dongsi and the variables
        PM2.5, PM10, NO2, CO, O3 (ug/m3) and TEMP (degrees C). About 1.6 % of the cells are
        genuinely missing (NaN).

    Notes
    -----
    Source: UCI Beijing Multi-Site Air-Quality data (Zhang, S., Guo, B., Dong, A., He, J., Xu, Z.
    and Chen, S.X. (2017), Cautionary tales on air-quality improvement in Beijing. Proc. R. Soc.
    A 473: 20170457), licensed CC BY 4.0.
    """
    frame = _read("air_quality")
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.pop("time"), format="%Y-%m-%dT%H:%M:%S"), name="time"
    )
    return frame.astype(np.float64)


def load_beijing_pm(split: Literal["all", "train", "test"] = "all") -> pd.DataFrame:
    """Hourly PM2.5 and PM10 at the 12 Beijing stations, March 2013 to February 2017.

    Parameters
    ----------
    split : {"all", "train", "test"}, default="all"
        ``"train"``: 2013-03-01 to 2016-02-29 (26,304 hours; the data the pretrained demo
        imputer was trained on). ``"test"``: 2016-03-01 to 2017-02-28 (8,760 hours, held out
        from training). ``"all"``: both (35,064 hours).

    Returns
    -------
    DataFrame
        ``DatetimeIndex`` named ``time`` (hourly, no gaps in the time axis) and 24 float
        columns ``<Station>.PM2.5`` and ``<Station>.PM10`` (ug/m3), stations in alphabetical
        order. About 1.8 % of the cells are genuinely missing (NaN).

    Notes
    -----
    Source: UCI Beijing Multi-Site Air-Quality data (Zhang, S., Guo, B., Dong, A., He, J., Xu, Z.
    and Chen, S.X. (2017), Cautionary tales on air-quality improvement in Beijing. Proc. R. Soc.
    A 473: 20170457), licensed CC BY 4.0.
    """
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}.")
    frame = _read("beijing_pm")
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.pop("time"), format="%Y-%m-%dT%H:%M:%S"), name="time"
    )
    frame = frame.astype(np.float64)
    if split == "train":
        return frame.loc[frame.index < pd.Timestamp(PM_SPLIT)]
    if split == "test":
        return frame.loc[frame.index >= pd.Timestamp(PM_SPLIT)]
    return frame


def load_server_metrics(split: Literal["train", "test"] = "train") -> pd.DataFrame:
    """A slice of the Server Machine Dataset, machine-1-6 (20 of its 38 metrics).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        ``"train"``: the last 3000 minutes of the training half (no labels; meant as normal
        data). ``"test"``: test minutes 4000-6999, with a ``label`` column (1 = anomaly,
        14.4 % of the rows, six anomaly segments).

    Returns
    -------
    DataFrame
        Integer index ``time`` (minutes; the test part follows the training part in time),
        float columns ``dim01`` ... ``dim34`` (min-max scaled by the publishers; names are the
        1-based metric numbers), and for ``"test"`` an integer ``label`` column.

    Notes
    -----
    Source: OmniAnomaly's Server Machine Dataset (Su et al., KDD 2019), MIT licence, via the
    preprocessed arrays of zhhlee/InterFusion.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    frame = _read(f"server_metrics_{split}")
    frame.index = pd.Index(frame.pop("time").astype(np.int64), name="time")
    features = [c for c in frame.columns if c != "label"]
    frame[features] = frame[features].astype(np.float64)
    if "label" in frame:
        frame["label"] = frame["label"].astype(np.int64)
    return frame
