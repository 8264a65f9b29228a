"""``tsdiff fit``: train an imputer or detector on a data file and save it.

A new model is built from ``--config``; ``--ckpt-path`` resumes an interrupted run from a
Lightning checkpoint, ``--warm-start DIR`` fine-tunes a saved model instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tsdiff.cli._common import EXIT_OK, UsageError, global_rank, info, setup
from tsdiff.cli._io import check_model_destination, data_defaults, load_model


def _data_settings(args: argparse.Namespace, config: Any, saved: dict[str, Any]) -> dict[str, Any]:
    """Column settings: the flags, else the configuration's ``data``, else the saved model's."""
    data = config.data
    defaults = data_defaults(saved)
    names = saved.get("feature_names_in")
    label = args.label_column if args.label_column is not None else data.label_column
    return {
        "time_column": args.time_column or data.time_column or defaults.get("time_column"),
        "series_column": args.series_column or data.series_column or defaults.get("series_column"),
        "label_column": label if label is not None else defaults.get("label_column"),
        "columns": args.columns or data.columns or ([str(n) for n in names] if names else None),
        "time_format": data.time_format or defaults.get("time_format"),
    }


def _read_training_data(args: argparse.Namespace, settings: dict[str, Any]) -> tuple[Any, Any]:
    """The training table and the ``--validation-data`` features (or None)."""
    from tsdiff.data.files import read_table, select_features, split_table

    table = split_table(read_table(args.data), source=str(args.data), **settings)
    if table.ignored:
        info(args, f"note: ignoring non-numeric column(s) {table.ignored}")
    if not args.validation_data:
        return table, None
    names = list(table.features.columns)
    val_table = split_table(
        read_table(args.validation_data),
        source=str(args.validation_data),
        **{**settings, "time_column": table.time_column, "columns": names},
    )
    return table, select_features(val_table, names, str(args.validation_data))


def _estimator(args: argparse.Namespace, config: Any, saved: Any) -> Any:
    """The estimator to fit: the ``--warm-start`` model or a new one from the configuration."""
    from tsdiff.config import build_estimator

    overrides: dict[str, Any] = {"verbose": not args.quiet}
    for flag, param in (
        ("max_epochs", "max_epochs"),
        ("max_time", "max_time"),
        ("seed", "random_state"),
    ):
        if getattr(args, flag) is not None:
            overrides[param] = getattr(args, flag)
    if saved is None:
        return build_estimator(config, **overrides)
    return saved.set_params(**overrides)


def _fit_options(args: argparse.Namespace, estimator: Any, validation: Any) -> dict[str, Any]:
    """The keyword arguments of ``estimator.fit`` given by the flags."""
    import inspect

    options: dict[str, Any] = {}
    if validation is not None:
        if "validation_data" not in inspect.signature(estimator.fit).parameters:
            raise UsageError(f"--validation-data is not supported by {type(estimator).__name__}.")
        options["validation_data"] = validation
    if args.ckpt_path is not None:
        if not Path(args.ckpt_path).is_file():
            raise UsageError(f"{args.ckpt_path}: no such checkpoint file (--ckpt-path).")
        options["ckpt_path"] = args.ckpt_path
    if args.warm_start is not None:
        options["warm_start"] = True
    return options


def cmd_fit(args: argparse.Namespace) -> int:
    """Run ``tsdiff fit``; returns the exit code."""
    setup(args)
    from tsdiff.config import RunConfig, load_config
    from tsdiff.persistence import save_estimator

    if args.warm_start is not None and args.config:
        raise UsageError(
            "--warm-start fine-tunes the saved model with its own settings; drop --config."
        )
    if args.warm_start is not None and args.ckpt_path is not None:
        raise UsageError("pass either --ckpt-path (resume a run) or --warm-start, not both.")
    config = load_config(args.config) if args.config else RunConfig()
    check_model_destination(args.out)
    saved, saved_info = load_model(args.warm_start) if args.warm_start else (None, {})
    settings = _data_settings(args, config, saved_info)
    table, validation = _read_training_data(args, settings)
    estimator = _estimator(args, config, saved)
    options = _fit_options(args, estimator, validation)
    tracking = config.tracking
    if args.track or tracking.enabled:
        _track_fit(
            tracking_uri=args.tracking_uri or tracking.uri,
            experiment_name=args.experiment_name or tracking.experiment_name,
            registered_model_name=args.registered_model_name or tracking.registered_model_name,
        )
    info(
        args,
        f"fitting {type(estimator).__name__} on {args.data}: {table.features.shape[0]} rows x "
        f"{table.features.shape[1]} columns",
    )
    estimator.fit(table.features, **options)
    saved_metadata = saved_info.get("metadata") or {}
    metadata = {
        "data": {
            "time_column": table.time_column,
            "series_column": table.series_column,
            "label_column": settings["label_column"],
            "time_format": settings["time_format"],
        },
        "config": saved_metadata.get("config") if saved is not None else config.source,
        "kind": saved_metadata.get("kind") if saved is not None else config.kind,
    }
    if saved is not None:
        metadata["warm_start"] = str(args.warm_start)
    if global_rank() != 0:
        # under DDP every process ends fit with the same model; only rank 0 writes it
        return EXIT_OK
    save_estimator(estimator, args.out, metadata=metadata)
    best = getattr(estimator, "best_val_loss_", None)
    best_text = f", best validation loss {best:.4f}" if isinstance(best, float) else ""
    info(
        args,
        f"saved the model to {args.out} ({estimator.n_epochs_} epochs in "
        f"{estimator.training_seconds_:.1f} s{best_text})",
    )
    if args.track or tracking.enabled:
        from tsdiff.tracking import fit_run

        record = fit_run(estimator)
        if record is not None:
            info(args, f"MLflow run {record.run_id}, model {record.model_uri or ''}")
    return EXIT_OK


def _track_fit(**settings: Any) -> None:
    """Record the coming fit in MLflow: :func:`tsdiff.tracking.autolog` watches every fit."""
    from tsdiff.tracking import autolog

    autolog(**{k: v for k, v in settings.items() if v is not None})
