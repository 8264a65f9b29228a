"""Per-sensor nearest-neighbour distances of short windows to the normal training windows.

The masked re-imputation scorer explains a sustained shift by its own context: every cell of a
window that sits at an unusual level is predicted well from its shifted neighbours. This
component looks at each sensor's short windows on their own and asks how far each lies from
the nearest windows of the same sensor seen in training (the k-th nearest, as PyOD's
``KNN(method="largest")``), so a level or a shape the sensor never had in training scores high
however consistent it is with the rest of its window. The detector puts these distances beside
the diffusion scores as extra columns, normalised on the calibration data like every other
column.

The arithmetic is vectorised over windows: distances come from three matrix products per
sensor (missing cells are left out of a window's distance and the sum rescaled), never from a
Python loop over time steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from tsdiff._params import store_params

# Query windows whose distances to the reference are held at once (bounds the distance matrix).
_DISTANCES_PER_CHUNK = 2**24


def scored_steps(n_steps: int, step: int, row_offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The steps of a series part whose windows are scored, and which of them each step takes.

    Parameters
    ----------
    n_steps : int
        Steps in the part.
    step : int
        Windows are centred on the rows that are multiples of ``step`` in the whole series.
    row_offset : int, default=0
        Row of the part's first step within its series.

    Returns
    -------
    centres : ndarray of int
        Local indices of the scored steps (every step when the part holds no multiple).
    nearest : ndarray of shape (n_steps,), int
        For each step, the position in ``centres`` of the nearest scored step (the earlier one
        on a tie).
    """
    local = np.arange(n_steps)
    centres = local[(local + row_offset) % step == 0]
    if centres.size == 0:
        return local, local
    right = np.searchsorted(centres, local).clip(max=centres.size - 1)
    left = (right - 1).clip(min=0)
    take_left = np.abs(local - centres[left]) <= np.abs(centres[right] - local)
    return centres, np.where(take_left, left, right)


def centred_windows(
    values: np.ndarray, observed: np.ndarray, length: int, centres: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``length``-step windows around steps of one series.

    Parameters
    ----------
    values, observed : ndarray of shape (n_steps, n_sensors)
        Standardised values and where they are observed.
    length : int
        Window length; the window of step ``t`` covers ``t - (length - 1) // 2`` to
        ``t + length // 2``.
    centres : ndarray of int or None, default=None
        The steps whose windows are wanted (None: every step).

    Returns
    -------
    windows, inside : ndarray of shape (n_sensors, n_centres, length)
        The windows (0 outside the series and where not observed), and which of their cells are
        observed values inside the series.
    """
    n_steps, n_sensors = values.shape
    before = (length - 1) // 2
    padded = np.zeros((n_steps + length - 1, n_sensors), dtype=np.float32)
    present = np.zeros((n_steps + length - 1, n_sensors), dtype=bool)
    padded[before : before + n_steps] = np.where(observed, values, 0.0)
    present[before : before + n_steps] = observed
    if centres is None:
        centres = np.arange(n_steps)
    rows = np.asarray(centres)[:, None] + np.arange(length)
    return padded[rows].transpose(2, 0, 1), present[rows].transpose(2, 0, 1)


class WindowNeighbours(BaseEstimator):
    """Distance of each sensor's short windows to its nearest normal training windows.

    Each step gets, per sensor, the Euclidean distance (in standardised units) between the
    ``length``-step window centred on it and the ``n_neighbors``-th nearest of the sensor's
    training windows. Missing cells are left out of the distance (which is rescaled to the
    full window length); a step that is not observed, or whose window holds fewer than half
    its cells, is not scored (NaN).

    Parameters
    ----------
    length : int, default=16
        Steps per window.
    n_neighbors : int, default=5
        Which nearest training window measures the distance (the k-th nearest).
    max_reference : int, default=4096
        Training windows kept per sensor (a random subset of the fully observed ones when
        there are more); the scoring cost grows linearly with it.
    step : int, default=4
        Score the windows centred on every ``step``-th row of a series; the other rows take
        the score of the nearest scored row (the cost falls by ``step``; 1 scores every row).
    random_state : int, default=0
        Seed of the subset.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "length": [Interval(Integral, 2, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_reference": [Interval(Integral, 1, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        length: int = 16,
        n_neighbors: int = 5,
        max_reference: int = 4096,
        step: int = 4,
        random_state: int = 0,
    ) -> None:
        store_params(self, locals())

    def validate(self) -> None:
        """Check the parameters (raises ``ValueError``/``TypeError`` naming the parameter)."""
        self._validate_params()
        if self.n_neighbors > self.max_reference:
            raise ValueError(
                f"n_neighbors ({self.n_neighbors}) cannot exceed max_reference "
                f"({self.max_reference})."
            )

    @property
    def context(self) -> tuple[int, int]:
        """Steps before and after a step that its score depends on."""
        half = int(self.step) // 2
        return (int(self.length) - 1) // 2 + half, int(self.length) // 2 + half

    def reference(self, values: Sequence[np.ndarray], observed: Sequence[np.ndarray]) -> np.ndarray:
        """The reference windows of normal training series.

        Parameters
        ----------
        values, observed : sequence of ndarray of shape (n_steps, n_sensors)
            Standardised training series and where they are observed.

        Returns
        -------
        ndarray of shape (n_sensors, n_reference, length), float32
            Per sensor, up to ``max_reference`` fully observed windows lying wholly inside a
            series, the same number for every sensor (sensors with fewer fully observed
            windows repeat some; a sensor with none is NaN, and scores NaN).

        Warns
        -----
        UserWarning
            If no series is as long as ``length`` (every sensor's reference is then NaN).
        """
        self.validate()
        length = int(self.length)
        before, after = (length - 1) // 2, length // 2
        parts, masks = [], []
        for v, m in zip(values, observed, strict=True):
            if len(v) < length:
                continue
            windows, inside = centred_windows(np.asarray(v), np.asarray(m, dtype=bool), length)
            interior = slice(before, len(v) - after)
            parts.append(windows[:, interior])
            masks.append(inside[:, interior].all(axis=2))
        if not parts:
            warnings.warn(
                f"No training series has {length} steps, the neighbour window length, so the "
                "neighbour distances are not scored; lower WindowNeighbours(length=...) or "
                "pass longer series.",
                UserWarning,
                stacklevel=2,
            )
            n_sensors = int(np.asarray(values[0]).shape[1]) if len(values) else 0
            return np.full((n_sensors, 1, length), np.nan, dtype=np.float32)
        windows = np.concatenate(parts, axis=1)
        complete = np.concatenate(masks, axis=1)
        n_sensors = windows.shape[0]
        n_keep = min(int(self.max_reference), int(complete.sum(axis=1).max()))
        rng = np.random.default_rng(int(self.random_state))
        reference = np.full((n_sensors, max(n_keep, 1), length), np.nan, dtype=np.float32)
        for k in range(n_sensors):
            rows = np.flatnonzero(complete[k])
            if rows.size == 0:
                continue
            replace = rows.size < n_keep
            chosen = np.sort(rng.choice(rows, n_keep, replace=replace))
            reference[k] = windows[k, chosen]
        return reference

    def cell_scores(
        self,
        values: Sequence[np.ndarray],
        observed: Sequence[np.ndarray],
        reference: Any,
        row_offset: int = 0,
    ) -> list[np.ndarray]:
        """Per series, ``(n_steps, n_sensors)`` distances (NaN: not scored).

        Parameters
        ----------
        values, observed : sequence of ndarray of shape (n_steps, n_sensors)
            Standardised series to score and where they are observed.
        reference : ndarray or tensor of shape (n_sensors, n_reference, length)
            From :meth:`reference`.
        row_offset : int, default=0
            Row of the first given step within its series: windows are centred on the rows that
            are multiples of ``step`` in the whole series, so a part of a series scores as the
            whole series does (streaming).
        """
        import torch

        reference_windows = torch.as_tensor(np.asarray(reference, dtype=np.float32))
        n_sensors, n_reference, length = reference_windows.shape
        if length != int(self.length):
            raise ValueError(
                f"The reference windows have {length} steps but length={self.length}; build "
                "the reference again with these parameters (refit the detector)."
            )
        usable = ~torch.isnan(reference_windows).any(dim=2).any(dim=1)  # per sensor
        reference_windows = torch.nan_to_num(reference_windows)
        squared = (reference_windows**2).transpose(1, 2)  # (K, L, m)
        reference_norms = squared.sum(dim=1, keepdim=True)  # (K, 1, m)
        k = min(int(self.n_neighbors), n_reference)
        chunk = max(1, _DISTANCES_PER_CHUNK // max(n_reference * n_sensors, 1))
        out = []
        for v, m in zip(values, observed, strict=True):
            m = np.asarray(m, dtype=bool)
            centres, nearest = scored_steps(len(v), int(self.step), row_offset)
            windows, inside = centred_windows(np.asarray(v), m, length, centres)
            w = torch.from_numpy(np.ascontiguousarray(windows))
            mask = torch.from_numpy(np.ascontiguousarray(inside)).to(torch.float32)
            counts = mask.sum(dim=2)  # (K, n)
            scores = torch.full(counts.shape, float("nan"))
            for first in range(0, w.shape[1], chunk):
                part = slice(first, first + chunk)
                wm, mm = w[:, part] * mask[:, part], mask[:, part]
                # |w - r|^2 over the observed cells: three terms, each a matrix product
                distance = torch.baddbmm(
                    (wm * w[:, part]).sum(dim=2, keepdim=True),
                    wm,
                    reference_windows.transpose(1, 2),
                    alpha=-2.0,
                )
                if bool(mm.all()):
                    distance += reference_norms
                else:
                    distance += torch.bmm(mm, squared)
                distance.clamp_min_(0.0)
                kth = distance.topk(k, dim=2, largest=False).values[:, :, -1]
                scale = length / counts[:, part].clamp_min(1.0)
                scores[:, part] = torch.sqrt(kth * scale)
            scores = torch.where(counts >= length / 2, scores, torch.full_like(scores, np.nan))
            table = scores.T.numpy().astype(np.float64)[nearest]
            valid = m & usable.numpy()[None, :]
            out.append(np.where(valid, table, np.nan))
        return out
