"""The ``tsdiff`` command: fit, impute, detect, evaluate and demo from the shell.

Heavy libraries (torch, pandas, Lightning, MLflow) are imported inside the command functions, so
``tsdiff --help`` answers at once.

Exit codes: 0 success, 1 runtime failure, 2 usage or input error (bad flags, missing or invalid
files, columns, configuration keys), 130 interrupted.

The parser is in ``_parser``, the commands in ``_fit`` (fit), ``_apply`` (impute, detect, demo)
and ``_evaluate`` (evaluate); ``_io`` reads models and data and checks output paths, ``_common``
holds what they share.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tsdiff.cli._common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from tsdiff.cli._parser import build_parser

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
]

#: Exceptions reported as usage or input errors (exit code 2); any other one is a failure (1).
_USAGE_ERRORS = (
    UsageError,
    ValueError,
    TypeError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
)


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
        usage = isinstance(err, _USAGE_ERRORS)
        kind = "error" if usage else f"failed ({type(err).__name__})"
        print(f"{prog}: {kind}: {err}", file=sys.stderr)
        if not debug and not usage:
            print("run with --debug (before the command) for the traceback", file=sys.stderr)
        return EXIT_USAGE if usage else EXIT_FAILURE
