"""Score a growing series row by row with a fitted detector, carrying a tail of context.

:class:`StreamingScorer` keeps the last rows and the cell scores that later rows still need, so
each :meth:`~StreamingScorer.update` samples only the windows the new rows complete. A row is
emitted once its score can no longer change, and then equals, up to floating-point rounding,
the score :meth:`TSDiffAnomalyDetector.detect` gives it on the concatenation of every row
streamed (at any later length).

Why a row waits (the latency)
-----------------------------
Batch scoring puts windows at multiples of the scorer's stride from the series start and one
more window aligned to the series end. A row ``r`` is covered by that end window as long as
``r >= n - window_length``, so its cell scores are final only once ``r < n - window_length``.
The aggregator then smooths each sensor with centred moving averages (``TopK``'s longest
smoothing, 63 steps by default, needs 31 rows after ``r``). A row is therefore final
``window_length + 31`` rows after it arrived with the default detector (:attr:`latency`).
:meth:`provisional` scores the waiting rows as if the stream ended now (they may still change);
:meth:`flush` emits them at the end of the stream, equal to batch scoring of the whole stream.

Equality with batch scoring needs the sampling noise of a window not to depend on the other
windows of a call: the detector seeds each window from its seed and the window's start row
(:mod:`tsdiff.scoring.seeded`). The detector needs a ``random_state`` for batch scoring to be
reproducible; a detector without one streams with a seed drawn once per stream.

Limits: one series, on a regular time index (rows, not time stamps, place the windows);
``POT(drift=True)``'s per-series threshold raise is not applied (the plain ``threshold_`` is);
a model with ``edge_anchors=True`` is refused (a window's anchors look past its end).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tsdiff.scoring.scales import smoothing_windows


class StreamingScorer:
    """Incremental anomaly scores of one growing series from a fitted detector.

    Parameters
    ----------
    detector : TSDiffAnomalyDetector
        Fitted (and calibrated); it is not modified.
    seed : int or None, default=None
        Base seed of the per-window sampling noise (None: the detector's ``random_state``, or
        a seed drawn once when it has none).

    Attributes
    ----------
    n_rows_seen_ : int
        Rows received so far.
    n_emitted_ : int
        Rows whose final score was returned.
    seconds_ : float
        Time spent in the last :meth:`update`.

    Examples
    --------
    >>> stream = StreamingScorer(detector)  # doctest: +SKIP
    >>> for chunk in source:  # doctest: +SKIP
    ...     final = stream.update(chunk)  # columns "score" and "anomaly"
    >>> rest = stream.flush()  # doctest: +SKIP
    """

    def __init__(self, detector: Any, seed: int | None = None) -> None:
        check_is_fitted(detector, "threshold_")
        if detector.model_config_.edge_anchors:
            raise ValueError(
                "StreamingScorer needs a model with edge_anchors=False (the detector's default):"
                " edge anchors make a window's input depend on rows after it."
            )
        if getattr(detector.thresholder_, "drift", False):
            warnings.warn(
                "The thresholder's drift adjustment needs a whole series; streaming flags rows "
                "with the plain calibrated threshold_.",
                UserWarning,
                stacklevel=2,
            )
        self.detector = detector
        if seed is None:
            seed = detector.random_state
        if seed is None:
            seed = int(np.random.default_rng().integers(2**32))
        self.seed = int(seed)
        scorer = detector.scorer_
        self._neighbours = getattr(detector, "neighbours_", None)
        self._length = int(detector.window_length)
        self._stride = int(scorer.stride or self._length)
        windows = smoothing_windows(getattr(detector.aggregator_, "smoothing", 1))
        self._before = max(w // 2 for w in windows)
        self._after = max(w - 1 - w // 2 for w in windows)
        self._rows: pd.DataFrame | np.ndarray | None = None  # rows from _rows_start on
        self._rows_start = 0
        self._labels: pd.Index | None = None  # index labels of the rows not yet emitted
        self._raw: np.ndarray | None = None  # final raw cells from _raw_start to _stable
        self._raw_start = 0
        self._stable = 0  # rows [0, _stable) have final raw cell scores
        self._ended = False
        self.n_rows_seen_ = 0
        self.n_emitted_ = 0
        self.seconds_ = 0.0

    @property
    def latency(self) -> int:
        """Rows that must follow a row before its score is final."""
        return self._length + self._after

    # -- input ------------------------------------------------------------------------------
    def _append(self, rows: Any) -> None:
        if isinstance(rows, pd.Series):
            rows = rows.to_frame().T
        if not isinstance(rows, pd.DataFrame):
            rows = np.asarray(rows, dtype=np.float64)
            if rows.ndim == 1:
                rows = rows[None, :]
        if self._rows is None:
            self._rows = rows
        elif isinstance(self._rows, pd.DataFrame):
            if not isinstance(rows, pd.DataFrame):
                rows = pd.DataFrame(rows, columns=self._rows.columns)
            self._rows = pd.concat([self._rows, rows])
        else:
            if isinstance(rows, pd.DataFrame):
                raise TypeError("the stream started with arrays; pass arrays.")
            self._rows = np.concatenate([self._rows, rows])
        if isinstance(rows, pd.DataFrame):
            self._labels = rows.index if self._labels is None else self._labels.append(rows.index)
        self.n_rows_seen_ += len(rows)

    def _slice(self, start: int, stop: int) -> Any:
        """Rows ``[start, stop)`` of the stream (global row numbers)."""
        assert self._rows is not None
        a, b = start - self._rows_start, stop - self._rows_start
        if isinstance(self._rows, pd.DataFrame):
            return self._rows.iloc[a:b]
        return self._rows[a:b]

    def _index(self, start: int, stop: int) -> pd.Index:
        """Index labels of the rows ``[start, stop)`` (``start`` at least ``n_emitted_``)."""
        if self._labels is not None:
            return self._labels[start - self.n_emitted_ : stop - self.n_emitted_]
        return pd.RangeIndex(start, stop)

    # -- scoring ----------------------------------------------------------------------------
    def _raw_cells(self, start: int, stop: int, keep_from: int) -> np.ndarray:
        """Raw cell scores of the rows ``[keep_from, stop)`` of the stream, as batch scoring
        scores them: the scorer's from the segment ``[start, stop)`` (``start`` a window
        start), the neighbour distances from those rows with the context they look at."""
        detector = self.detector
        parsed = detector._check_fitted_input(self._slice(start, stop))
        raw = detector._cell_scores(
            detector.scorer_,
            detector._series(parsed),
            row_offset=start,
            base_seed=self.seed,
        )
        cells = np.asarray(raw[0], dtype=np.float64)[keep_from - start :]
        if self._neighbours is None:
            return cells
        before, after = self._neighbours.context
        first = max(keep_from - before, 0)
        last = min(stop + after, self.n_rows_seen_)
        parsed = detector._check_fitted_input(self._slice(first, last))
        distances = detector._neighbour_cells(
            self._neighbours, detector._series(parsed), row_offset=first
        )[0]
        distances = distances[keep_from - first : stop - first]
        return np.concatenate([cells, distances], axis=1)

    def _first_window_covering(self, row: int) -> int:
        """Start of the first regular window that covers ``row``."""
        first = max(row - self._length + 1, 0)
        return -(-first // self._stride) * self._stride

    def _step_scores(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        detector = self.detector
        table = detector._fold(
            detector.scorer_, self._neighbours, detector.aggregator_.sensor_scores(raw)
        )
        return detector.aggregator_.aggregate(table), table

    def _empty(self) -> pd.DataFrame:
        index = self._index(0, 0) if self._rows is not None else pd.RangeIndex(0)
        return pd.DataFrame(
            {"score": np.zeros(0), "anomaly": np.zeros(0, dtype=np.int64)}, index=index
        )

    def _frame(self, start: int, stop: int, raw: np.ndarray, raw_start: int) -> pd.DataFrame:
        """Scores of the rows ``[start, stop)`` from raw cells beginning at ``raw_start``."""
        steps, _ = self._step_scores(raw)
        scores = steps[start - raw_start : stop - raw_start]
        threshold = float(self.detector.threshold_)
        with np.errstate(invalid="ignore"):
            flags = (np.nan_to_num(scores, nan=-np.inf) > threshold).astype(np.int64)
        return pd.DataFrame({"score": scores, "anomaly": flags}, index=self._index(start, stop))

    def update(self, rows: Any) -> pd.DataFrame:
        """Add rows; return the rows whose score became final (possibly none).

        Parameters
        ----------
        rows : DataFrame, 2-D array or one row
            New rows with the detector's columns (NaN allowed).

        Returns
        -------
        DataFrame
            Columns ``score`` and ``anomaly`` (0/1) for the newly final rows, indexed like the
            input rows (row numbers of the stream for arrays).
        """
        if self._ended:
            raise ValueError("the stream was flushed; start a new StreamingScorer.")
        started = time.perf_counter()
        self._append(rows)
        n = self.n_rows_seen_
        stable = max(n - self._length, 0)
        if stable > self._stable:
            first = self._first_window_covering(self._stable)
            last = (stable - 1) // self._stride * self._stride  # last window start < stable
            cells = self._raw_cells(first, last + self._length, self._stable)
            new = cells[: stable - self._stable]
            self._raw = new if self._raw is None else np.concatenate([self._raw, new])
            self._stable = stable
        out = self._emit_final()
        self._trim()
        self.seconds_ = time.perf_counter() - started
        return out

    def _emit_final(self) -> pd.DataFrame:
        ready = max(self._stable - self._after, self.n_emitted_)
        if ready <= self.n_emitted_ or self._raw is None:
            return self._empty()
        out = self._frame(self.n_emitted_, ready, self._raw, self._raw_start)
        if self._labels is not None:
            self._labels = self._labels[ready - self.n_emitted_ :]
        self.n_emitted_ = ready
        return out

    def _trim(self) -> None:
        """Drop rows and raw cells that no later score needs."""
        keep_raw = max(self.n_emitted_ - self._before, 0)
        if self._raw is not None and keep_raw > self._raw_start:
            self._raw = self._raw[keep_raw - self._raw_start :]
            self._raw_start = keep_raw
        keep_rows = self._first_window_covering(self._stable)
        if self._neighbours is not None:
            keep_rows = min(keep_rows, max(self._stable - self._neighbours.context[0], 0))
        if self._rows is not None and keep_rows > self._rows_start:
            cut = keep_rows - self._rows_start
            self._rows = (
                self._rows.iloc[cut:]
                if isinstance(self._rows, pd.DataFrame)
                else (self._rows[cut:])
            )
            self._rows_start = keep_rows

    def provisional(self) -> pd.DataFrame:
        """Scores of the rows not yet final, as batch scoring of the stream so far gives them.

        They may change as rows arrive (the end window and the smoothing move).
        """
        n = self.n_rows_seen_
        if n <= self.n_emitted_:
            return self._empty()
        first = self._first_window_covering(self._stable)
        tail = self._raw_cells(first, n, self._stable)
        parts = [tail] if self._raw is None else [self._raw, tail]
        raw = np.concatenate(parts)
        return self._frame(self.n_emitted_, n, raw, self._raw_start)

    def flush(self) -> pd.DataFrame:
        """End the stream: the remaining rows' scores (batch scoring of the whole stream)."""
        out = self.provisional()
        self.n_emitted_ = self.n_rows_seen_
        self._ended = True
        return out


# -- following a growing CSV file or a pipe ------------------------------------------------------
def _frame_of(text: str, columns: list[str] | None, time_column: str | None) -> pd.DataFrame:
    import io

    frame = pd.read_csv(io.StringIO(text))
    if time_column is not None and time_column in frame.columns:
        frame.index = pd.to_datetime(frame.pop(time_column))
        frame.index.name = time_column
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"the stream lacks the model's column(s) {missing}.")
        return frame[columns]
    return frame.select_dtypes("number").drop(columns=["label"], errors="ignore")


def _write(out: Any, rows: pd.DataFrame, header: bool) -> None:
    if rows.empty and not header:
        return
    frame = rows.rename(columns={"anomaly": "is_anomaly"})
    frame.to_csv(out, header=header, index=True)
    out.flush()


def follow(
    detector: Any,
    source: str,
    out: Any,
    *,
    time_column: str | None = "time",
    poll_seconds: float = 1.0,
    max_polls: int | None = None,
    batch_rows: int = 60,
    sleep: Any = time.sleep,
) -> int:
    """Score the rows of a growing CSV file (or of ``"-"``, standard input) as they arrive.

    Each poll reads the lines appended since the last one (a partial last line waits for the
    next poll) and writes the rows that became final to ``out`` (CSV: the index, ``score``,
    ``is_anomaly``); at the end (``max_polls`` polls, or the end of standard input) the rows
    still waiting are scored as batch scoring of the whole stream would and written too.

    Parameters
    ----------
    detector : TSDiffAnomalyDetector
        Fitted.
    source : str
        CSV path (with a header row), or ``"-"`` for standard input.
    out : writable text file
    time_column : str or None, default="time"
        Column used as the index when present.
    poll_seconds : float, default=1.0
        Wait between polls of a file.
    max_polls : int or None, default=None
        Stop after this many polls of a file (None: until interrupted).
    batch_rows : int, default=60
        Rows of standard input scored together.
    sleep : callable, default=time.sleep
        Waits between polls (tests pass a no-op).

    Returns
    -------
    int
        Rows written.
    """
    import sys

    names = getattr(detector, "feature_names_in_", None)
    columns = [str(c) for c in names] if names is not None else None
    stream = StreamingScorer(detector)
    header: str | None = None
    written = 0
    first = True

    def emit(rows: pd.DataFrame) -> None:
        nonlocal written, first
        _write(out, rows, first)
        first = False
        written += len(rows)

    def feed(lines: list[str]) -> None:
        if lines and header is not None:
            emit(stream.update(_frame_of(header + "".join(lines), columns, time_column)))

    if source == "-":
        header = sys.stdin.readline()
        batch: list[str] = []
        for line in sys.stdin:
            batch.append(line)
            if len(batch) >= batch_rows:
                feed(batch)
                batch = []
        feed(batch)
    else:
        position, polls = 0, 0
        while max_polls is None or polls < max_polls:
            with open(source, encoding="utf-8") as fh:
                fh.seek(position)
                chunk = fh.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            position += len(complete.encode("utf-8"))
            lines = complete.splitlines(keepends=True)
            if header is None and lines:
                header, lines = lines[0], lines[1:]
            feed(lines)
            polls += 1
            if max_polls is None or polls < max_polls:
                sleep(poll_seconds)
    emit(stream.flush())
    return written
