"""Autolog a tsdiff fit to MLflow, reload the logged model and log evaluation metrics.

The data are the bundled air-quality frame (hourly ``DatetimeIndex``); the reloaded pyfunc model
predicts on such a frame, or on a flat one with a ``time`` column. A temporary sqlite store::

    python examples/mlflow_tracking.py --fast     # tiny model, well under a minute
    python examples/mlflow_tracking.py            # a larger model, 60 s of training
    python examples/mlflow_tracking.py --keep     # keep the store and print its path

Then, with ``--keep``, browse the runs with ``mlflow ui --backend-store-uri sqlite:///<path>``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import torch
from mlflow.tracking import MlflowClient

import tsdiff.tracking
from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality
from tsdiff.tracking import evaluate_imputation, load_pyfunc


def main(keep: bool = False, fast: bool = False) -> None:
    """Fit under autolog, compare the pyfunc model with the estimator, log evaluation metrics."""
    torch.set_num_threads(2)
    folder = Path(tempfile.mkdtemp(prefix="tsdiff-mlflow-"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    data = load_air_quality().iloc[:480, :6]  # 20 days, one station
    train, test = data.iloc[:360], data.iloc[360:]

    # From here on every fit is recorded (params, per-epoch losses, the fitted model).
    tsdiff.tracking.autolog(
        tracking_uri=uri,
        experiment_name="tsdiff-example",
        registered_model_name="air-quality-imputer",
    )
    settings = (
        {"model": {"channels": 16, "n_layers": 1, "n_heads": 2}, "max_epochs": 3}
        if fast
        else {"model": {"channels": 32, "n_layers": 2, "n_heads": 4}, "max_time": 60}
    )
    imputer = TSDiffImputer(
        window_length=24, train_stride=4, n_samples=8, random_state=0, verbose=False, **settings
    )
    imputer.fit(train)
    tsdiff.tracking.autolog(disable=True)
    record = tsdiff.tracking.fit_run(imputer)
    assert record is not None
    print(f"run {record.run_id} ({record.status}), model {record.model_uri}")

    client = MlflowClient(uri)
    run = client.get_run(record.run_id)
    print(
        "params:",
        {
            k: v
            for k, v in sorted(run.data.params.items())
            if "channels" in k or k in ("window_length", "max_epochs")
        },
    )
    losses = client.get_metric_history(run.info.run_id, "train_loss")
    print(
        "train_loss per epoch:", [round(m.value, 3) for m in sorted(losses, key=lambda m: m.step)]
    )

    # The logged model is a pyfunc model: the frame as fitted on (DatetimeIndex) or a flat frame
    # (time column + sensors, as model serving sends it) in, imputed frame out.
    # load_pyfunc = mlflow.set_tracking_uri(uri) + mlflow.pyfunc.load_model(model_uri).
    assert record.model_uri is not None
    model = load_pyfunc(record.model_uri, tracking_uri=uri)
    gappy = test.copy()
    gappy.iloc[10:14, 0] = float("nan")
    from_mlflow = model.predict(gappy)
    in_memory = imputer.transform(gappy)
    print("pyfunc output equals the in-memory estimator:", bool(from_mlflow.equals(in_memory)))
    flat = model.predict(gappy.reset_index())
    print(flat.iloc[8:16, :3].to_string(index=False))

    # Hide 10 % of the test cells, impute, score, and log eval_* metrics to the fit run.
    scores = evaluate_imputation(imputer, test, fraction=0.1, random_state=0)
    print({k: round(scores[k], 3) for k in ("mae", "rmse", "crps", "coverage", "linear_mae")})
    print("metrics of the run:", sorted(client.get_run(record.run_id).data.metrics))

    if keep:
        print(f"store kept: {uri}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary MLflow store")
    parser.add_argument("--fast", action="store_true", help="tiny model (CI)")
    pd.set_option("display.width", 120)
    args = parser.parse_args()
    main(args.keep, args.fast)
