"""Files of the ``tsdiff`` commands: saved models, data tables and the checks of ``--out``.

Every check runs before the expensive part of a command (training, sampling), so that a typo
costs nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tsdiff.cli._common import UsageError


def load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """The estimator saved in ``path`` and its ``config.json`` summary."""
    from tsdiff.persistence import load_estimator, model_info

    info = model_info(path)
    estimator = load_estimator(path)
    return estimator, info


def is_detector(estimator: Any) -> bool:
    """Whether ``estimator`` scores anomalies (rather than imputes)."""
    return hasattr(estimator, "decision_function")


def data_defaults(info: dict[str, Any]) -> dict[str, Any]:
    """The column settings stored with a model by ``tsdiff fit``."""
    data = (info.get("metadata") or {}).get("data") or {}
    return data if isinstance(data, dict) else {}


def read_for_model(args: argparse.Namespace, estimator: Any, info: dict[str, Any]) -> Any:
    """``--data`` split into the model's feature columns, time, series and labels."""
    from tsdiff.data.files import read_table, regroup, select_features, split_table

    defaults = data_defaults(info)
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


def model_input(estimator: Any, frame: Any) -> Any:
    """The frame itself, or its values for a model fitted without column names."""
    return frame if getattr(estimator, "feature_names_in_", None) is not None else frame.to_numpy()


def check_output_file(path: str) -> None:
    """Refuse, before any sampling, an output file that could not be written afterwards.

    Raises
    ------
    UsageError
        For an unknown extension, Parquet without pyarrow, a directory in place of the file, or
        a parent folder that cannot be created or written.
    """
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


def check_model_destination(path: str) -> None:
    """Refuse, before training, a destination that save() would refuse after it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is a file; --out must be a (new or model) directory.")
    if out.is_dir() and any(out.iterdir()) and not (out / "config.json").is_file():
        raise UsageError(
            f"{out}: the directory is not empty and holds no tsdiff model; choose a new directory."
        )


def check_json_destination(path: str) -> None:
    """Refuse, before the evaluation, a JSON file that could not be written afterwards."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; --out must be a file name.")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: the folder {out.parent} does not exist; create it first.")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: the folder {out.parent} is not writable; choose another --out.")
