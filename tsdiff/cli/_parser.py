"""The argument parser of ``tsdiff`` (cheap: imports nothing heavy).

Flags are declared one per line through :func:`_adder`: ``add("-d --data", "FILE", help,
required=True)`` is ``parser.add_argument("-d", "--data", metavar="FILE", help=help,
required=True)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from tsdiff.cli._apply import cmd_demo, cmd_detect, cmd_impute
from tsdiff.cli._common import column_list, fraction, non_negative_int, positive_float, positive_int
from tsdiff.cli._evaluate import cmd_evaluate
from tsdiff.cli._fit import cmd_fit

_EPILOG = """examples:
  tsdiff demo                                   # impute the bundled air-quality data, plot
  tsdiff fit --config tiny --data train.csv --out model/     # a preset name or a YAML path
  tsdiff impute --model model/ --data gaps.parquet --out filled.parquet
  tsdiff evaluate --model model/ --data test.csv --fraction 0.1
  tsdiff detect --model detector/ --data test.csv --out scores.csv

Run 'tsdiff COMMAND --help' for the options of a command."""

_TABLE_OUT = "output file (.csv, .parquet)"
_SAMPLES = "samples per gap (default: the model's)"
_DETECTOR_DIR = "detector directory (from tsdiff fit with kind: detector)"
_EVALUATION_SEED = "seed of the hidden cells and the sampling (default 0)"

Add = Callable[..., None]


def _adder(parser: argparse.ArgumentParser) -> Add:
    """``add(names, metavar, help, **options)``: one flag of ``parser``.

    ``names`` holds the flag's spellings separated by spaces; ``metavar`` None declares a
    switch (``action="store_true"``) unless ``options`` say otherwise.
    """

    def add(names: str, metavar: str | None, help: str, **options: Any) -> None:
        if metavar is None:
            options.setdefault("action", "store_true")
        else:
            options["metavar"] = metavar
        parser.add_argument(*names.split(), help=help, **options)

    return add


def _shared_parents() -> list[argparse.ArgumentParser]:
    """The common options and the column options, as argparse parents."""
    common = argparse.ArgumentParser(add_help=False)
    add = _adder(common)
    add("-q --quiet", None, "no progress bars or progress messages")
    add("--threads", "N", "CPU threads for torch", type=positive_int)
    columns = argparse.ArgumentParser(add_help=False)
    add = _adder(columns)
    add(
        "--time-column",
        "NAME",
        "time stamp column (default: from the config or the model, else 'time' when present, "
        "else row positions)",
    )
    add("--series-column", "NAME", "series id column of a file holding several series")
    add("--label-column", "NAME", "0/1 anomaly label column (default: 'label')")
    return [common, columns]


def _fit_flags(add: Add) -> None:
    add(
        "-c --config",
        "FILE",
        "YAML configuration file or preset name (tiny, tiny_detector, air_quality, smd, skab, "
        "...); default: the imputer's default parameters",
    )
    add("-d --data", "FILE", "training data (.csv, .csv.gz, .parquet)", required=True)
    add("-o --out", "DIR", "model directory to write", required=True)
    add("--columns", "A,B,...", "feature columns (default: all numeric)", type=column_list)
    add("--validation-data", "FILE", "separate validation data (default: the end of each series)")
    add("--max-epochs", "N", "override the epoch limit", type=positive_int)
    add("--max-time", "SECONDS", "training time budget", type=positive_float)
    add("--seed", "N", "random seed (random_state)", type=non_negative_int)
    add(
        "--ckpt-path",
        "FILE",
        "resume an interrupted run from this Lightning checkpoint (e.g. last.ckpt of the "
        "trainer section's checkpoint_dir); pass the same data and configuration",
    )
    add(
        "--warm-start",
        "DIR",
        "fine-tune the model saved in DIR on --data (its scaler and network settings are kept) "
        "instead of training a new one from --config",
    )
    add("--track", None, "record the run in MLflow")
    add(
        "--tracking-uri",
        "URI",
        "MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    add("--experiment-name", "NAME", "MLflow experiment")
    add("--registered-model-name", "NAME", "also register the logged model")


def _impute_flags(add: Add) -> None:
    add("-m --model", "DIR", "model directory (from tsdiff fit)", required=True)
    add("-d --data", "FILE", "data with gaps", required=True)
    add("-o --out", "FILE", _TABLE_OUT, required=True)
    add("--n-samples", "N", _SAMPLES, type=positive_int)
    add(
        "--interval",
        "LEVEL",
        "also write <column>_lower/<column>_upper bounds of a central interval (e.g. 0.9)",
        type=fraction,
    )
    add("--seed", "N", "sampling seed", type=non_negative_int)


def _detect_flags(add: Add) -> None:
    add("-m --model", "DIR", _DETECTOR_DIR, required=True)
    add("-d --data", "FILE", "data to score", required=True)
    add("-o --out", "FILE", _TABLE_OUT, required=True)
    add("--seed", "N", "sampling seed", type=non_negative_int)
    # issue 14: streaming
    add(
        "--follow",
        None,
        "score rows as they are appended to --data (a CSV file, or - for standard input), "
        "writing each row once its score is final (tsdiff.api.streaming)",
    )
    add("--poll-seconds", "S", "with --follow", type=positive_float, default=1.0)
    add("--max-polls", "N", "with --follow: stop after N polls", type=positive_int)


def _evaluate_flags(add: Add) -> None:
    add("-m --model", "DIR", "model directory", required=True)
    add("-d --data", "FILE", "data with known values (and labels for a detector)", required=True)
    add("-o --out", "FILE", "also write the metrics to this JSON file")
    add("-c --config", "FILE", "configuration whose 'evaluate' section gives the defaults")
    add("--fraction", "F", "fraction of observed cells to hide (default 0.1)", type=fraction)
    add("--seed", "N", _EVALUATION_SEED, type=non_negative_int)
    add("--coverage", "LEVEL", "interval level for the coverage (default 0.9)", type=fraction)
    add("--n-samples", "N", _SAMPLES, type=positive_int)
    add("--track", None, "log the metrics to MLflow")
    add("--tracking-uri", "URI", "MLflow tracking URI")
    add("--experiment-name", "NAME", "MLflow experiment (default: the model's)")


def _demo_flags(add: Add) -> None:
    add(
        "--out-dir",
        "DIR",
        "folder for plots and results (default ./tsdiff-demo)",
        default="tsdiff-demo",
    )
    add("--train", None, "train both models live instead of using the pretrained ones, and compare")
    add(
        "--max-time",
        "SECONDS",
        "with --train: training time budget of each model (default: imputer 300 s, detector 120 s)",
        type=positive_float,
    )
    add("--seed", "N", "seed (default 0)", type=non_negative_int, default=0)
    add("--n-samples", "N", "imputation samples (default 16)", type=positive_int)
    add(
        "--fraction",
        "F",
        "fraction of observed cells hidden (default 0.1)",
        type=fraction,
        default=0.1,
    )
    add("--no-detection", None, "skip the anomaly-detection part")
    add("--no-plot", None, "do not draw plots")
    add("--quick", None, "two weeks of data (with --train: tiny models; a smoke test, seconds)")


#: The commands: name, columns options or not, handler, flags, help, description.
_COMMANDS: tuple[
    tuple[str, bool, Callable[[argparse.Namespace], int], Callable[[Add], None], str, str], ...
] = (
    (
        "fit",
        True,
        cmd_fit,
        _fit_flags,
        "train a model on a data file and save it",
        "Train an imputer (or detector) on a CSV/Parquet file and save it to a directory.",
    ),
    (
        "impute",
        True,
        cmd_impute,
        _impute_flags,
        "fill the gaps of a data file",
        "Fill every missing cell of the model's columns; other columns pass through.",
    ),
    (
        "detect",
        True,
        cmd_detect,
        _detect_flags,
        "score anomalies in a data file",
        "Write an anomaly score per row (and a 0/1 flag when the model has a threshold).",
    ),
    (
        "evaluate",
        True,
        cmd_evaluate,
        _evaluate_flags,
        "score a model on data with known values",
        "Imputer: hide a fraction of the observed cells (seeded), impute them and report MAE, "
        "RMSE, CRPS and interval coverage beside linear interpolation. Detector: AUC-ROC, AUC-PR "
        "(and F1 at the model's threshold) against the label column. Prints JSON.",
    ),
    (
        "demo",
        False,
        cmd_demo,
        _demo_flags,
        "impute held-out Beijing air-quality data and detect anomalies (pretrained models)",
        "Hide 10%% of the observed cells and several 24-72 h station outages in a held-out month "
        "of the bundled Beijing PM data, impute them with the pretrained imputer, compare it with "
        "linear interpolation and IterativeImputer and plot an outage with its 90%% band; then "
        "detect anomalies in the bundled server metrics with the pretrained detector. --train "
        "trains both models live instead.",
    ),
)


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
    common, columns = _shared_parents()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, with_columns, handler, flags, help, description in _COMMANDS:
        command = sub.add_parser(
            name,
            parents=[common, columns] if with_columns else [common],
            help=help,
            description=description,
        )
        flags(_adder(command))
        command.set_defaults(handler=handler)
    return parser
