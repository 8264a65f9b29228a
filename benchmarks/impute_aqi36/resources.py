"""Per-phase peak memory, timing and thread pinning of a method's child process."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


class PeakMemory:
    """Peak resident set size of this process over a phase, in MiB.

    On Linux the kernel's high-water mark ``VmHWM`` is reset by writing ``5`` to
    ``/proc/self/clear_refs``, so each phase gets its own peak. Where that is refused, the peak is
    the process's lifetime maximum (``ru_maxrss``) and ``per_phase`` is False.
    """

    def __init__(self) -> None:
        self.per_phase = self._reset()

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            return True
        except OSError:
            return False

    def start(self) -> None:
        """Begin a new phase: free what earlier phases left in the allocator, reset the peak."""
        release_free_memory()
        self.per_phase = self._reset()

    @staticmethod
    def read() -> float:
        """Peak RSS (MiB) since the last :meth:`start` (or process start)."""
        try:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def release_free_memory() -> None:
    """Collect garbage and hand glibc's free heap back to the kernel (``malloc_trim``), so a
    phase's peak RSS is not inflated by memory an earlier phase freed but the allocator kept."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def timed(func: Callable[[], Any], memory: PeakMemory) -> tuple[Any, float, float]:
    """Run ``func``; return its result, wall seconds and peak RSS (MiB) during the call."""
    memory.start()
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start, memory.read()


def limit_threads(threads: int) -> None:
    """Pin torch's intra-op pool (and BLAS/OpenMP pools) to ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def result_row(method: str, label: str, scores: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One row of the results: ``scores`` and ``extra``, with ``peak_rss_mb`` the largest of
    the phases' peaks."""
    row: dict[str, Any] = {"method": method, "label": label, **scores}
    row.update(extra)
    row["peak_rss_mb"] = max(
        v for k, v in row.items() if k.startswith("peak_rss_") and k != "peak_rss_mb" and v
    )
    return row
