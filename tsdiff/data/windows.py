"""Fixed-length windows over many series, and stitching window outputs back to series.

Everything is vectorised: windows are gathered with one fancy index, and stitching picks, for
each time step, the window in which that step lies closest to the centre (so each step gets as
much context on both sides as the windows allow, and samples are never averaged across windows,
which would shrink their spread).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsdiff.data.frames import SeriesSet


def window_starts(n_steps: int, length: int, stride: int) -> np.ndarray:
    """Start positions of windows of ``length`` with ``stride`` covering ``n_steps``.

    The last window is aligned to the end of the series so every step is covered; a series
    shorter than ``length`` gets one window starting at 0 (padded by the caller).
    """
    if length < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1, got {length} and {stride}.")
    if n_steps <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_steps - length + 1, stride, dtype=np.int64)
    if starts[-1] != n_steps - length:
        starts = np.append(starts, n_steps - length)
    return starts


@dataclass
class WindowStore:
    """Series padded and concatenated in one array, with the windows over them.

    Attributes
    ----------
    values : ndarray of shape (n_total, n_columns), float32
        Standardised values, 0 where not observed.
    observed : ndarray of shape (n_total, n_columns), bool
    timestamps : ndarray of shape (n_total,), float32
        Time stamps of each series (padding extends them by one step per row).
    starts : ndarray of shape (n_windows,), int64
        Global start row of each window.
    series_of_window : ndarray of shape (n_windows,), int64
    local_starts : ndarray of shape (n_windows,), int64
        Start row of each window within its own series.
    offsets : ndarray of shape (n_series,), int64
        Global row of each series' first step.
    lengths : list of int
        True number of steps of each series.
    length : int
        Window length.
    anchor_rows : ndarray of shape (n_windows, n_columns, 2), int32
        Per window and column, the global row of the last observation before the window and of
        the first one after it within the same series (-1 where there is none): the outside
        neighbours that let gaps at a window's edges be interpolated rather than extrapolated.
    """

    values: np.ndarray
    observed: np.ndarray
    timestamps: np.ndarray
    starts: np.ndarray
    series_of_window: np.ndarray
    local_starts: np.ndarray
    offsets: np.ndarray
    lengths: list[int]
    length: int
    anchor_rows: np.ndarray

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return len(self.starts)

    def gather(self, window_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``values (B, K, L)``, ``observed (B, K, L)`` and ``timestamps (B, L)``.

        Time stamps are relative to each window's first step.
        """
        rows = self.starts[window_ids][:, None] + np.arange(self.length)
        values = self.values[rows].transpose(0, 2, 1)
        observed = self.observed[rows].transpose(0, 2, 1)
        stamps = self.timestamps[rows]
        return values, observed, stamps - stamps[:, :1]

    def anchors(self, window_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observed neighbours of the windows: ``values``, ``times`` and ``observed``, each
        ``(B, K, 2)`` (index 0: before the window, 1: after it).

        Times are relative to each window's first step, like :meth:`gather`'s; where a column has
        no neighbour on a side, its entry is 0 and ``observed`` is False.
        """
        rows = self.anchor_rows[window_ids]
        observed = rows >= 0
        safe = np.maximum(rows, 0)
        columns = np.arange(rows.shape[1])[None, :, None]
        values = np.where(observed, self.values[safe, columns], 0.0).astype(np.float32)
        start_times = self.timestamps[self.starts[window_ids]][:, None, None]
        times = np.where(observed, self.timestamps[safe] - start_times, 0.0).astype(np.float32)
        return values, times, observed

    def subset(self, window_ids: np.ndarray) -> WindowStore:
        """The same store with only some of the windows."""
        return WindowStore(
            values=self.values,
            observed=self.observed,
            timestamps=self.timestamps,
            starts=self.starts[window_ids],
            series_of_window=self.series_of_window[window_ids],
            local_starts=self.local_starts[window_ids],
            offsets=self.offsets,
            lengths=self.lengths,
            length=self.length,
            anchor_rows=self.anchor_rows[window_ids],
        )


def _anchor_rows(observed: np.ndarray, local_starts: np.ndarray, length: int) -> np.ndarray:
    """``(n_windows, K, 2)`` local rows of each window's outside neighbours (-1: none)."""
    n, n_columns = observed.shape
    anchors = np.full((len(local_starts), n_columns, 2), -1, dtype=np.int64)
    if n == 0:
        return anchors
    rows = np.arange(n, dtype=np.int64)[:, None]
    last = np.maximum.accumulate(np.where(observed, rows, -1), axis=0)
    first = np.minimum.accumulate(np.where(observed, rows, n)[::-1], axis=0)[::-1]
    before = local_starts - 1
    after = local_starts + length
    has_before, has_after = before >= 0, after < n
    anchors[has_before, :, 0] = last[before[has_before]]
    anchors[has_after, :, 1] = np.where(first[after[has_after]] < n, first[after[has_after]], -1)
    return anchors


def build_window_store(
    series: SeriesSet,
    standardised: list[np.ndarray],
    length: int,
    stride: int,
    anchors: bool = True,
) -> WindowStore:
    """Pad, concatenate and window standardised series.

    Parameters
    ----------
    series : SeriesSet
        The series (for time stamps).
    standardised : list of ndarray
        Per series, standardised ``(n_steps, n_columns)`` values with NaN where missing.
    length, stride : int
        Window length and the step between window starts.
    anchors : bool, default=True
        Record each window's observed neighbours outside it (``anchor_rows``); False leaves
        every window without anchors.
    """
    padded_values, padded_observed, padded_stamps = [], [], []
    starts, series_ids, local, offsets, anchor_blocks = [], [], [], [], []
    offset = 0
    for i, (vals, stamps) in enumerate(zip(standardised, series.timestamps, strict=True)):
        n = len(vals)
        pad = max(length - n, 0)
        observed = ~np.isnan(vals)
        if pad:
            vals = np.concatenate([vals, np.full((pad, vals.shape[1]), np.nan)])
            observed = np.concatenate([observed, np.zeros((pad, vals.shape[1]), dtype=bool)])
            last = stamps[-1] if n else 0.0
            stamps = np.concatenate([stamps, last + np.arange(1, pad + 1, dtype=np.float64)])
        local_starts = window_starts(n, length, stride)
        if anchors:
            local_anchors = _anchor_rows(observed[:n], local_starts, length)
        else:
            local_anchors = np.full((len(local_starts), vals.shape[1], 2), -1, dtype=np.int64)
        anchor_blocks.append(np.where(local_anchors >= 0, local_anchors + offset, -1))
        padded_values.append(np.where(observed, vals, 0.0).astype(np.float32))
        padded_observed.append(observed)
        padded_stamps.append(stamps.astype(np.float32))
        starts.append(local_starts + offset)
        local.append(local_starts)
        series_ids.append(np.full(len(local_starts), i, dtype=np.int64))
        offsets.append(offset)
        offset += len(vals)
    return WindowStore(
        values=np.concatenate(padded_values),
        observed=np.concatenate(padded_observed),
        timestamps=np.concatenate(padded_stamps),
        starts=np.concatenate(starts),
        series_of_window=np.concatenate(series_ids),
        local_starts=np.concatenate(local),
        offsets=np.asarray(offsets, dtype=np.int64),
        lengths=series.lengths,
        length=length,
        anchor_rows=np.concatenate(anchor_blocks).astype(np.int32),
    )


def step_owners(store: WindowStore) -> list[np.ndarray]:
    """The window each time step is taken from when window outputs are stitched.

    Parameters
    ----------
    store : WindowStore

    Returns
    -------
    list of ndarray of int64
        Per series, ``(n_steps,)`` window ids (positions in ``store``): for every step, the
        window of its series in which it lies closest to the centre (the earlier one on a tie).
        Within a series the ids never decrease when windows are in start order, as
        :func:`build_window_store` lays them out.
    """
    owners = []
    half = (store.length - 1) / 2.0
    for i, n in enumerate(store.lengths):
        ids = np.flatnonzero(store.series_of_window == i)
        local = store.local_starts[ids]
        order = np.argsort(local, kind="stable")
        ids, local = ids[order], local[order]
        steps = np.arange(n)
        centres = local + half
        right = np.clip(np.searchsorted(centres, steps), 0, len(ids) - 1)
        left = np.clip(right - 1, 0, len(ids) - 1)
        use_left = np.abs(steps - centres[left]) <= np.abs(steps - centres[right])
        owners.append(ids[np.where(use_left, left, right)].astype(np.int64))
    return owners


def stitch(store: WindowStore, window_outputs: np.ndarray) -> list[np.ndarray]:
    """Put per-window outputs back on each series' time axis.

    Parameters
    ----------
    store : WindowStore
        The windows the outputs belong to (in the same order).
    window_outputs : ndarray of shape (n_windows, ..., n_columns, length)
        One output per window; the middle axes (e.g. samples) are carried along.

    Returns
    -------
    list of ndarray
        Per series, ``(..., n_steps, n_columns)``: each step taken from the window in which it
        lies closest to the centre (:func:`step_owners`).
    """
    return [
        _pick(store, owners, window_outputs, 0, np.arange(len(owners)))
        for owners in step_owners(store)
    ]


def stitch_block(
    store: WindowStore, owners: list[np.ndarray], first: int, block_outputs: np.ndarray
) -> list[tuple[int, slice, np.ndarray]]:
    """Stitch the outputs of a block of consecutive windows only.

    With the windows of ``store`` cut into consecutive blocks, the pieces of all blocks cover
    every step of every series exactly once and equal :func:`stitch`'s result, so long inputs
    can be reduced block by block without holding every window's output.

    Parameters
    ----------
    store : WindowStore
        Windows laid out by :func:`build_window_store` (series by series, in start order).
    owners : list of ndarray
        :func:`step_owners` of ``store``.
    first : int
        Id of the block's first window.
    block_outputs : ndarray of shape (n_block, ..., n_columns, length)
        Outputs of windows ``first`` to ``first + n_block - 1``.

    Returns
    -------
    list of (series, steps, values)
        For each series with steps owned by the block: the series' position, the slice of its
        steps and the picked outputs ``(..., n, n_columns)``.
    """
    last = first + len(block_outputs)
    pieces = []
    for series in np.unique(store.series_of_window[first:last]):
        series_owners = owners[int(series)]
        begin, end = np.searchsorted(series_owners, [first, last])
        if begin == end:
            continue
        steps = np.arange(begin, end)
        picked = _pick(store, series_owners, block_outputs, first, steps)
        pieces.append((int(series), slice(int(begin), int(end)), picked))
    return pieces


def _pick(
    store: WindowStore,
    owners: np.ndarray,
    outputs: np.ndarray,
    first: int,
    steps: np.ndarray,
) -> np.ndarray:
    """Outputs ``(..., len(steps), n_columns)`` of ``steps`` from their owning windows."""
    windows = owners[steps]
    picked = outputs[windows - first, ..., steps - store.local_starts[windows]]
    # picked: (n_steps, ..., n_columns) -> (..., n_steps, n_columns)
    return np.moveaxis(picked, 0, -2)
