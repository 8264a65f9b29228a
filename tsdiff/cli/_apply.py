"""``tsdiff impute``, ``tsdiff detect`` (also ``--follow``) and ``tsdiff demo``."""

from __future__ import annotations

import argparse
from typing import Any

from tsdiff.cli._common import EXIT_OK, UsageError, info, setup
from tsdiff.cli._io import (
    check_output_file,
    data_defaults,
    is_detector,
    load_model,
    model_input,
    read_for_model,
)


def cmd_impute(args: argparse.Namespace) -> int:
    """Run ``tsdiff impute``; returns the exit code."""
    setup(args)
    import numpy as np
    import pandas as pd

    from tsdiff.data.files import write_table

    check_output_file(args.out)
    estimator, saved = load_model(args.model)
    if is_detector(estimator) or not hasattr(estimator, "transform"):
        raise UsageError(
            f"{args.model} holds a {type(estimator).__name__}; 'tsdiff impute' needs an imputer "
            "model."
        )
    table = read_for_model(args, estimator, saved)
    params: dict[str, Any] = {"verbose": not args.quiet}
    if args.n_samples:
        params["n_samples"] = args.n_samples
    if args.seed is not None:
        params["random_state"] = args.seed
    estimator.set_params(**params)
    frame = table.features
    missing = frame.isna().to_numpy()
    info(
        args,
        f"imputing {int(missing.sum())} missing cells of {frame.shape[0]} rows x "
        f"{frame.shape[1]} columns",
    )
    added = None
    if args.interval:
        samples = np.asarray(estimator.sample(model_input(estimator, frame)))
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
        result = estimator.transform(model_input(estimator, frame))
        filled = (
            result
            if isinstance(result, pd.DataFrame)
            else pd.DataFrame(result, index=frame.index, columns=frame.columns)
        )
    write_table(table.to_table(filled, added), args.out)
    info(args, f"wrote {args.out}")
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    """Run ``tsdiff detect``; returns the exit code."""
    setup(args)
    import pandas as pd

    from tsdiff.data.files import write_table
    from tsdiff.evaluation import score_once

    check_output_file(args.out)
    estimator, saved = load_model(args.model)
    if not is_detector(estimator):
        raise UsageError(
            f"{args.model} holds a {type(estimator).__name__}; 'tsdiff detect' needs a detector "
            "model "
            "(fit with a configuration whose model section has kind: detector)."
        )
    params: dict[str, Any] = {"verbose": not args.quiet}
    if args.seed is not None:
        params["random_state"] = args.seed
    if getattr(args, "follow", False):
        return _follow(args, estimator, saved, params)
    table = read_for_model(args, estimator, saved)
    estimator.set_params(**params)
    scores, flags = score_once(estimator, model_input(estimator, table.features))
    added = pd.DataFrame({"score": scores})
    if flags is not None:
        added["is_anomaly"] = flags
    write_table(table.to_table(None, added), args.out)
    info(args, f"wrote {args.out}")
    return EXIT_OK


def _follow(args: argparse.Namespace, estimator: Any, saved: dict[str, Any], params: Any) -> int:
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
            time_column=args.time_column or data_defaults(saved).get("time_column") or "time",
            poll_seconds=args.poll_seconds,
            max_polls=args.max_polls,
        )
    info(args, f"wrote {rows} rows to {args.out}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``tsdiff demo``; returns the exit code."""
    setup(args)
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
