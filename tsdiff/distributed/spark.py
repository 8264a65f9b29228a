"""Batch inference on Spark: one ``applyInPandas`` task per series.

``mlflow.pyfunc.spark_udf`` hands a model arbitrary batches of rows, which cuts series apart; a
windowed model needs whole series, so these helpers group the rows by series and run
:mod:`tsdiff.distributed.core` on each group. The output schema is built from the input's.

PySpark is imported inside the functions only: ``import tsdiff.distributed`` works without it.
The Python workers must run an environment with tsdiff installed (set ``PYSPARK_PYTHON``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsdiff.distributed import core, engines


def local_session(
    app_name: str = "tsdiff", cores: int = 2, config: dict[str, str] | None = None
) -> Any:
    """A Spark session on this machine (``local[cores]``), for trying tsdiff out and for tests.

    ``cores`` shuffle partitions, no web UI or console progress bars, log level ERROR; ``config``
    adds or replaces Spark settings (e.g. ``{"spark.driver.memory": "4g"}``). The Python workers
    run ``PYSPARK_PYTHON``: set it to an environment with tsdiff before the first session.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    settings = {
        "spark.sql.shuffle.partitions": str(cores),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(config or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _key_fields(df: Any, series_col: str, time_col: str) -> list[Any]:
    missing = [c for c in (series_col, time_col) if c not in df.columns]
    if missing:
        raise ValueError(f"The Spark DataFrame lacks the column(s) {missing}.")
    return [df.schema[series_col], df.schema[time_col]]


def _plain_columns(df: Any, columns: Sequence[str]) -> tuple[Any, dict[str, str]]:
    """``df`` with only ``columns``, renamed ``c0``, ``c1``... (``applyInPandas`` cannot resolve
    names holding dots), and the map back to the original names."""
    from pyspark.sql import functions as F

    names = {f"c{i}": name for i, name in enumerate(columns)}
    quoted = [F.col("`" + name.replace("`", "``") + "`").alias(a) for a, name in names.items()]
    return df.select(*quoted), names


def impute_spark(
    df: Any,
    model_path: str | Path,
    series_col: str,
    time_col: str,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Impute every series of a Spark DataFrame.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Long format: a series id column, a time column and numeric feature columns (null or NaN:
        missing).
    model_path : str or Path
        A directory written by ``TSDiffImputer.save`` that every worker can read, or an MLflow
        model URI (``models:/name/1``, ``runs:/<id>/model``); loaded once per Python worker.
    series_col, time_col : str
        Columns identifying a series and ordering its rows.
    feature_cols : sequence of str, optional
        Default: the model's ``feature_names_in_``.
    interval : float, optional
        Also return ``<col>_lower`` / ``<col>_upper`` bounds with this coverage.
    torch_threads : int or None, default=1
        Torch threads per task (None: torch's default); one per task avoids oversubscription
        when a machine runs several tasks.

    Returns
    -------
    pyspark.sql.DataFrame
        ``series_col``, ``time_col`` (their input types), the features filled (double) and the
        interval columns (double). Each series equals ``imputer.transform`` (and
        ``predict_interval``) on that series alone with the model's ``random_state``.
    """
    from pyspark.sql import types as T

    keys = _key_fields(df, series_col, time_col)
    features = engines.resolve_features(model_path, df, [series_col, time_col], feature_cols)
    fields = [*keys, *(T.StructField(c, T.DoubleType(), True) for c in features)]
    core.check_interval(interval)
    if interval is not None:
        for c in features:
            fields.append(T.StructField(f"{c}_lower", T.DoubleType(), True))
            fields.append(T.StructField(f"{c}_upper", T.DoubleType(), True))
    schema = T.StructType(fields)
    return _grouped(
        df, "impute", model_path, series_col, time_col, features, schema, interval, torch_threads
    )


def detect_spark(
    df: Any,
    model_path: str | Path,
    series_col: str,
    time_col: str,
    feature_cols: Sequence[str] | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Score every series of a Spark DataFrame with a saved anomaly detector.

    Parameters
    ----------
    df, model_path, series_col, time_col, feature_cols, torch_threads
        As in :func:`impute_spark` (``model_path`` holds a ``TSDiffAnomalyDetector``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``series_col``, ``time_col``, ``score`` (double), ``is_anomaly`` (int) and
        ``top_sensors`` (string: the three sensors with the highest per-sensor score,
        comma-joined). Each series equals ``detector.score`` on that series alone.
    """
    from pyspark.sql import types as T

    keys = _key_fields(df, series_col, time_col)
    features = engines.resolve_features(model_path, df, [series_col, time_col], feature_cols)
    schema = T.StructType(
        [
            *keys,
            T.StructField("score", T.DoubleType(), True),
            T.StructField("is_anomaly", T.LongType(), False),
            T.StructField("top_sensors", T.StringType(), False),
        ]
    )
    return _grouped(
        df, "detect", model_path, series_col, time_col, features, schema, None, torch_threads
    )


def _grouped(
    df: Any,
    task: str,
    model_path: str | Path,
    series_col: str,
    time_col: str,
    features: list[str],
    schema: Any,
    interval: float | None,
    torch_threads: int | None,
) -> Any:
    """Run ``task`` on every series of ``df`` (one ``applyInPandas`` group per series)."""
    plain, names = _plain_columns(df, [series_col, time_col, *features])
    fn = engines.series_task(
        task, model_path, series_col, time_col, features, interval, torch_threads, rename=names
    )
    with warnings.catch_warnings():
        # PySpark looks for pandas type hints on the function to pick the UDF's eval type; a
        # functools.partial has none, and the grouped-map type is what applyInPandas uses
        warnings.filterwarnings("ignore", message="Cannot infer the eval type")
        return plain.groupBy("c0").applyInPandas(fn, schema)
