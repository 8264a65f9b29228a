"""Train the pretrained models of ``tsdiff demo`` (imputer and detector) in one run.

Usage (from the repository root, after ``pip install -e .``)::

    python tools/train_pretrained.py --out tsdiff/pretrained                      # CPU
    python tools/train_pretrained.py --accelerator gpu --precision bf16-mixed \\
        --max-time-imputer 300 --max-time-detector 120 --out /tmp/pretrained      # GPU
    python tools/train_pretrained.py --quick --out /tmp/pretrained-quick         # smoke test

The imputer (preset ``demo_imputer``) is trained on the first three years of the bundled
Beijing PM data (:func:`tsdiff.datasets.load_beijing_pm`, ``split="train"``), the detector
(preset ``demo_detector``) on the bundled server-metrics training slice, each within its
wall-clock budget. Both are saved to ``OUT/imputer`` and ``OUT/detector`` (safe format:
JSON + ``weights_only`` weights, checksummed), to be used on CPU (``accelerator: cpu``,
``precision: 32-true`` are stored whatever the training hardware). Then the demo's own
evaluation runs on the held-out period (``tsdiff.demo``), and ``OUT/figures.json`` and
``OUT/manifest.json`` (SHA-256 of every file, training settings, figures) are written; a summary
is printed. Copy ``OUT``'s content into ``tsdiff/pretrained/`` to bundle the models. No network
access is needed.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

#: Settings stored in the saved models: they are used for sampling on the user's CPU.
CPU_TRAINER = {"accelerator": "cpu", "precision": "32-true"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tsdiff" / "pretrained")
    parser.add_argument("--accelerator", default="cpu", help="cpu (default), gpu, auto")
    parser.add_argument("--precision", default=None, help="e.g. 32-true, bf16-mixed")
    parser.add_argument("--max-time-imputer", type=float, default=900.0, help="seconds")
    parser.add_argument("--max-time-detector", type=float, default=240.0, help="seconds")
    parser.add_argument("--train-stride", type=int, default=None, help="imputer (default preset)")
    parser.add_argument("--batch-size", type=int, default=None, help="imputer (default preset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny models, seconds (tests)")
    parser.add_argument("--skip-detector", action="store_true")
    parser.add_argument("--skip-evaluation", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true", help="score models in --out")
    parser.add_argument(
        "--recalibrate",
        action="store_true",
        help="keep the imputer's weights in --out; give it the preset's sampler settings and "
        "re-learn its calibration on the held-out end of the training years",
    )
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def _trainer(args: argparse.Namespace) -> dict[str, Any]:
    trainer: dict[str, Any] = {"accelerator": args.accelerator}
    if args.precision:
        trainer["precision"] = args.precision
    return trainer


def _save(estimator: Any, folder: Path) -> None:
    estimator.set_params(trainer_kwargs=dict(CPU_TRAINER), verbose=False)
    if folder.exists():
        shutil.rmtree(folder)
    estimator.save(folder)


def _fit(args: argparse.Namespace, preset: str, data: Any, **overrides: Any) -> tuple[Any, float]:
    """Fit a preset on ``data`` with the run's trainer, seed and verbosity."""
    from tsdiff.demo import fit_preset

    return fit_preset(
        preset,
        data,
        trainer_kwargs=_trainer(args),
        random_state=args.seed,
        verbose=not args.quiet,
        **overrides,
    )


def train_imputer(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Fit the demo imputer on the training years; returns it and its training facts."""
    from tsdiff.datasets import load_beijing_pm
    from tsdiff.demo import IMPUTER_PRESET, QUICK_IMPUTER_PRESET, QUICK_TRAIN_ROWS

    data = load_beijing_pm("train")
    if args.quick:
        data = data.iloc[-QUICK_TRAIN_ROWS:]
    preset = QUICK_IMPUTER_PRESET if args.quick else IMPUTER_PRESET
    imputer, seconds = _fit(
        args,
        preset,
        data,
        max_time=args.max_time_imputer,
        train_stride=args.train_stride,
        batch_size=args.batch_size,
    )
    facts = {
        "preset": preset,
        "data": f"load_beijing_pm('train'): {data.index[0]} .. {data.index[-1]}, "
        f"{data.shape[0]} hours x {data.shape[1]} columns",
        "max_time": args.max_time_imputer,
        "train_stride": int(imputer.train_stride),
        "batch_size": int(imputer.batch_size),
        "n_epochs": int(imputer.n_epochs_),
        "best_epoch": int(imputer.best_epoch_),
        "fit_seconds": round(seconds, 1),
        "final_val_loss": _last(imputer.history_, "val_loss"),
        "final_train_loss": _last(imputer.history_, "train_loss"),
    }
    return imputer, facts


def recalibrate_imputer(args: argparse.Namespace, facts: dict[str, Any]) -> Any:
    """The imputer in ``--out`` with the preset's sampler settings, calibrated for them on the
    last ``validation_fraction`` of the training years (held out from its training)."""
    from tsdiff import TSDiffImputer
    from tsdiff.config import estimator_kwargs, load_config
    from tsdiff.datasets import load_beijing_pm
    from tsdiff.demo import IMPUTER_PRESET, QUICK_IMPUTER_PRESET, QUICK_TRAIN_ROWS

    _, preset = estimator_kwargs(
        load_config(QUICK_IMPUTER_PRESET if args.quick else IMPUTER_PRESET)
    )
    imputer = TSDiffImputer.load(args.out / "imputer")
    sampling = {k: preset[k] for k in ("sampler", "sampling_steps", "n_samples") if k in preset}
    imputer.set_params(**sampling, verbose=not args.quiet)
    data = load_beijing_pm("train")
    if args.quick:
        data = data.iloc[-QUICK_TRAIN_ROWS:]
    held_out = data.iloc[-max(1, round(imputer.validation_fraction * len(data))) :]
    imputer.calibrate(held_out)
    facts["recalibrated"] = {
        **sampling,
        "data": f"{held_out.index[0]} .. {held_out.index[-1]}",
        "blend_weight": round(float(imputer.blend_weights_[0]), 4),
        "interval_scale": round(float(imputer.interval_scale_), 4),
    }
    return imputer


def train_detector(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Fit the demo detector on the server-metrics training slice."""
    from tsdiff.datasets import load_server_metrics
    from tsdiff.demo import DETECTOR_PRESET, QUICK_DETECTOR_PRESET

    train = load_server_metrics("train")
    if args.quick:
        train = train.iloc[:400]
    preset = QUICK_DETECTOR_PRESET if args.quick else DETECTOR_PRESET
    detector, seconds = _fit(args, preset, train, max_time=args.max_time_detector)
    facts = {
        "preset": preset,
        "data": f"load_server_metrics('train'): {train.shape[0]} minutes",
        "max_time": args.max_time_detector,
        "n_epochs": int(detector.n_epochs_),
        "fit_seconds": round(seconds, 1),
    }
    return detector, facts


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if h.get(key) is not None]
    return round(float(values[-1]), 5) if values else None


def evaluate(folder: Path, quick: bool, seed: int) -> dict[str, Any]:
    """The demo's figures of the models in ``folder`` on the held-out period."""
    from tsdiff.demo import detection_demo, imputation_demo
    from tsdiff.pretrained import MODELS

    figures: dict[str, Any] = {}
    if (folder / "imputer").is_dir():
        figures["imputation"] = imputation_demo(
            folder, seed=seed, plot=False, quiet=True, quick=quick, pretrained_dir=folder
        )
    if (folder / "detector").is_dir() and "detector" in MODELS:
        figures["detection"] = detection_demo(
            folder, seed=seed, plot=False, quiet=True, quick=quick, pretrained_dir=folder
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Train, save, evaluate and summarise; returns the exit status."""
    import torch

    from tsdiff.pretrained import write_manifest

    args = _parse(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    info: dict[str, Any] = {}
    info_file = out / "training.json"
    if (args.evaluate_only or args.recalibrate) and info_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
    if args.recalibrate:
        imputer = recalibrate_imputer(args, info.setdefault("imputer", {}))
        _save(imputer, out / "imputer")
        info_file.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        print(f"imputer: {info['imputer']['recalibrated']}", flush=True)
    elif not args.evaluate_only:
        info = {
            "command": "python tools/train_pretrained.py " + " ".join(sys.argv[1:] or []),
            "accelerator": args.accelerator,
            "precision": args.precision,
            "device": (
                torch.cuda.get_device_name(0)
                if args.accelerator != "cpu" and torch.cuda.is_available()
                else f"CPU ({platform.processor() or platform.machine()}, "
                f"{torch.get_num_threads()} threads)"
            ),
            "torch": torch.__version__,
            "seed": args.seed,
            "quick": args.quick,
        }
        imputer, info["imputer"] = train_imputer(args)
        _save(imputer, out / "imputer")
        print(f"imputer: {info['imputer']}", flush=True)
        if not args.skip_detector:
            detector, info["detector"] = train_detector(args)
            _save(detector, out / "detector")
            print(f"detector: {info['detector']}", flush=True)
        info["train_seconds"] = round(time.perf_counter() - start, 1)
        info_file.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        write_manifest(out, info)
    if not args.skip_evaluation:
        eval_start = time.perf_counter()
        info["figures"] = evaluate(out, args.quick, args.seed)
        info["evaluation_seconds"] = round(time.perf_counter() - eval_start, 1)
        (out / "figures.json").write_text(
            json.dumps(info["figures"], indent=2) + "\n", encoding="utf-8"
        )
    write_manifest(out, info)
    info["total_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(info, indent=2))
    print(f"\nwrote {out}/imputer, {out}/detector, {out}/figures.json, {out}/manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
