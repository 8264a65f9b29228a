"""Command line of the detection benchmark."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from benchmarks._report import Flag, add_flags
from benchmarks.datasets import SMD_MACHINES, DataMissing
from benchmarks.detect.report import merge_reports, save, tables
from benchmarks.detect.runner import run

RESULTS = Path(__file__).resolve().parents[1] / "results" / "detect.json"
QUICK_SKAB_RUNS = ("other_01", "other_09", "valve1_00", "valve1_08", "valve2_00", "valve2_02")


#: Simple flags, declared in ``--help`` order between the others.
SWITCHES: tuple[Flag, ...] = (
    ("--skip-smd", bool, False, None),
    ("--skip-skab", bool, False, None),
    ("--skip-tsdiff", bool, False, "baselines only"),
    ("--only-tsdiff", bool, False, "tsdiff and random only"),
    ("--no-anomaly-free", bool, False, "SKAB: do not train on anomaly_free.csv.gz"),
    ("--max-time", float, 240.0, "tsdiff training budget per model (s)"),
)
SIZES: tuple[Flag, ...] = (
    ("--zscore-window", int, 60, None),
    ("--max-train-windows", int, 20000, "baseline training windows (subsampled)"),
    ("--vus-window", int, 100, "VUS buffer (TSB-AD slidingWindow)"),
    ("--output", Path, RESULTS, None),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.detect",
        description=importlib.import_module("benchmarks.detect").__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(parser, [("--quick", bool, False, "one SMD machine, 6 SKAB runs, 120 s training")])
    parser.add_argument(
        "--machines", nargs="*", default=None, help=f"SMD machines (default all: {SMD_MACHINES})"
    )
    parser.add_argument(
        "--skab-runs", nargs="*", default=None, help="SKAB runs to use (default all 34)"
    )
    add_flags(parser, SWITCHES)
    parser.add_argument(
        "--tsdiff-param",
        action="append",
        help="detector parameter overriding make_detector's, e.g. n_samples=8 (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="one run of everything per seed (tsdiff's training, IForest, PCA, random); all "
        "seeds go into the one output file, with their means",
    )
    parser.add_argument("--baseline-window", type=int, default=16)
    parser.add_argument(
        "--smoothed-baselines",
        nargs="+",
        default=["31", "1+31+63"],
        metavar="LENGTHS",
        help="also report every baseline after tsdiff's post-processing: a centred moving "
        "average of this many steps ('31'), or several lengths joined by '+' as tsdiff's "
        "multi-scale smoothing ('1+31+63', its default), so the comparison does not hinge on "
        "post-processing; '1' alone turns the extra rows off",
    )
    parser.add_argument(
        "--no-tsdiff-postprocessed-baselines",
        dest="tsdiff_postprocessed_baselines",
        action="store_false",
        help="do not add, for every per-sensor baseline, a row with tsdiff's whole "
        "post-processing (its smoothing, top-k aggregation and score cap)",
    )
    add_flags(parser, SIZES)
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        help="combine result files of earlier runs (seeds or machines run separately) into "
        "--output, recomputing the means; runs nothing",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.machines = args.machines or list(SMD_MACHINES[:1])
        args.skab_runs = args.skab_runs or list(QUICK_SKAB_RUNS)
        args.max_time = min(args.max_time, 120.0)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or merge earlier result files) and print markdown tables."""
    args = parse_args(argv)
    if args.merge:
        report = merge_reports(args.merge)
    else:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        lines: list[str] = []

        def log(line: str) -> None:
            sys.stderr.write(line + "\n")
            lines.append(line)

        command = " ".join(
            ["python -m benchmarks.detect", *(sys.argv[1:] if argv is None else argv)]
        )
        try:
            with threadpool_limits(args.threads):
                report = run(args, command, log)
        except DataMissing as err:
            sys.stderr.write(f"{err}\n")
            return 1
        report["log"] = lines
    save(args.output, report)
    sys.stdout.write(tables(report) + f"\n\nwrote {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
