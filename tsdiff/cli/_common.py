"""What every ``tsdiff`` command shares: exit codes, the usage error, argument types, messages.

Imports nothing heavy: ``tsdiff --help`` builds the parser from these.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TypeVar

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_Number = TypeVar("_Number", int, float)


class UsageError(Exception):
    """A problem with the command line or its inputs (exit code 2)."""


def bounded(
    convert: Callable[[str], _Number], kind: str, accept: Callable[[_Number], bool], bound: str
) -> Callable[[str], _Number]:
    """An argparse ``type``: ``convert`` the text, then refuse values that ``accept`` rejects.

    Parameters
    ----------
    convert : callable
        ``int`` or ``float``.
    kind : str
        What the text must be ("an integer", "a number"), for the message of a bad text.
    accept : callable
        True for an allowed value.
    bound : str
        The allowed range in words ("must be ``bound``, got ..."), e.g. ``">= 1"``.
    """

    def parse(text: str) -> _Number:
        try:
            value = convert(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from err
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


positive_int = bounded(int, "an integer", lambda v: v >= 1, ">= 1")
non_negative_int = bounded(int, "an integer", lambda v: v >= 0, ">= 0")
positive_float = bounded(float, "a number", lambda v: v > 0, "> 0")
fraction = bounded(float, "a number", lambda v: 0 < v < 1, "between 0 and 1 (exclusive)")


def column_list(text: str) -> list[str]:
    """An argparse ``type``: comma-separated column names."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def global_rank() -> int:
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


def info(args: argparse.Namespace, message: str) -> None:
    """A progress message on stderr (not with ``--quiet``, only from rank 0)."""
    if not getattr(args, "quiet", False) and global_rank() == 0:
        print(message, file=sys.stderr, flush=True)


def setup(args: argparse.Namespace) -> None:
    """Apply the common options that act before a command runs (``--threads``)."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(int(args.threads))
