"""How far each cell is from an observation of its own column, in rows (numpy).

Imputation error, and so the width an interval needs, grows with the distance to the nearest
observed value of the same sensor; the imputer's interval calibration is learnt per distance
band (:data:`DISTANCE_BANDS`) so that it carries over between inputs with different gaps.
"""

from __future__ import annotations

import numpy as np

#: Lower edges of the distance bands, in rows: 1, 2, 3-4, 5-8, 9-16, 17 or more (or no
#: observation of the column at all).
DISTANCE_BANDS: tuple[int, ...] = (1, 2, 3, 5, 9, 17)

#: Distance given to the cells of a column without any observation.
NO_OBSERVATION = np.iinfo(np.int32).max


def rows_to_observed(observed: np.ndarray) -> np.ndarray:
    """Rows from each cell to the nearest ``True`` of its column (0 on observed cells).

    Parameters
    ----------
    observed : ndarray of bool, shape (..., n_rows, n_columns)
        Which cells are observed; leading axes are independent series (windows).

    Returns
    -------
    ndarray of int64, same shape
        Distance in rows along axis -2; :data:`NO_OBSERVATION` where the column has none.
    """
    n_rows = observed.shape[-2]
    rows = np.arange(n_rows).reshape((n_rows, 1))
    far = 2 * n_rows + 1
    before = np.where(observed, rows, -far)
    before = np.maximum.accumulate(before, axis=-2)
    after = np.where(observed, rows, far + n_rows)
    after = np.flip(np.minimum.accumulate(np.flip(after, axis=-2), axis=-2), axis=-2)
    distance = np.minimum(rows - before, after - rows).astype(np.int64)
    distance[distance > n_rows] = NO_OBSERVATION
    return distance


def distance_band(distance: np.ndarray) -> np.ndarray:
    """Index in :data:`DISTANCE_BANDS` of each distance (``uint8``; 0 for distance 0 or 1)."""
    edges = np.asarray(DISTANCE_BANDS[1:])
    return np.searchsorted(edges, distance, side="right").astype(np.uint8)
