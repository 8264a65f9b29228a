"""``tsdiff evaluate``: score a saved model on data with known values and print JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tsdiff.cli._common import EXIT_OK, UsageError, info, setup
from tsdiff.cli._io import (
    check_json_destination,
    is_detector,
    load_model,
    model_input,
    read_for_model,
)


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


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run ``tsdiff evaluate``; returns the exit code."""
    setup(args)
    from tsdiff.config import RunConfig, load_config

    config = load_config(args.config) if args.config else RunConfig()
    if args.out:
        check_json_destination(args.out)
    estimator, saved = load_model(args.model)
    table = read_for_model(args, estimator, saved)
    estimator.set_params(verbose=not args.quiet)
    seed = args.seed if args.seed is not None else config.evaluate.seed
    reasons: dict[str, str] = {}
    if is_detector(estimator):
        if table.labels is None:
            raise UsageError(
                f"{args.data}: no label column; pass --label-column to evaluate a detector."
            )
        from tsdiff.evaluation import score_once

        estimator.set_params(random_state=seed)
        scores, flags = score_once(estimator, model_input(estimator, table.features))
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
        info(args, f"logged the metrics to MLflow run {run_id}")
    text = json.dumps(result, indent=2, sort_keys=True, allow_nan=False)
    print(text)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as err:
            raise UsageError(f"{args.out}: cannot be written ({err}).") from err
    return EXIT_OK
