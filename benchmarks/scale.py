"""Batch inference at scale: single process vs Dask (2 workers) vs Spark ``local[2]``.

Two layouts of synthetic sensor data (sines plus noise, ``--features`` columns, 10 % of the
cells missing so every window is sampled):

* ``one``: ONE series of ``--rows`` rows (default 1,000,000);
* ``many``: ``--series`` series of ``--series-rows`` rows each (default 1,000 x 1,000).

The same small imputer and detector (trained once at the start on separate synthetic data, or
loaded with ``--models DIR``) impute and score both layouts with each engine:

* ``single``: one process; ``one`` runs ``core.run_long`` in chunks of ``--chunk-rows`` (memory
  bounded by the chunk), ``many`` loops over the series;
* ``dask``: ``LocalCluster(n_workers=2, threads_per_worker=1)``; ``one`` runs
  ``impute_dask_series`` / ``detect_dask_series`` over partitions of ``--chunk-rows`` rows,
  ``many`` runs ``impute_dask`` / ``detect_dask``;
* ``spark``: ``local[2]``; ``one`` runs ``impute_spark_series`` / ``detect_spark_series`` in
  chunks of ``--chunk-rows`` rows, ``many`` runs ``impute_spark`` / ``detect_spark``.

Each engine runs in its own subprocess. Reported per engine, task and layout: rows per second
(input rows / wall time of the job; the engine's start and a warm-up job on 4 x 100 rows, which
imports tsdiff and loads the models on the workers, are excluded and reported apart) and peak
RSS (the largest sum, sampled every 0.2 s, of the resident memory of the benchmark process and
all its descendants: workers, the JVM and Spark's Python workers).

Usage::

    python -m benchmarks.scale                          # full size (long)
    python -m benchmarks.scale --rows 20000 --series 20 --series-rows 500   # quick check
    python -m benchmarks.scale --engines single dask --tasks impute --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("single", "dask", "spark")
TASKS = ("impute", "detect")
LAYOUTS = ("one", "many")


# -- data and models ----------------------------------------------------------------------------
def synthetic(n_rows: int, n_features: int, seed: int, missing: float = 0.1) -> pd.DataFrame:
    """Correlated sines with noise on a minute index, ``missing`` of the cells NaN."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=np.float64)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_features)
    period = rng.uniform(20, 200, n_features)
    noise = 0.1 * rng.standard_normal((n_rows, n_features))
    values = np.sin(2 * np.pi * t / period + phase) + noise
    values[rng.random(values.shape) < missing] = np.nan
    columns = [f"s{j:02d}" for j in range(n_features)]
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, "time", pd.date_range("2024-01-01", periods=n_rows, freq="min"))
    return frame


def layout_frame(layout: str, args: argparse.Namespace) -> pd.DataFrame:
    if layout == "one":
        frame = synthetic(args.rows, args.features, seed=1)
        frame.insert(0, "series", 0)
        return frame
    parts = []
    for i in range(args.series):
        part = synthetic(args.series_rows, args.features, seed=100 + i)
        part.insert(0, "series", i)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def train_models(directory: Path, n_features: int) -> None:
    """A small imputer and detector (16 channels, 1 layer), trained for one epoch."""
    from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
    from tsdiff.scoring import MaskedReimputationScorer

    train = synthetic(4000, n_features, seed=0, missing=0.0).set_index("time")
    network = {
        "channels": 16,
        "n_layers": 1,
        "n_heads": 1,
        "diffusion_embedding_dim": 32,
        "time_embedding_dim": 16,
        "feature_embedding_dim": 8,
    }
    common: dict[str, Any] = {"max_epochs": 1, "random_state": 0, "verbose": False}
    TSDiffImputer(
        window_length=36,
        n_samples=8,
        sampling_steps=5,
        model=network,
        train_stride=4,
        calibration_windows=0,
        trainer_kwargs={"accelerator": "cpu"},
        **common,
    ).fit(train).save(directory / "imputer")
    TSDiffAnomalyDetector(
        window_length=32,
        model={**network, "diffusion_steps": 10, "eta": 1.0},
        scorer=MaskedReimputationScorer(n_masks=2, strip_length=16, n_samples=4, sampling_steps=5),
        train_stride=4,
        trainer_kwargs={"accelerator": "cpu", "precision": "32-true"},
        **common,
    ).fit(train).save(directory / "detector")


# -- memory -------------------------------------------------------------------------------------
class PeakRSS:
    """Largest summed RSS of this process and its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for proc in [self._process, *self._process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except Exception:  # a child may exit between listing and reading
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(self._interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self._total()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._total())


# -- engines ------------------------------------------------------------------------------------
def _single(task: str, layout: str, frame: pd.DataFrame, model: str, chunk_rows: int) -> int:
    from tsdiff.distributed import core

    core.limit_threads(2)
    if layout == "one":
        out = core.run_long(frame, model, task=task, chunk_rows=chunk_rows, time_col="time")
        return len(out)
    run = core.impute_frame if task == "impute" else core.detect_frame
    return sum(
        len(run(group, model, series_col="series", time_col="time"))
        for _, group in frame.groupby("series", sort=False)
    )


def _dask_job(task: str, layout: str, frame: pd.DataFrame, model: str, chunk_rows: int) -> int:
    import dask.dataframe as dd

    from tsdiff.distributed import dask as tsdask

    if layout == "one":
        ddf = dd.from_pandas(frame.drop(columns="series"), chunksize=chunk_rows, sort=False)
        run = tsdask.impute_dask_series if task == "impute" else tsdask.detect_dask_series
        out = run(ddf, model, "time")
    else:
        ddf = dd.from_pandas(frame, npartitions=4, sort=False)
        per = tsdask.impute_dask if task == "impute" else tsdask.detect_dask
        out = per(ddf, model, "series", "time")
    return int(out.map_partitions(len).compute().sum())


def _spark_job(
    spark: Any, task: str, layout: str, frame: pd.DataFrame, model: str, chunk_rows: int
) -> int:
    from tsdiff.distributed import spark as tsspark

    if layout == "one":
        sdf = spark.createDataFrame(frame.drop(columns="series"))
        run = tsspark.impute_spark_series if task == "impute" else tsspark.detect_spark_series
        out = run(sdf, model, "time", chunk_rows=chunk_rows)
    else:
        sdf = spark.createDataFrame(frame)
        per = tsspark.impute_spark if task == "impute" else tsspark.detect_spark
        out = per(sdf, model, "series", "time")
    out.write.format("noop").mode("overwrite").save()
    return len(frame)


def run_engine(engine: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every task x layout on one engine (inside the engine's subprocess)."""
    models = Path(args.models)
    frames = {layout: layout_frame(layout, args) for layout in args.layouts}
    started = time.perf_counter()
    spark = client = cluster = None
    if engine == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    elif engine == "spark":
        from tsdiff.distributed.spark import local_session

        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = local_session(
            "tsdiff-scale",
            config={
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.driver.memory": "4g",
            },
        )
    # warm-up (counted in the start): worker imports and one model load per worker and task
    warm = argparse.Namespace(**{**vars(args), "series": 4, "series_rows": 100})
    small = layout_frame("many", warm)
    for task in args.tasks:
        model = str(models / ("imputer" if task == "impute" else "detector"))
        if engine == "single":
            _single(task, "many", small, model, args.chunk_rows)
        elif engine == "dask":
            _dask_job(task, "many", small, model, args.chunk_rows)
        else:
            _spark_job(spark, task, "many", small, model, args.chunk_rows)
    start_seconds = time.perf_counter() - started
    results = []
    for task in args.tasks:
        model = str(models / ("imputer" if task == "impute" else "detector"))
        for layout in args.layouts:
            frame = frames[layout]
            with PeakRSS() as memory:
                t0 = time.perf_counter()
                if engine == "single":
                    n = _single(task, layout, frame, model, args.chunk_rows)
                elif engine == "dask":
                    n = _dask_job(task, layout, frame, model, args.chunk_rows)
                else:
                    n = _spark_job(spark, task, layout, frame, model, args.chunk_rows)
                seconds = time.perf_counter() - t0
            results.append(
                {
                    "engine": engine,
                    "task": task,
                    "layout": layout,
                    "rows": len(frame),
                    "rows_out": n,
                    "features": args.features,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(len(frame) / seconds, 1),
                    "peak_rss_mib": round(memory.peak / 2**20),
                    "engine_start_seconds": round(start_seconds, 1),
                }
            )
    if client is not None:
        client.close()
        cluster.close()  # type: ignore[union-attr]
    if spark is not None:
        spark.stop()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the one series")
    parser.add_argument("--series", type=int, default=1000, help="number of series (many)")
    parser.add_argument("--series-rows", type=int, default=1000, help="rows per series (many)")
    parser.add_argument("--features", type=int, default=36)
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows per chunk (one)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument("--models", help="directory with imputer/ and detector/ (else trained)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--engine-only", choices=ENGINES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.engine_only:
        sys.stdout.write(json.dumps(run_engine(args.engine_only, args)) + "\n")
        return []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.models is None:
            args.models = tmp
            train_models(Path(tmp), args.features)
        results: list[dict[str, Any]] = []
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--json"]
        if args.json in forwarded:
            forwarded.remove(args.json)
        for engine in args.engines:
            command = [sys.executable, "-m", "benchmarks.scale", *forwarded]
            command += ["--models", args.models, "--engine-only", engine]
            done = subprocess.run(
                command, cwd=REPO, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                sys.stderr.write(done.stderr[-3000:])
                raise SystemExit(f"engine {engine} failed ({done.returncode})")
            results += json.loads(done.stdout.strip().splitlines()[-1])
    header = f"{'engine':7} {'task':7} {'layout':6} {'rows':>9} {'rows/s':>10} {'peak RSS':>9}"
    lines = [header]
    for r in results:
        lines.append(
            f"{r['engine']:7} {r['task']:7} {r['layout']:6} {r['rows']:>9} "
            f"{r['rows_per_second']:>10.0f} {r['peak_rss_mib']:>6} MiB"
            f"   (start {r['engine_start_seconds']} s)"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
