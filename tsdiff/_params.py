"""The one place the scikit-learn style objects of tsdiff store their ``__init__`` arguments.

scikit-learn's convention: ``__init__`` keeps every argument, unchanged and under its own name,
and validation happens in ``fit`` (or ``validate``). The estimators and the detector's parts
call :func:`store_params` instead of repeating ``self.name = name`` for each parameter.
"""

from __future__ import annotations

from typing import Any


def store_params(obj: Any, arguments: dict[str, Any]) -> None:
    """Set each ``__init__`` argument of ``obj`` as an attribute of the same name.

    Parameters
    ----------
    obj : object
        The object being initialised.
    arguments : dict
        ``locals()`` at the start of ``__init__``: its arguments (``self`` is skipped).
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(obj, name, value)
