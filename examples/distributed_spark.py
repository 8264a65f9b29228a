"""Score many series for anomalies, and impute them, with Spark (``local[2]``).

A detector is trained on the bundled server-metrics training minutes and saved; the test
minutes are cut into three stretches that stand for three machines. ``detect_spark`` scores
each machine in its own ``groupBy(...).applyInPandas`` task (the model is loaded once per
Python worker) and returns ``score``, ``is_anomaly`` and ``top_sensors``; ``impute_spark``
does the same for an imputer. ``impute_spark_series`` imputes ONE machine's long series in
chunks that run as parallel tasks, with the same result as one pass in one process
(``tsdiff.distributed.core.run_long``).

With ``--fast`` the models train for seconds: the output shows the mechanics, not detection
quality (such an undertrained detector flags most steps).

Run: python examples/distributed_spark.py --fast   (under a minute on 2 CPU cores, of which
Spark's start takes ~25 s; needs ``pip install "tsdiff[spark]"`` and Java 17)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
from tsdiff.datasets import load_server_metrics


def machines(rows: int) -> pd.DataFrame:
    """Three stretches of the test minutes as three series: ``machine``, ``time``, sensors."""
    test = load_server_metrics("test").drop(columns="label")
    stretches = {f"m{i}": test.iloc[i * rows : (i + 1) * rows] for i in range(3)}
    return pd.concat(stretches, names=["machine"]).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="tiny models, 200 rows per series")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers use this environment
    # PySpark 4 warns at every pandas conversion that it does not fully support pandas >= 3
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)

    from tsdiff.distributed import core
    from tsdiff.distributed.spark import (
        detect_spark,
        impute_spark,
        impute_spark_series,
        local_session,
    )

    train = load_server_metrics("train").iloc[: 600 if args.fast else None]
    tiny = {"channels": 16, "n_layers": 1, "n_heads": 1}
    budget = {"max_epochs": 2, "model": tiny} if args.fast else {"max_time": 120}
    detector = TSDiffAnomalyDetector(random_state=0, verbose=False, **budget).fit(train)
    imputer = TSDiffImputer(
        window_length=32, n_samples=8, random_state=0, verbose=False, **budget
    ).fit(train)
    data = machines(200 if args.fast else 1000)

    spark = local_session("tsdiff-example")  # local[2]; any SparkSession will do
    try:
        with tempfile.TemporaryDirectory() as tmp:
            detector.save(Path(tmp) / "detector")
            imputer.save(Path(tmp) / "imputer")
            frame = spark.createDataFrame(data)
            scored = detect_spark(frame, str(Path(tmp) / "detector"), "machine", "time")
            result = scored.toPandas()
            print(result.groupby("machine")[["score", "is_anomaly"]].agg(["mean", "max"]))
            print(result.sort_values("score", ascending=False).head(5).to_string(index=False))
            sensors = [c for c in data.columns if c not in ("machine", "time")]
            gappy = data.copy()
            rng = np.random.default_rng(0)
            gappy[sensors] = gappy[sensors].mask(rng.random((len(gappy), len(sensors))) < 0.05)
            model = str(Path(tmp) / "imputer")
            filled = impute_spark(spark.createDataFrame(gappy), model, "machine", "time", None, 0.9)
            table = filled.toPandas()
            print(table[["machine", "time", "dim01", "dim01_lower", "dim01_upper"]].head(3))
            print(f"imputed {len(table)} rows, NaN left: {int(table[sensors].isna().sum().sum())}")
            one = gappy[gappy["machine"] == "m0"].drop(columns="machine")
            chunk_rows = len(one) // 4  # four tasks (real use: the default, 50,000 rows)
            long = impute_spark_series(
                spark.createDataFrame(one), model, "time", chunk_rows=chunk_rows
            ).toPandas()
            long = long.sort_values("time").reset_index(drop=True)
            whole = core.run_long(one, model, task="impute", chunk_rows=len(one), time_col="time")
            gap = float(np.abs(long[sensors].to_numpy() - whole[sensors].to_numpy()).max())
            print(
                f"one machine in 4 chunk tasks: {len(long)} rows; largest difference from one "
                f"pass in one process: {gap:.1e}"
            )
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
