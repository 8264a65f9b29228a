"""A guard that refuses work needing more memory than the machine has, before it starts."""

from __future__ import annotations

import os


class InsufficientMemoryError(MemoryError):
    """The requested work needs more memory than is available; the message says what to change."""


def available_memory_bytes() -> int | None:
    """Memory the process can still allocate without swapping (None where it is unknown).

    Linux's ``MemAvailable`` from ``/proc/meminfo``, else free physical pages.
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def check_memory(needed_bytes: float, what: str, advice: str) -> None:
    """Raise :class:`InsufficientMemoryError` when ``needed_bytes`` exceed the available memory.

    Parameters
    ----------
    needed_bytes : float
        Estimated peak allocation of the work.
    what : str
        The work, e.g. ``"sampling 50 samples of 1000 rows x 36 columns"``.
    advice : str
        What to change to need less.
    """
    available = available_memory_bytes()
    if available is None or needed_bytes <= available:
        return
    raise InsufficientMemoryError(
        f"{what} needs about {_gigabytes(needed_bytes)} of memory, but only "
        f"{_gigabytes(available)} is available; {advice}"
    )
