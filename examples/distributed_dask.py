"""Impute many series, and one long series by partitions, on a local Dask cluster.

The bundled air-quality slice holds two stations; in long format each station is a series with
the same six variables. A model is trained, saved, and imputed on two Dask workers:

* ``impute_dask``: one task per station (equal to ``imputer.transform`` on that station);
* ``impute_dask_series``: one station split into time-ordered partitions, each imputed with the
  context rows its windows need (equal to ``core.run_long`` in one process).

Run: python examples/distributed_dask.py --fast   (under a minute on 2 CPU cores; needs
``pip install "tsdiff[dask]"``)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality
from tsdiff.distributed import core


def stations_long() -> pd.DataFrame:
    """The two stations stacked: ``station``, ``time`` and six variables (NaN: missing)."""
    frame = load_air_quality()
    frame.columns = frame.columns.str.split(".", n=1, expand=True)  # (station, variable)
    stations = {station: frame[station] for station in sorted(frame.columns.unique(0))}
    return pd.concat(stations, names=["station"]).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="tiny model, a few hundred rows")
    args = parser.parse_args()

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from tsdiff.distributed.dask import impute_dask, impute_dask_series

    data = stations_long()
    if args.fast:
        data = data.groupby("station").head(240).reset_index(drop=True)
    features = [c for c in data.columns if c not in ("station", "time")]
    train = data[data["station"] == data["station"].iloc[0]].set_index("time")[features]
    settings = (
        {"model": {"channels": 16, "n_layers": 1, "n_heads": 2}, "max_epochs": 2, "n_samples": 8}
        if args.fast
        else {"max_time": 120, "n_samples": 32}
    )
    imputer = TSDiffImputer(window_length=24, random_state=0, verbose=False, **settings)
    imputer.fit(train)

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "imputer"
        imputer.save(model)  # workers load it once per process
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        with cluster, Client(cluster):
            ddf = dd.from_pandas(data, npartitions=2)
            filled = impute_dask(ddf, model, "station", "time", interval=0.9).compute()
            print(filled.head())
            print(f"{len(filled)} rows, NaN left: {int(filled[features].isna().sum().sum())}")

            one = data[data["station"] == data["station"].iloc[-1]].drop(columns="station")
            parts = dd.from_pandas(one, npartitions=4)
            long = impute_dask_series(parts, model, "time").compute()
        single = core.run_long(one, model, task="impute", chunk_rows=len(one), time_col="time")
    gap = np.abs(long[features].to_numpy() - single[features].to_numpy()).max()
    print(f"one station in 4 partitions vs one process: largest difference {gap:.3g}")


if __name__ == "__main__":
    main()
