"""Batch inference on Spark: one ``applyInPandas`` task per series, or per chunk of one long series.

``mlflow.pyfunc.spark_udf`` hands a model arbitrary batches of rows, which cuts series apart; a
windowed model needs whole series, so these helpers group the rows by series and run
:mod:`tsdiff.distributed.core` on each group. The output schema is built from the input's.

PySpark is imported inside the functions only: ``import tsdiff.distributed`` works without it.
The Python workers must run an environment with tsdiff installed (set ``PYSPARK_PYTHON``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tsdiff.distributed import core, engines

# PySpark 4.0 warns at every applyInPandas that it does not fully support pandas >= 3; the
# grouped-map path tsdiff uses is tested with pandas 3 (tests/test_distributed.py)
_PANDAS_VERSION_WARNING = "PySpark does not yet fully support pandas"


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


def _key_fields(df: Any, *columns: str) -> list[Any]:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"The Spark DataFrame lacks the column(s) {missing}.")
    return [df.schema[c] for c in columns]


def _impute_schema(keys: list[Any], features: Sequence[str], interval: float | None) -> Any:
    """``keys``, the filled features and, with ``interval``, each one's lower and upper bound."""
    from pyspark.sql import types as T

    fields = [*keys, *(T.StructField(c, T.DoubleType(), True) for c in features)]
    if interval is not None:
        for c in features:
            fields.append(T.StructField(f"{c}_lower", T.DoubleType(), True))
            fields.append(T.StructField(f"{c}_upper", T.DoubleType(), True))
    return T.StructType(fields)


def _detect_schema(keys: list[Any]) -> Any:
    from pyspark.sql import types as T

    return T.StructType(
        [
            *keys,
            T.StructField("score", T.DoubleType(), True),
            T.StructField("is_anomaly", T.LongType(), False),
            T.StructField("top_sensors", T.StringType(), False),
        ]
    )


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
    keys = _key_fields(df, series_col, time_col)
    features = engines.resolve_features(model_path, df, [series_col, time_col], feature_cols)
    core.check_interval(interval)
    schema = _impute_schema(keys, features, interval)
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
    keys = _key_fields(df, series_col, time_col)
    features = engines.resolve_features(model_path, df, [series_col, time_col], feature_cols)
    return _grouped(
        df,
        "detect",
        model_path,
        series_col,
        time_col,
        features,
        _detect_schema(keys),
        None,
        torch_threads,
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
        warnings.filterwarnings("ignore", message=_PANDAS_VERSION_WARNING, category=FutureWarning)
        return plain.groupBy("c0").applyInPandas(fn, schema)


# -- one long series split into chunks ----------------------------------------------------------
_ROW, _CHUNK, _LO, _KEEP_START, _KEEP_STOP = "_row", "_chunk", "_lo", "_keep_start", "_keep_stop"


def impute_spark_series(
    df: Any,
    model_path: str | Path,
    time_col: str,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    *,
    chunk_rows: int = 50_000,
    torch_threads: int | None = 1,
) -> Any:
    """Impute ONE long series held in a Spark DataFrame, in chunks that run as parallel tasks.

    The rows are ordered by ``time_col`` and cut into chunks of ``chunk_rows`` rows; each chunk
    is processed with the rows around it that its windows need (aligned to the whole series'
    windows, see :func:`tsdiff.distributed.core.chunk_bounds`) and its context rows are
    dropped. Windows are seeded one by one, so the result equals
    :func:`tsdiff.distributed.core.run_long` in one process, whatever ``chunk_rows``, under the
    conditions listed for the Dask partition-wise path in the scaling guide.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The rows of one series: a time column and numeric feature columns (null or NaN:
        missing); time stamps unique.
    model_path, feature_cols, interval, torch_threads
        As in :func:`impute_spark`.
    time_col : str
        Orders the rows.
    chunk_rows : int, default=50_000
        Rows per task (before the context rows are added).

    Returns
    -------
    pyspark.sql.DataFrame
        ``time_col``, the features filled and the interval columns, one row per input row.
    """
    keys = _key_fields(df, time_col)
    features = engines.resolve_features(model_path, df, [time_col], feature_cols)
    core.check_interval(interval)
    schema = _impute_schema(keys, features, interval)
    return _chunked(
        df, "impute", model_path, time_col, features, schema, interval, chunk_rows, torch_threads
    )


def detect_spark_series(
    df: Any,
    model_path: str | Path,
    time_col: str,
    feature_cols: Sequence[str] | None = None,
    *,
    chunk_rows: int = 50_000,
    torch_threads: int | None = 1,
) -> Any:
    """Score ONE long series held in a Spark DataFrame, in chunks that run as parallel tasks.

    Parameters
    ----------
    df, model_path, time_col, feature_cols, chunk_rows, torch_threads
        As in :func:`impute_spark_series` (``model_path`` holds a ``TSDiffAnomalyDetector``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``time_col``, ``score``, ``is_anomaly`` and ``top_sensors`` as in :func:`detect_spark`;
        equal to :func:`tsdiff.distributed.core.run_long` (scores to float rounding of the
        moving averages) for a thresholder without ``drift``.
    """
    keys = _key_fields(df, time_col)
    features = engines.resolve_features(model_path, df, [time_col], feature_cols)
    return _chunked(
        df,
        "detect",
        model_path,
        time_col,
        features,
        _detect_schema(keys),
        None,
        chunk_rows,
        torch_threads,
    )


def _numbered_rows(plain: Any) -> tuple[Any, int]:
    """``plain`` sorted by its first column with a consecutive row number ``_row`` from 0 (a
    distributed sort; the numbering is materialised once), and the number of rows."""
    from pyspark.sql import functions as F

    tagged = (
        plain.orderBy("c0")
        .select(
            "*",
            F.spark_partition_id().alias("_part"),
            F.monotonically_increasing_id().alias("_id"),
        )
        .localCheckpoint(eager=True)
    )
    counts = sorted(
        (int(r["_part"]), int(r["count"])) for r in tagged.groupBy("_part").count().collect()
    )
    offsets, total = [], 0
    for part, count in counts:
        offsets.append((part, total))
        total += count
    session = plain.sparkSession
    starts = session.createDataFrame(offsets, "_part int, _offset long")
    # monotonically_increasing_id is the partition id in the upper 31 bits, then the position
    position = F.col("_id") - F.shiftleft(F.col("_part").cast("long"), 33)
    numbered = tagged.join(F.broadcast(starts), "_part").select(
        *(F.col(c) for c in plain.columns), (F.col("_offset") + position).alias(_ROW)
    )
    return numbered, total


def _chunked(
    df: Any,
    task: str,
    model_path: str | Path,
    time_col: str,
    features: list[str],
    schema: Any,
    interval: float | None,
    chunk_rows: int,
    torch_threads: int | None,
) -> Any:
    """Run ``task`` on one long series in chunks (one ``applyInPandas`` group per chunk)."""
    from pyspark.sql import functions as F

    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}.")
    plain, names = _plain_columns(df, [time_col, *features])
    numbered, n_rows = _numbered_rows(plain)
    context = core.model_context(model_path)
    plan = []
    for number, start in enumerate(range(0, n_rows, chunk_rows)):
        stop = min(start + chunk_rows, n_rows)
        lo, hi = core.chunk_bounds(start, stop, n_rows, **context)
        plan.append((number, lo, hi, start, stop))
    chunks = plain.sparkSession.createDataFrame(
        plan, f"{_CHUNK} int, {_LO} long, _hi long, {_KEEP_START} long, {_KEEP_STOP} long"
    )
    rows = F.col(_ROW)
    assigned = numbered.join(
        F.broadcast(chunks), (rows >= F.col(_LO)) & (rows < F.col("_hi"))
    ).drop("_hi")
    fn = functools.partial(
        _run_chunk_group, task, str(model_path), time_col, features, interval, torch_threads, names
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cannot infer the eval type")
        warnings.filterwarnings("ignore", message=_PANDAS_VERSION_WARNING, category=FutureWarning)
        return assigned.groupBy(_CHUNK).applyInPandas(fn, schema)


def _run_chunk_group(
    task: str,
    model: str,
    time_col: str,
    features: list[str],
    interval: float | None,
    torch_threads: int | None,
    names: dict[str, str],
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """One chunk on a worker: rows ``[lo, hi)`` of the series with their plan columns."""
    core.prepare_worker(torch_threads)
    frame = frame.sort_values(_ROW, kind="stable")
    lo, keep_start, keep_stop = (int(frame[c].iloc[0]) for c in (_LO, _KEEP_START, _KEEP_STOP))
    if int(frame[_ROW].iloc[0]) != lo or int(frame[_ROW].iloc[-1]) != lo + len(frame) - 1:
        raise RuntimeError(f"chunk starting at row {lo} is not a contiguous block of rows.")
    chunk = frame.drop(columns=[_ROW, _CHUNK, _LO, _KEEP_START, _KEEP_STOP]).rename(columns=names)
    return core.process_chunk(
        chunk,
        model,
        task=task,
        chunk_start=lo,
        keep_start=keep_start,
        keep_stop=keep_stop,
        time_col=time_col,
        feature_cols=features,
        interval=interval,
    )
