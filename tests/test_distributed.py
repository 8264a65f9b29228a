"""Batch inference on Spark and Dask equals single-process inference (``distributed`` marker).

Engine tests skip (with the reason) only when pyspark / dask is not installed. Equality is
exact in practice; the tolerance (1e-9 relative) only absorbs floating-point summation order
(the detector's moving averages are cumulative sums over arrays of different lengths when a
series is split, which moves the last bits: 5e-13 seen).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY_PARAMS, detector_tiny_params

from tsdiff.distributed import core

pytestmark = pytest.mark.distributed

LENGTHS = (40, 110, 200)
RTOL = 1e-9


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A tiny imputer and a tiny detector saved to directories (as a user would ship them)."""
    from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
    from tsdiff.datasets import load_air_quality, load_server_metrics

    folder = tmp_path_factory.mktemp("models")
    air = load_air_quality().iloc[:240, :4]
    TSDiffImputer(**TINY_PARAMS).fit(air).save(folder / "imputer")
    train = load_server_metrics("train").iloc[:480, :6]
    TSDiffAnomalyDetector(**detector_tiny_params()).fit(train).save(folder / "detector")
    return {"impute": str(folder / "imputer"), "detect": str(folder / "detector")}


def _long_format(source: pd.DataFrame, lengths: tuple[int, ...] = LENGTHS) -> pd.DataFrame:
    """Series of different lengths (different stretches of ``source``), with extra NaN."""
    rng = np.random.default_rng(3)
    frames, start = [], 0
    for i, n in enumerate(lengths):
        part = source.iloc[start : start + n].copy()
        part = part.mask(rng.random(part.shape) < 0.1)
        part = part.rename_axis("time").reset_index()
        part.insert(0, "series", f"s{i}")
        frames.append(part)
        start += 50
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def air_long() -> pd.DataFrame:
    from tsdiff.datasets import load_air_quality

    return _long_format(load_air_quality().iloc[:, :4])


@pytest.fixture(scope="module")
def smd_long() -> pd.DataFrame:
    from tsdiff.datasets import load_server_metrics

    test = load_server_metrics("test").iloc[:, :6]
    test.index = pd.date_range("2024-01-01", periods=len(test), freq="min")
    return _long_format(test)


def _reference(task: str, frame: pd.DataFrame, model: str) -> pd.DataFrame:
    """Single-process results, one series at a time."""
    run = core.impute_frame if task == "impute" else core.detect_frame
    kwargs = {"interval": 0.8} if task == "impute" else {}
    parts = [
        run(group, model, series_col="series", time_col="time", **kwargs)
        for _, group in frame.groupby("series", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.sort_values(["series", "time"]).reset_index(drop=True)[list(expected.columns)]
    assert len(got) == len(expected)
    assert (got["series"].astype(str).to_numpy() == expected["series"].to_numpy()).all()
    assert (
        pd.to_datetime(got["time"]).to_numpy() == pd.to_datetime(expected["time"]).to_numpy()
    ).all()
    numeric = [c for c in expected.columns if c not in ("series", "time", "top_sensors")]
    np.testing.assert_allclose(
        got[numeric].to_numpy(dtype=float), expected[numeric].to_numpy(dtype=float), rtol=RTOL
    )
    if "top_sensors" in expected:
        assert (got["top_sensors"].to_numpy() == expected["top_sensors"].to_numpy()).all()


# -- core (no engine) ---------------------------------------------------------------------------
def test_core_equals_the_estimators(models: dict[str, str], air_long: pd.DataFrame) -> None:
    from tsdiff import TSDiffAnomalyDetector, TSDiffImputer

    core.clear_model_cache()
    series = air_long[air_long["series"] == "s1"]
    X = series.set_index("time").drop(columns="series")
    out = core.impute_frame(series, models["impute"], series_col="series", time_col="time")
    imputer = TSDiffImputer.load(models["impute"])
    expected = imputer.transform(X)
    assert not out[list(X.columns)].isna().any().any()
    np.testing.assert_array_equal(out[list(X.columns)].to_numpy(), expected.to_numpy())
    with_bounds = core.impute_frame(series, models["impute"], time_col="time", interval=0.8)
    lower, upper = imputer.predict_interval(X, coverage=0.8)
    np.testing.assert_array_equal(with_bounds[[f"{c}_lower" for c in X.columns]], lower)
    np.testing.assert_array_equal(with_bounds[[f"{c}_upper" for c in X.columns]], upper)

    from tsdiff.datasets import load_server_metrics

    test = load_server_metrics("test").iloc[:200, :6]
    scored = core.detect_frame(test.rename_axis("t").reset_index(), models["detect"], time_col="t")
    result = TSDiffAnomalyDetector.load(models["detect"]).detect(test)
    np.testing.assert_array_equal(scored["score"], result.scores)
    np.testing.assert_array_equal(scored["is_anomaly"], result.labels)
    table = result.sensor_scores.to_numpy()
    first = scored["top_sensors"].str.split(",").str[0]
    assert (first.to_numpy() == test.columns[np.nanargmax(table, axis=1)]).all()
    assert core.load_counts() == {
        str(Path(models["impute"]).resolve()): 1,
        str(Path(models["detect"]).resolve()): 1,
    }


def test_mlflow_model_uri_loads_through_the_artifact_download(
    models: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``models:/`` URI is downloaded with MLflow, then read from the MLmodel's data path."""
    import mlflow

    logged = tmp_path / "logged"
    shutil.copytree(models["impute"], logged / "data" / "model")
    (logged / "MLmodel").write_text(
        "flavors:\n  python_function:\n    data: data/model\n"
        "    loader_module: tsdiff.tracking.pyfunc_loader\n"
    )
    seen = []

    def download(artifact_uri: str, **kwargs: object) -> str:
        seen.append(artifact_uri)
        return str(logged)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    core.clear_model_cache()
    first = core.load_model("models:/tiny/1")
    assert core.load_model("models:/tiny/1") is first  # cached: downloaded once
    assert seen == ["models:/tiny/1"]
    assert core.load_counts() == {"models:/tiny/1": 1}
    assert type(first).__name__ == "TSDiffImputer"
    assert core.load_model(logged) is not first  # an MLflow model directory, another key


@pytest.mark.parametrize(("window", "stride", "margin"), [(16, 16, 0), (16, 5, 0), (8, 8, 31)])
def test_chunk_bounds_cover_the_windows_of_the_kept_rows(
    window: int, stride: int, margin: int
) -> None:
    from tsdiff.data.windows import window_starts

    n_rows = 203
    whole = set(window_starts(n_rows, window, stride).tolist())
    for start, stop in [(0, 50), (50, 101), (101, 203), (7, 8), (190, 203)]:
        lo, hi = core.chunk_bounds(start, stop, n_rows, window, stride, margin)
        assert lo <= max(0, start - window - margin) and hi >= min(n_rows, stop + window + margin)
        chunk = {lo + s for s in window_starts(hi - lo, window, stride).tolist()}
        assert chunk <= whole  # the chunk's windows are windows of the whole series
        needed = {s for s in whole if s + window > start - margin and s < stop + margin}
        assert needed <= chunk


def test_long_series_results_do_not_depend_on_the_chunking(models: dict[str, str]) -> None:
    """With window seeds, splitting one series anywhere gives the same results."""
    from tsdiff.datasets import load_air_quality, load_server_metrics

    air = load_air_quality().iloc[:300, :4]
    air = air.mask(np.random.default_rng(5).random(air.shape) < 0.05)
    air = air.rename_axis("time").reset_index()
    kwargs = {"task": "impute", "time_col": "time", "interval": 0.8}
    whole = core.run_long(air, models["impute"], chunk_rows=len(air), **kwargs)
    assert not whole.isna().any().any()
    for rows in (97, 16):
        split = core.run_long(air, models["impute"], chunk_rows=rows, **kwargs)
        pd.testing.assert_frame_equal(split, whole, check_exact=True)
    test = load_server_metrics("test").iloc[:250, :6].rename_axis("time").reset_index()
    whole = core.run_long(test, models["detect"], task="detect", chunk_rows=250, time_col="time")
    split = core.run_long(test, models["detect"], task="detect", chunk_rows=90, time_col="time")
    np.testing.assert_allclose(split["score"], whole["score"], rtol=RTOL)
    assert (split["top_sensors"] == whole["top_sensors"]).all()


def test_importing_tsdiff_imports_no_engine() -> None:
    code = (
        "import sys, tsdiff, tsdiff.distributed, tsdiff.distributed.spark, "
        "tsdiff.distributed.dask; "
        "print(sorted(m for m in ('pyspark', 'dask', 'distributed') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


_FAULTS_OF_FREED_BLOCKS = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from tsdiff.distributed.core import tune_allocator
    assert tune_allocator()
np.ones(1_000_000).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    np.ones(1_000_000).sum()  # 8 MB allocated and freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)
def test_worker_allocator_reuses_freed_blocks_under_dasks_trim_setting() -> None:
    # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536: every large block is then
    # mapped fresh and its pages faulted in again; the tuned allocator reuses them.
    env = {**os.environ, "PYTHONPATH": str(REPO), "MALLOC_TRIM_THRESHOLD_": "65536"}
    faults = {}
    for mode in ("plain", "tuned"):
        done = subprocess.run(
            [sys.executable, "-c", _FAULTS_OF_FREED_BLOCKS, mode],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=REPO,
        )
        faults[mode] = int(done.stdout.strip())
    assert faults["plain"] > 20_000  # 50 x 8 MB touched afresh (4 KiB pages)
    assert faults["tuned"] < faults["plain"] / 10


# -- Dask ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed")
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(REPO), prepend=os.pathsep)  # workers import this tsdiff
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
        yield client
        client.close()
        cluster.close()


def test_dask_per_series_equals_single_process(
    dask_client, models: dict[str, str], air_long: pd.DataFrame, smd_long: pd.DataFrame
) -> None:
    import dask.dataframe as dd

    from tsdiff.distributed.dask import detect_dask, impute_dask, worker_load_counts

    ddf = dd.from_pandas(air_long, npartitions=3)
    got = impute_dask(ddf, models["impute"], "series", "time", interval=0.8).compute()
    _assert_same(got, _reference("impute", air_long, models["impute"]))
    got = detect_dask(dd.from_pandas(smd_long, npartitions=2), models["detect"], "series", "time")
    _assert_same(got.compute(), _reference("detect", smd_long, models["detect"]))
    counts = worker_load_counts(dask_client)
    for per_worker in counts.values():  # each worker that ran a model loaded it once
        assert set(per_worker.values()) <= {1}
    assert sum(len(c) for c in counts.values()) >= 2


def test_dask_long_series_by_partitions(dask_client, models: dict[str, str]) -> None:
    import dask.dataframe as dd

    from tsdiff.datasets import load_air_quality, load_server_metrics
    from tsdiff.distributed.dask import detect_dask_series, impute_dask_series

    air = load_air_quality().iloc[:240, :4].rename_axis("time").reset_index()
    got = impute_dask_series(
        dd.from_pandas(air, npartitions=5), models["impute"], "time", None, 0.8
    )
    whole = core.run_long(
        air, models["impute"], task="impute", chunk_rows=len(air), time_col="time", interval=0.8
    )
    pd.testing.assert_frame_equal(
        got.compute().reset_index(drop=True), whole, check_exact=True, check_dtype=False
    )
    test = load_server_metrics("test").iloc[:200, :6].rename_axis("time").reset_index()
    got = detect_dask_series(dd.from_pandas(test, npartitions=3), models["detect"], "time")
    whole = core.run_long(test, models["detect"], task="detect", chunk_rows=200, time_col="time")
    scored = got.compute().reset_index(drop=True)
    np.testing.assert_allclose(scored["score"], whole["score"], rtol=RTOL)
    assert (scored["top_sensors"] == whole["top_sensors"]).all()


# -- Spark --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (no java on PATH and no JAVA_HOME)")
    from tsdiff.distributed.spark import local_session

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        # the workers import tsdiff from this checkout and _load_report from this module
        patch.setenv(
            "PYTHONPATH", os.pathsep.join([str(REPO), str(REPO / "tests")]), prepend=os.pathsep
        )
        session = local_session("tsdiff-tests")
        yield session
        session.stop()


def _load_report(frame: pd.DataFrame, *, model: str, names: dict[str, str]) -> pd.DataFrame:
    frame = frame.rename(columns=names)
    core.impute_frame(frame, model, series_col="series", time_col="time")
    return pd.DataFrame({"pid": [os.getpid()], "loads": [core.load_counts().get(model, 0)]})


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_per_series_equals_single_process(
    spark, models: dict[str, str], air_long: pd.DataFrame, smd_long: pd.DataFrame
) -> None:
    import functools

    from tsdiff.distributed.spark import _plain_columns, detect_spark, impute_spark

    got = impute_spark(
        spark.createDataFrame(air_long), models["impute"], "series", "time", None, 0.8
    )
    _assert_same(got.toPandas(), _reference("impute", air_long, models["impute"]))
    got = detect_spark(spark.createDataFrame(smd_long), models["detect"], "series", "time")
    _assert_same(got.toPandas(), _reference("detect", smd_long, models["detect"]))

    # Six series on two tasks: each Python worker loads the model once, not once per series.
    from tsdiff.datasets import load_air_quality

    six = _long_format(load_air_quality().iloc[:, :4], (30,) * 6)
    model = str(Path(models["impute"]).resolve())
    plain, names = _plain_columns(spark.createDataFrame(six), list(six.columns))
    report = (
        plain.groupBy("c0")
        .applyInPandas(
            functools.partial(_load_report, model=model, names=names), "pid long, loads long"
        )
        .toPandas()
    )
    assert (report.groupby("pid")["loads"].max() == 1).all()
    assert len(report) == 6


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_long_series_by_chunks_equals_run_long(spark, models: dict[str, str]) -> None:
    from tsdiff.datasets import load_air_quality, load_server_metrics
    from tsdiff.distributed.spark import detect_spark_series, impute_spark_series

    air = load_air_quality().iloc[:240, :4].rename_axis("time").reset_index()
    shuffled = spark.createDataFrame(air.sample(frac=1.0, random_state=0), schema=None)
    got = impute_spark_series(
        shuffled.repartition(3), models["impute"], "time", None, 0.8, chunk_rows=70
    )
    whole = core.run_long(
        air, models["impute"], task="impute", chunk_rows=len(air), time_col="time", interval=0.8
    )
    got_frame = got.toPandas().sort_values("time").reset_index(drop=True)
    assert len(got_frame) == len(air)  # every row once: context rows dropped
    pd.testing.assert_frame_equal(got_frame, whole, check_exact=True, check_dtype=False)

    test = load_server_metrics("test").iloc[:200, :6].rename_axis("time").reset_index()
    got = detect_spark_series(spark.createDataFrame(test), models["detect"], "time", chunk_rows=64)
    whole = core.run_long(test, models["detect"], task="detect", chunk_rows=200, time_col="time")
    scored = got.toPandas().sort_values("time").reset_index(drop=True)
    np.testing.assert_allclose(scored["score"], whole["score"], rtol=RTOL)
    assert (scored["is_anomaly"] == whole["is_anomaly"]).all()
    assert (scored["top_sensors"] == whole["top_sensors"]).all()
    with pytest.raises(ValueError, match="chunk_rows"):
        impute_spark_series(shuffled, models["impute"], "time", chunk_rows=0)
