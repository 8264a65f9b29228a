"""Rebuild the demo data bundled in ``tsdiff/datasets`` from the shared data folder.

Usage::

    python tools/make_demo_datasets.py [SHARED_DATA_DIR]

``SHARED_DATA_DIR`` defaults to ``$TSDIFF_SHARED_DATA`` or ``../shared/data`` beside the
repository. Values are copied verbatim (as text), only rows and columns are selected; the gzip
output is deterministic (no time stamp in the header).
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tsdiff" / "datasets"

AIR_STATIONS = ("Aotizhongxin", "Dongsi")
AIR_VARIABLES = ("PM2.5", "PM10", "NO2", "CO", "O3", "TEMP")
AIR_PERIOD = ("2014-09-01T00:00:00", "2014-12-01T00:00:00")  # [start, end)

#: The 12 stations of the multi-site data, and the two particulate variables bundled for all of
#: them over the whole 4 years (the pretrained demo imputer's data).
PM_STATIONS = (
    "Aotizhongxin",
    "Changping",
    "Dingling",
    "Dongsi",
    "Guanyuan",
    "Gucheng",
    "Huairou",
    "Nongzhanguan",
    "Shunyi",
    "Tiantan",
    "Wanliu",
    "Wanshouxigong",
)
PM_VARIABLES = ("PM2.5", "PM10")

SMD_MACHINE = "machine-1-6"
SMD_DIMS = (1, 2, 3, 4, 5, 6, 9, 10, 11, 13, 15, 19, 20, 21, 22, 28, 30, 31, 32, 34)
SMD_TRAIN_ROWS = 3000  # the last rows of the training half
SMD_TEST_ROWS = (4000, 7000)  # test rows [start, end)


def _write(frame: pd.DataFrame, name: str) -> None:
    text = frame.to_csv(index=False, lineterminator="\n").encode()
    with (
        open(OUT / name, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz,
    ):
        gz.write(text)
    print(
        f"{name}: {frame.shape[0]} rows x {frame.shape[1]} columns, "
        f"{(OUT / name).stat().st_size} bytes"
    )


def main(shared: Path) -> None:
    """Write the demo datasets from the shared data in ``shared``."""
    air = pd.read_csv(
        shared / "beijing_multisite_air" / "data.csv.gz", dtype=str, keep_default_na=False
    )
    columns = [f"{s}.{v}" for s in AIR_STATIONS for v in AIR_VARIABLES]
    rows = (air["time"] >= AIR_PERIOD[0]) & (air["time"] < AIR_PERIOD[1])
    _write(air.loc[rows, ["time", *columns]], "air_quality.csv.gz")
    pm_columns = [f"{s}.{v}" for s in PM_STATIONS for v in PM_VARIABLES]
    _write(air[["time", *pm_columns]], "beijing_pm.csv.gz")

    dims = [f"dim{d:02d}" for d in SMD_DIMS]
    base = shared / "smd" / SMD_MACHINE
    train = pd.read_csv(base / "train.csv.gz", dtype=str, keep_default_na=False)
    test = pd.read_csv(base / "test.csv.gz", dtype=str, keep_default_na=False)
    _write(train.iloc[-SMD_TRAIN_ROWS:][["time", *dims]], "server_metrics_train.csv.gz")
    _write(
        test.iloc[SMD_TEST_ROWS[0] : SMD_TEST_ROWS[1]][["time", *dims, "label"]],
        "server_metrics_test.csv.gz",
    )


if __name__ == "__main__":
    default = os.environ.get("TSDIFF_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
    main(Path(sys.argv[1] if len(sys.argv) > 1 else default))
