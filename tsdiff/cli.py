"""The ``tsdiff`` command: fit, impute, detect, evaluate and demo from the shell.

Heavy libraries (torch, pandas, Lightning, MLflow) are imported inside the command functions, so
``tsdiff --help`` answers at once.

Exit codes: 0 success, 1 runtime failure, 2 usage or input error (bad flags, missing or invalid
files, columns, configuration keys), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_EPILOG = """examples:
  tsdiff demo                                   # impute the bundled air-quality data, plot
  tsdiff fit --config tiny --data train.csv --out model/     # a preset name or a YAML path
  tsdiff impute --model model/ --data gaps.parquet --out filled.parquet
  tsdiff evaluate --model model/ --data test.csv --fraction 0.1
  tsdiff detect --model detector/ --data test.csv --out scores.csv

Run 'tsdiff COMMAND --help' for the options of a command."""


class UsageError(Exception):
    """A problem with the command line or its inputs (exit code 2)."""


# -- parser -------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from err
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from err
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def _column_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tsdiff`` command (cheap: imports nothing heavy)."""
    from tsdiff._version import __version__

    parser = argparse.ArgumentParser(
        prog="tsdiff",
        description="Impute gaps in sensor time series and score anomalies with a conditional "
        "diffusion model (CSDI-style).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tsdiff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or progress messages"
    )
    common.add_argument("--threads", type=_positive_int, metavar="N", help="CPU threads for torch")

    columns = argparse.ArgumentParser(add_help=False)
    columns.add_argument(
        "--time-column",
        metavar="NAME",
        help="time stamp column (default: from the "
        "config or the model, else 'time' when present, else row positions)",
    )
    columns.add_argument(
        "--series-column", metavar="NAME", help="series id column of a file holding several series"
    )
    columns.add_argument(
        "--label-column", metavar="NAME", help="0/1 anomaly label column (default: 'label')"
    )

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = sub.add_parser(
        "fit",
        parents=[common, columns],
        help="train a model on a data file and save it",
        description="Train an imputer (or detector) on a CSV/Parquet file and save it to a "
        "directory.",
    )
    fit.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="YAML configuration file or preset name (tiny, tiny_detector, air_quality, smd, "
        "skab, ...); default: the imputer's default parameters",
    )
    fit.add_argument(
        "-d",
        "--data",
        required=True,
        metavar="FILE",
        help="training data (.csv, .csv.gz, .parquet)",
    )
    fit.add_argument("-o", "--out", required=True, metavar="DIR", help="model directory to write")
    fit.add_argument(
        "--columns",
        type=_column_list,
        metavar="A,B,...",
        help="feature columns (default: all numeric)",
    )
    fit.add_argument(
        "--validation-data",
        metavar="FILE",
        help="separate validation data (default: the end of each series)",
    )
    fit.add_argument(
        "--max-epochs", type=_positive_int, metavar="N", help="override the epoch limit"
    )
    fit.add_argument(
        "--max-time", type=_positive_float, metavar="SECONDS", help="training time budget"
    )
    fit.add_argument(
        "--seed", type=_non_negative_int, metavar="N", help="random seed (random_state)"
    )
    fit.add_argument("--track", action="store_true", help="record the run in MLflow")
    fit.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    fit.add_argument("--experiment-name", metavar="NAME", help="MLflow experiment")
    fit.add_argument(
        "--registered-model-name", metavar="NAME", help="also register the logged model"
    )
    fit.set_defaults(handler=_cmd_fit)

    impute = sub.add_parser(
        "impute",
        parents=[common, columns],
        help="fill the gaps of a data file",
        description="Fill every missing cell of the model's columns; other columns pass through.",
    )
    impute.add_argument(
        "-m", "--model", required=True, metavar="DIR", help="model directory (from tsdiff fit)"
    )
    impute.add_argument("-d", "--data", required=True, metavar="FILE", help="data with gaps")
    impute.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="output file (.csv, .parquet)"
    )
    impute.add_argument(
        "--n-samples",
        type=_positive_int,
        metavar="N",
        help="samples per gap (default: the model's)",
    )
    impute.add_argument(
        "--interval",
        type=_fraction,
        metavar="LEVEL",
        help="also write <column>_lower/<column>_upper bounds of a central interval (e.g. 0.9)",
    )
    impute.add_argument("--seed", type=_non_negative_int, metavar="N", help="sampling seed")
    impute.set_defaults(handler=_cmd_impute)

    detect = sub.add_parser(
        "detect",
        parents=[common, columns],
        help="score anomalies in a data file",
        description="Write an anomaly score per row (and a 0/1 flag when the model has a "
        "threshold).",
    )
    detect.add_argument(
        "-m",
        "--model",
        required=True,
        metavar="DIR",
        help="detector directory (from tsdiff fit with kind: detector)",
    )
    detect.add_argument("-d", "--data", required=True, metavar="FILE", help="data to score")
    detect.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="output file (.csv, .parquet)"
    )
    detect.add_argument("--seed", type=_non_negative_int, metavar="N", help="sampling seed")
    # issue 14: streaming
    detect.add_argument(
        "--follow",
        action="store_true",
        help="score rows as they are appended to --data (a CSV file, or - for standard input), "
        "writing each row once its score is final (tsdiff.api.streaming)",
    )
    detect.add_argument(
        "--poll-seconds", type=_positive_float, default=1.0, metavar="S", help="with --follow"
    )
    detect.add_argument(
        "--max-polls", type=_positive_int, metavar="N", help="with --follow: stop after N polls"
    )
    detect.set_defaults(handler=_cmd_detect)

    evaluate = sub.add_parser(
        "evaluate",
        parents=[common, columns],
        help="score a model on data with known values",
        description="Imputer: hide a fraction of the observed cells (seeded), impute them and "
        "report MAE, RMSE, CRPS and interval coverage beside linear interpolation. "
        "Detector: AUC-ROC, AUC-PR (and F1 at the model's threshold) against the label column. "
        "Prints JSON.",
    )
    evaluate.add_argument("-m", "--model", required=True, metavar="DIR", help="model directory")
    evaluate.add_argument(
        "-d",
        "--data",
        required=True,
        metavar="FILE",
        help="data with known values (and labels for a detector)",
    )
    evaluate.add_argument(
        "-o", "--out", metavar="FILE", help="also write the metrics to this JSON file"
    )
    evaluate.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="configuration whose 'evaluate' section gives the defaults",
    )
    evaluate.add_argument(
        "--fraction",
        type=_fraction,
        metavar="F",
        help="fraction of observed cells to hide (default 0.1)",
    )
    evaluate.add_argument(
        "--seed",
        type=_non_negative_int,
        metavar="N",
        help="seed of the hidden cells and the sampling (default 0)",
    )
    evaluate.add_argument(
        "--coverage",
        type=_fraction,
        metavar="LEVEL",
        help="interval level for the coverage (default 0.9)",
    )
    evaluate.add_argument(
        "--n-samples",
        type=_positive_int,
        metavar="N",
        help="samples per gap (default: the model's)",
    )
    evaluate.add_argument("--track", action="store_true", help="log the metrics to MLflow")
    evaluate.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI")
    evaluate.add_argument(
        "--experiment-name", metavar="NAME", help="MLflow experiment (default: the model's)"
    )
    evaluate.set_defaults(handler=_cmd_evaluate)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="impute held-out Beijing air-quality data and detect anomalies (pretrained models)",
        description="Hide 10%% of the observed cells and several 24-72 h station outages in a "
        "held-out month of the bundled Beijing PM data, impute them with the pretrained imputer, "
        "compare it with linear interpolation and IterativeImputer and plot an outage with its "
        "90%% band; then detect anomalies in the bundled server metrics with the pretrained "
        "detector. --train trains both models live instead.",
    )
    demo.add_argument(
        "--out-dir",
        default="tsdiff-demo",
        metavar="DIR",
        help="folder for plots and results (default ./tsdiff-demo)",
    )
    demo.add_argument(
        "--train",
        action="store_true",
        help="train both models live instead of using the pretrained ones, and compare",
    )
    demo.add_argument(
        "--max-time",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="with --train: training time budget of each model (default: imputer 300 s, "
        "detector 120 s)",
    )
    demo.add_argument(
        "--seed", type=_non_negative_int, default=0, metavar="N", help="seed (default 0)"
    )
    demo.add_argument(
        "--n-samples",
        type=_positive_int,
        default=None,
        metavar="N",
        help="imputation samples (default 16)",
    )
    demo.add_argument(
        "--fraction",
        type=_fraction,
        default=0.1,
        metavar="F",
        help="fraction of observed cells hidden (default 0.1)",
    )
    demo.add_argument("--no-detection", action="store_true", help="skip the anomaly-detection part")
    demo.add_argument("--no-plot", action="store_true", help="do not draw plots")
    demo.add_argument(
        "--quick",
        action="store_true",
        help="two weeks of data (with --train: tiny models; a smoke test, seconds)",
    )
    demo.set_defaults(handler=_cmd_demo)
    return parser


# -- helpers ------------------------------------------------------------------------------------
def _global_rank() -> int:
    """This process's global rank in a distributed run (``tsdiff fit`` with a DDP trainer
    section starts one process per device), 0 otherwise."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    for variable in ("RANK", "GLOBAL_RANK", "LOCAL_RANK", "NODE_RANK"):
        value = os.environ.get(variable, "").strip()
        if value.isdigit() and int(value) != 0:
            return int(value)
    return 0


def _info(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "quiet", False) and _global_rank() == 0:
        print(message, file=sys.stderr, flush=True)


def _setup(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(int(args.threads))


def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    from tsdiff.persistence import load_estimator, model_info

    info = model_info(path)
    estimator = load_estimator(path)
    return estimator, info


def _data_defaults(info: dict[str, Any]) -> dict[str, Any]:
    data = (info.get("metadata") or {}).get("data") or {}
    return data if isinstance(data, dict) else {}


def _read_for_model(args: argparse.Namespace, estimator: Any, info: dict[str, Any]) -> Any:
    from tsdiff.data.files import read_table, regroup, select_features, split_table

    defaults = _data_defaults(info)
    label = (
        args.label_column
        if args.label_column is not None
        else defaults.get("label_column", "label")
    )
    names = info.get("feature_names_in")
    raw = read_table(args.data)
    table = split_table(
        raw,
        time_column=args.time_column or defaults.get("time_column"),
        series_column=args.series_column or defaults.get("series_column"),
        label_column=label,
        # only the model's columns are parsed: text in a column it does not use is no error
        columns=[str(n) for n in names if str(n) in raw.columns] if names else None,
        time_format=defaults.get("time_format"),
        source=str(args.data),
    )
    if names:
        select_features(table, list(names), source=str(args.data))
        return regroup(table, list(names))
    n_features = int(estimator.n_features_in_)
    if table.features.shape[1] != n_features:
        raise UsageError(
            f"{args.data}: the model expects {n_features} feature columns, the file has "
            f"{table.features.shape[1]} numeric ones ({list(table.features.columns)})."
        )
    return table


def _model_input(estimator: Any, frame: Any) -> Any:
    """The frame itself, or its values for a model fitted without column names."""
    return frame if getattr(estimator, "feature_names_in_", None) is not None else frame.to_numpy()


# -- commands -------------------------------------------------------------------------------------
def _cmd_fit(args: argparse.Namespace) -> int:
    _setup(args)
    from tsdiff.config import RunConfig, build_estimator, load_config
    from tsdiff.data.files import read_table, select_features, split_table
    from tsdiff.persistence import save_estimator

    config = load_config(args.config) if args.config else RunConfig()
    _check_model_destination(args.out)
    data = config.data
    label_column = args.label_column if args.label_column is not None else data.label_column
    time_column = args.time_column or data.time_column
    series_column = args.series_column or data.series_column
    columns = args.columns or data.columns
    table = split_table(
        read_table(args.data),
        time_column=time_column,
        series_column=series_column,
        label_column=label_column,
        columns=columns,
        time_format=data.time_format,
        source=str(args.data),
    )
    if table.ignored:
        _info(args, f"note: ignoring non-numeric column(s) {table.ignored}")
    validation = None
    if args.validation_data:
        val_table = split_table(
            read_table(args.validation_data),
            time_column=table.time_column,
            series_column=series_column,
            label_column=label_column,
            columns=list(table.features.columns),
            time_format=data.time_format,
            source=str(args.validation_data),
        )
        validation = select_features(
            val_table, list(table.features.columns), str(args.validation_data)
        )
    overrides: dict[str, Any] = {"verbose": not args.quiet}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.max_time is not None:
        overrides["max_time"] = args.max_time
    if args.seed is not None:
        overrides["random_state"] = args.seed
    estimator = build_estimator(config, **overrides)
    if args.track or config.tracking.enabled:
        _track_fit(
            estimator,
            tracking_uri=args.tracking_uri or config.tracking.uri,
            experiment_name=args.experiment_name or config.tracking.experiment_name,
            registered_model_name=args.registered_model_name
            or config.tracking.registered_model_name,
        )
    _info(
        args,
        f"fitting {type(estimator).__name__} on {args.data}: {table.features.shape[0]} rows x "
        f"{table.features.shape[1]} columns",
    )
    if validation is None:
        estimator.fit(table.features)
    else:
        import inspect

        if "validation_data" not in inspect.signature(estimator.fit).parameters:
            raise UsageError(f"--validation-data is not supported by {type(estimator).__name__}.")
        estimator.fit(table.features, validation_data=validation)
    metadata = {
        "data": {
            "time_column": table.time_column,
            "series_column": table.series_column,
            "label_column": label_column,
            "time_format": data.time_format,
        },
        "config": config.source,
        "kind": config.kind,
    }
    if _global_rank() != 0:
        # under DDP every process ends fit with the same model; only rank 0 writes it
        return EXIT_OK
    save_estimator(estimator, args.out, metadata=metadata)
    best = getattr(estimator, "best_val_loss_", None)
    best_text = f", best validation loss {best:.4f}" if isinstance(best, float) else ""
    _info(
        args,
        f"saved the model to {args.out} ({estimator.n_epochs_} epochs in "
        f"{estimator.training_seconds_:.1f} s{best_text})",
    )
    if args.track or config.tracking.enabled:
        from tsdiff.tracking import fit_run

        record = fit_run(estimator)
        if record is not None:
            _info(args, f"MLflow run {record.run_id}, model {record.model_uri or ''}")
    return EXIT_OK


def _track_fit(estimator: Any, **settings: Any) -> None:
    """Record the coming fit in MLflow: :func:`tsdiff.tracking.autolog` watches every fit."""
    from tsdiff.tracking import autolog

    autolog(**{k: v for k, v in settings.items() if v is not None})


def _check_output_file(path: str) -> None:
    """Refuse, before any sampling, an output file that could not be written afterwards.

    Raises
    ------
    UsageError
        For an unknown extension, Parquet without pyarrow, a directory in place of the file, or
        a parent folder that cannot be created or written.
    """
    from pathlib import Path

    from tsdiff.data.files import table_format

    out = Path(path)
    kind = table_format(out)
    if kind == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError(f"{out}: writing Parquet needs pyarrow; install it or write .csv.")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; --out must be a file name.")
    parent = out.parent if str(out.parent) else Path(".")
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{out}: {existing} is a file, so the folder cannot be created.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: the folder {existing} is not writable; choose another --out.")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"{out}: exists and is not writable; choose another --out.")


def _check_model_destination(path: str) -> None:
    """Refuse, before training, a destination that save() would refuse after it."""
    from pathlib import Path

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is a file; --out must be a (new or model) directory.")
    if out.is_dir() and any(out.iterdir()) and not (out / "config.json").is_file():
        raise UsageError(
            f"{out}: the directory is not empty and holds no tsdiff model; choose a new directory."
        )


def _is_detector(estimator: Any) -> bool:
    return hasattr(estimator, "decision_function")


def _cmd_impute(args: argparse.Namespace) -> int:
    _setup(args)
    import numpy as np
    import pandas as pd

    from tsdiff.data.files import write_table

    _check_output_file(args.out)
    estimator, info = _load_model(args.model)
    if _is_detector(estimator) or not hasattr(estimator, "transform"):
        raise UsageError(
            f"{args.model} holds a {type(estimator).__name__}; 'tsdiff impute' needs an imputer "
            "model."
        )
    table = _read_for_model(args, estimator, info)
    params: dict[str, Any] = {"verbose": not args.quiet}
    if args.n_samples:
        params["n_samples"] = args.n_samples
    if args.seed is not None:
        params["random_state"] = args.seed
    estimator.set_params(**params)
    frame = table.features
    missing = frame.isna().to_numpy()
    _info(
        args,
        f"imputing {int(missing.sum())} missing cells of {frame.shape[0]} rows x "
        f"{frame.shape[1]} columns",
    )
    added = None
    if args.interval:
        samples = np.asarray(estimator.sample(_model_input(estimator, frame)))
        median = np.median(samples, axis=0)
        filled = frame.mask(missing, pd.DataFrame(median, index=frame.index, columns=frame.columns))
        tail = (1.0 - args.interval) / 2.0
        lower, upper = np.quantile(samples, [tail, 1.0 - tail], axis=0)
        added = pd.concat(
            [
                pd.DataFrame(lower, columns=[f"{c}_lower" for c in frame.columns]),
                pd.DataFrame(upper, columns=[f"{c}_upper" for c in frame.columns]),
            ],
            axis=1,
        )
    else:
        result = estimator.transform(_model_input(estimator, frame))
        filled = (
            result
            if isinstance(result, pd.DataFrame)
            else pd.DataFrame(result, index=frame.index, columns=frame.columns)
        )
    write_table(table.to_table(filled, added), args.out)
    _info(args, f"wrote {args.out}")
    return EXIT_OK


def _cmd_detect(args: argparse.Namespace) -> int:
    _setup(args)
    import pandas as pd

    from tsdiff.data.files import write_table
    from tsdiff.evaluation import score_once

    _check_output_file(args.out)
    estimator, info = _load_model(args.model)
    if not _is_detector(estimator):
        raise UsageError(
            f"{args.model} holds a {type(estimator).__name__}; 'tsdiff detect' needs a detector "
            "model "
            "(fit with a configuration whose model section has kind: detector)."
        )
    params: dict[str, Any] = {"verbose": not args.quiet}
    if args.seed is not None:
        params["random_state"] = args.seed
    if getattr(args, "follow", False):
        return _follow(args, estimator, info, params)
    table = _read_for_model(args, estimator, info)
    estimator.set_params(**params)
    scores, flags = score_once(estimator, _model_input(estimator, table.features))
    added = pd.DataFrame({"score": scores})
    if flags is not None:
        added["is_anomaly"] = flags
    write_table(table.to_table(None, added), args.out)
    _info(args, f"wrote {args.out}")
    return EXIT_OK


def _follow(args: argparse.Namespace, estimator: Any, info: dict[str, Any], params: Any) -> int:
    """``tsdiff detect --follow``: stream a growing CSV (or standard input) to a CSV."""
    from tsdiff.api.streaming import follow

    if not str(args.out).endswith(".csv"):
        raise UsageError("--follow writes CSV; pass an --out ending in .csv.")
    estimator.set_params(verbose=False, **{k: v for k, v in params.items() if k != "verbose"})
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        rows = follow(
            estimator,
            args.data,
            out,
            time_column=args.time_column or _data_defaults(info).get("time_column") or "time",
            poll_seconds=args.poll_seconds,
            max_polls=args.max_polls,
        )
    _info(args, f"wrote {rows} rows to {args.out}")
    return EXIT_OK


def _detector_metrics(
    scores: Any, labels: Any, flags: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """Detection metrics of one scoring pass, and why any of them is null.

    Rows without a score (no observed value) are left out of the ranking metrics.
    """
    import numpy as np

    from tsdiff import metrics

    y = np.asarray(labels).astype(np.int64).reshape(-1)
    scored = np.isfinite(scores)
    ys, ss = y[scored], scores[scored]
    result: dict[str, Any] = {
        "n_rows": len(y),
        "n_scored": int(scored.sum()),
        "anomaly_rate": float(y.mean()) if len(y) else None,
        "auc_pr_random": float(ys.mean()) if len(ys) else None,
    }
    reasons: dict[str, str] = {}
    ranking = ("auc_roc", "auc_pr", "vus_pr", "best_f1")
    if len(np.unique(ys)) == 2:
        result.update(
            {
                "auc_roc": metrics.auc_roc(ys, ss),
                "auc_pr": metrics.auc_pr(ys, ss),
                "vus_pr": metrics.vus_pr(ys, ss),
                "best_f1": metrics.best_f1(ys, ss)[0],
            }
        )
    else:
        for key in ranking:
            result[key] = None
            reasons[key] = (
                "the scored rows hold only one label class; ranking metrics need both 0 and 1"
            )
    if flags is not None:
        predicted = np.asarray(flags).reshape(-1) == 1
        tp = float(np.sum(predicted & (y == 1)))
        n_flags, n_pos = float(predicted.sum()), float(y.sum())
        precision = tp / n_flags if n_flags else 0.0
        recall = tp / n_pos if n_pos else None
        result["precision"] = precision
        result["recall"] = recall
        result["alarm_rate"] = n_flags / len(y) if len(y) else None
        if recall is None:
            reasons["recall"] = reasons["f1"] = "no row is labelled anomalous"
            result["f1"] = None
        else:
            total = precision + recall
            result["f1"] = 2 * precision * recall / total if total else 0.0
    return result, reasons


def _json_ready(result: dict[str, Any], reasons: dict[str, str]) -> dict[str, Any]:
    """``result`` with every NaN or infinite number replaced by null; ``null_reasons`` says why."""
    import math

    clean: dict[str, Any] = {}
    why = dict(reasons)
    for key, value in result.items():
        if isinstance(value, float) and not math.isfinite(value):
            clean[key] = None
            why.setdefault(key, f"the value is not a finite number ({value})")
        else:
            clean[key] = value
    if why:
        clean["null_reasons"] = why
    return clean


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _setup(args)
    from tsdiff.config import RunConfig, load_config

    config = load_config(args.config) if args.config else RunConfig()
    if args.out:
        _check_json_destination(args.out)
    estimator, info = _load_model(args.model)
    table = _read_for_model(args, estimator, info)
    estimator.set_params(verbose=not args.quiet)
    seed = args.seed if args.seed is not None else config.evaluate.seed
    reasons: dict[str, str] = {}
    if _is_detector(estimator):
        if table.labels is None:
            raise UsageError(
                f"{args.data}: no label column; pass --label-column to evaluate a detector."
            )
        from tsdiff.evaluation import score_once

        estimator.set_params(random_state=seed)
        scores, flags = score_once(estimator, _model_input(estimator, table.features))
        result, reasons = _detector_metrics(scores, table.labels.to_numpy(), flags)
        result["task"] = "detection"
    else:
        from tsdiff.evaluation import evaluate_on_hidden_cells

        fraction = args.fraction or config.evaluate.fraction
        coverage = args.coverage or config.evaluate.coverage
        n_samples = args.n_samples or config.evaluate.n_samples
        estimator.set_params(random_state=seed)
        frame = table.features
        result = evaluate_on_hidden_cells(
            estimator,
            frame,
            fraction=fraction,
            random_state=seed,
            coverage=coverage,
            n_samples=n_samples,
        )
        result["task"] = "imputation"
    result.update({"model": str(args.model), "data": str(args.data), "seed": seed})
    result = _json_ready(result, reasons)
    if args.track:
        from tsdiff.tracking import log_metrics

        run_id = log_metrics(
            result,
            tracking_uri=args.tracking_uri,
            experiment_name=args.experiment_name or "tsdiff",
            run_name="evaluate",
            params={
                "model": args.model,
                "data": args.data,
                "seed": seed,
                **({k: result[k] for k in ("fraction", "coverage_level") if k in result}),
            },
            tags={"tsdiff.task": f"{result['task']}-evaluation"},
            prefix="eval_",
        )
        result["mlflow_run_id"] = run_id
        _info(args, f"logged the metrics to MLflow run {run_id}")
    text = json.dumps(result, indent=2, sort_keys=True, allow_nan=False)
    print(text)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as err:
            raise UsageError(f"{args.out}: cannot be written ({err}).") from err
    return EXIT_OK


def _check_json_destination(path: str) -> None:
    """Refuse, before the evaluation, a JSON file that could not be written afterwards."""
    from pathlib import Path

    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; --out must be a file name.")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: the folder {out.parent} does not exist; create it first.")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: the folder {out.parent} is not writable; choose another --out.")


def _cmd_demo(args: argparse.Namespace) -> int:
    _setup(args)
    from tsdiff.demo import run_demo

    run_demo(
        out_dir=args.out_dir,
        train=args.train,
        max_time=args.max_time,
        seed=args.seed,
        n_samples=args.n_samples,
        fraction=args.fraction,
        detection=not args.no_detection,
        plot=not args.no_plot,
        quiet=args.quiet,
        quick=args.quick,
    )
    return EXIT_OK


# -- entry point -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tsdiff`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors (argparse printed them)
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    prog = f"tsdiff {args.command}"
    debug = args.debug or os.environ.get("TSDIFF_DEBUG") not in (None, "", "0")
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug:
            import traceback

            traceback.print_exc()
        usage = isinstance(
            err,
            (
                UsageError,
                ValueError,
                TypeError,
                FileNotFoundError,
                NotADirectoryError,
                IsADirectoryError,
            ),
        )
        kind = "error" if usage else f"failed ({type(err).__name__})"
        print(f"{prog}: {kind}: {err}", file=sys.stderr)
        if not debug and not usage:
            print("run with --debug (before the command) for the traceback", file=sys.stderr)
        return EXIT_USAGE if usage else EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
