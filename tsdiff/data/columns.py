"""Column identity: a JSON-safe record of frame column labels, type included, and its check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _label_token(label: Any) -> str:
    """A JSON-safe text that identifies a column label, type included (``1`` differs from
    ``"1"``, ``np.int64(3)`` equals ``3``)."""
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return "none:"
    if isinstance(label, bool):
        return f"bool:{label}"
    if isinstance(label, int):
        return f"int:{label}"
    if isinstance(label, float):
        return f"float:{label!r}"
    if isinstance(label, str):
        return f"str:{label}"
    if isinstance(label, tuple):
        return "tuple:" + json.dumps([_label_token(item) for item in label])
    if isinstance(label, (pd.Timestamp, pd.Timedelta)):
        return f"{type(label).__name__.lower()}:{label.isoformat()}"
    return f"{type(label).__name__}:{label!r}"


def _token_text(token: str) -> str:
    """A readable form of a label token, for messages."""
    kind, _, text = token.partition(":")
    if kind == "str":
        return repr(text)
    if kind == "tuple":
        return "(" + ", ".join(_token_text(t) for t in json.loads(text)) + ")"
    if kind == "none":
        return "None"
    return text


def column_identity(columns: pd.Index | None) -> list[str] | None:
    """Record the identity of frame columns, JSON-safely, for every kind of label.

    Parameters
    ----------
    columns : pandas.Index or None
        The columns of the fitted frame (``ParsedInput.layout.columns``); None for array input.

    Returns
    -------
    list of str or None
        One token per column, in order, e.g. ``"str:temp"``, ``"int:3"``, ``'tuple:["str:a",
        "int:1"]'``. The type is part of the token, so integer ``1`` and text ``"1"`` differ,
        while numpy and Python integers of the same value are the same. A plain list of strings:
        it can be stored as a fitted attribute and saved as JSON. None for array input.
    """
    if columns is None:
        return None
    return [_label_token(c) for c in columns]


def check_column_identity(
    expected: Sequence[str] | None, columns: pd.Index | None, *, where: str = ""
) -> None:
    """Check that a frame has the fitted columns, the same labels in the same order.

    Parameters
    ----------
    expected : list of str or None
        :func:`column_identity` of the fitted frame; None (fitted on an array, or a model saved
        before identities were recorded) skips the check.
    columns : pandas.Index or None
        The columns of the new input; None (an array) skips the check.
    where : str
        A prefix for the message (e.g. ``"transform: "``).

    Raises
    ------
    ValueError
        Naming the missing and unexpected columns, or, when the labels are the same, the first
        position where the order differs, and what to do.
    """
    if expected is None or columns is None:
        return
    given = column_identity(columns)
    assert given is not None
    if list(expected) == given:
        return
    expected_set, given_set = set(expected), set(given)
    missing = [_token_text(t) for t in expected if t not in given_set]
    unexpected = [_token_text(t) for t in given if t not in expected_set]
    if missing or unexpected:
        hint = ""
        if any(
            _token_text(a) == _token_text(b) or a.partition(":")[2] == b.partition(":")[2]
            for a in expected
            for b in given
            if a != b
        ):
            hint = (
                " Some labels match in text but not in type (e.g. integer 1 versus text '1', as "
                "read_csv(header=None) gives integers): use the same label types as in fit."
            )
        raise ValueError(
            f"{where}the columns differ from those seen in fit: missing "
            f"[{', '.join(missing)}], unexpected [{', '.join(unexpected)}].{hint} Pass exactly the "
            "columns the model was fitted on, in the same order "
            "(X = X[fitted_columns])."
        )
    position = next(i for i, (a, b) in enumerate(zip(expected, given, strict=True)) if a != b)
    raise ValueError(
        f"{where}the columns are those seen in fit but in another order: position {position} "
        f"holds {_token_text(given[position])} where fit had {_token_text(expected[position])} "
        f"(fit order: [{', '.join(_token_text(t) for t in expected)}]). Each column is scaled "
        "and modelled by position, so reorder them first: X = X[fitted_columns]."
    )
