"""Markdown and command-line plumbing shared by the benchmark scripts."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

#: A simple command-line flag: name, type (``bool``: a ``store_true`` switch), default, help.
Flag = tuple[str, Any, Any, str | None]


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a markdown table: header, separator and one line per row of cell texts."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines.extend("| " + " | ".join(cells) + " |" for cells in rows)
    return lines


def add_flags(parser: argparse.ArgumentParser, flags: Iterable[Flag]) -> None:
    """Declare each simple flag of ``flags`` on ``parser``, in order."""
    for name, kind, default, text in flags:
        if kind is bool:
            parser.add_argument(name, action="store_true", help=text)
        else:
            parser.add_argument(name, type=kind, default=default, help=text)
