"""The detector's scoring runs: raw cell scores of windows from its parts, each window's noise
seeded on its own (long runs use the compiled network of ``EstimatorSampling``)."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from sklearn.base import clone

from tsdiff.api._base import DiffusionEstimatorBase
from tsdiff.data.frames import SeriesSet
from tsdiff.scoring.aggregators import TopK
from tsdiff.scoring.neighbours import WindowNeighbours
from tsdiff.scoring.scorers import MaskedReimputationScorer
from tsdiff.scoring.thresholders import POT

#: Per detector, run-time state kept off the estimator (``predict`` must not change
#: ``__dict__``): the last detection result and its input fingerprint.
_RUNTIME: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

#: Scoring runs of at least this many window-samples use a compiled network on the CPU (the
#: compilation costs seconds; it pays off on long series).
_COMPILE_FROM_WINDOW_SAMPLES = 4096


class DetectorScoring(DiffusionEstimatorBase):
    """The detector's parts and the sampling runs that turn windows into raw cell scores."""

    scorer: Any
    aggregator: Any
    thresholder: Any
    neighbours: Any

    def _parts(self) -> tuple[Any, Any, Any]:
        """Unfitted copies of the scorer, aggregator and thresholder (defaults for None)."""
        scorer = clone(self.scorer) if self.scorer is not None else MaskedReimputationScorer()
        aggregator = clone(self.aggregator) if self.aggregator is not None else TopK()
        thresholder = clone(self.thresholder) if self.thresholder is not None else POT()
        return scorer, aggregator, thresholder

    def _neighbours_part(self) -> WindowNeighbours | None:
        """An unfitted copy of the neighbour component (None when switched off)."""
        if self.neighbours is False:
            return None
        return clone(self.neighbours) if self.neighbours is not None else WindowNeighbours()

    def _fit_neighbours(self, series: SeriesSet | None) -> None:
        """Keep the neighbour component's reference windows of the training series ``series``
        (``neighbour_reference_``, saved with the weights; None when switched off or when
        ``series`` is None)."""
        import torch

        part = self._neighbours_part()
        self.neighbours_ = part
        self.neighbour_reference_ = None
        if part is None or series is None:
            return
        values = self._standardise(series)
        reference = part.reference(values, [~np.isnan(v) for v in values])
        self.neighbour_reference_ = torch.from_numpy(reference)

    def _neighbour_cells(
        self, neighbours: WindowNeighbours, series: SeriesSet, row_offset: int = 0
    ) -> list[np.ndarray]:
        """Per series, ``(n_steps, K)`` neighbour distances of ``series``."""
        reference = getattr(self, "neighbour_reference_", None)
        if reference is None:
            raise ValueError(
                "The detector was fitted without its neighbour component (neighbours=False), so "
                "it has no reference windows; refit it to use neighbours."
            )
        values = self._standardise(series)
        return neighbours.cell_scores(
            values, [~np.isnan(v) for v in values], reference.numpy(), row_offset=row_offset
        )

    def _fold(self, scorer: Any, neighbours: WindowNeighbours | None, table: np.ndarray) -> Any:
        """:func:`fold_sensors` of a normalised table from :meth:`_raw_tables`."""
        return fold_sensors(scorer, table, 0 if neighbours is None else int(self.n_features_in_))

    def _raw_tables(
        self, scorer: Any, neighbours: WindowNeighbours | None, series: SeriesSet
    ) -> list[np.ndarray]:
        """Raw cell scores of ``series``: the scorer's columns, then (unless ``neighbours`` is
        None) one neighbour-distance column per sensor."""
        raw = self._cell_scores(scorer, series)
        if neighbours is None:
            return raw
        extra = self._neighbour_cells(neighbours, series)
        return [np.concatenate([a, b], axis=1) for a, b in zip(raw, extra, strict=True)]

    def _cell_scores(
        self, scorer: Any, series: SeriesSet, row_offset: int = 0, base_seed: int | None = None
    ) -> list[np.ndarray]:
        """Raw cell scores of ``series``; each window's noise is seeded from the detector's
        seed and the window's start row (plus ``row_offset``), so a window scores the same in
        any call (streaming relies on it; :mod:`tsdiff.scoring.seeded`)."""
        store = self._window_store(series, scorer.stride or self.window_length)
        work = store.n_windows * int(getattr(scorer, "n_masks", 2)) * int(scorer.n_samples)
        network = self._compiled_network(work >= _COMPILE_FROM_WINDOW_SAMPLES)
        if base_seed is None:
            base_seed = (
                int(self.random_state)
                if self.random_state is not None
                else int(np.random.default_rng().integers(2**32))
            )

        def sample(
            store: Any,
            condition: np.ndarray,
            n_samples: int,
            steps: int,
            start_step: int | None = None,
        ) -> np.ndarray:
            kwargs: dict[str, Any] = {
                "n_samples": n_samples,
                "sampling_steps": steps,
                "condition_masks": condition,
                "start_step": start_step,
                "row_offset": row_offset,
                "base_seed": base_seed,
            }
            return self._eager_if_compiling_fails(
                lambda net: self._sample_windows(store, network=net, **kwargs), network
            )

        return scorer.cell_scores(store, sample)

    def _sample_windows(
        self,
        store: Any,
        *,
        n_samples: int,
        sampler: str = "ddim",
        sampling_steps: int,
        condition_masks: np.ndarray | None = None,
        batch_size: int | None = None,
        network: Any = None,
        progress: Any = None,
        block: int = 0,
        window_seeds: np.ndarray | None = None,
        start_step: int | None = None,
        row_offset: int = 0,
        base_seed: int | None = None,
    ) -> np.ndarray:
        """Samples ``(n_windows, n_samples, K, L)`` with each window's noise seeded on its own
        (:mod:`tsdiff.scoring.seeded`; DDIM with the model's ``eta``); ``start_step``: SDEdit
        from the windows' own values noised to that step. ``progress``, ``block`` and
        ``window_seeds`` are accepted for the shared signature: the detector always seeds each
        window on its own (from ``base_seed``, ``row_offset`` and the window), so blocks and
        given seeds play no part."""
        from tsdiff.diffusion.schedules import NoiseSchedule
        from tsdiff.scoring.seeded import sample_seeded
        from tsdiff.scoring.seeded import window_seeds as seeds_of_windows

        if sampler != "ddim":
            raise ValueError(f"the detector samples with DDIM, got sampler={sampler!r}.")
        config = self.model_config_
        if base_seed is None:
            base_seed = 0 if self.random_state is None else int(self.random_state)
        seeds = seeds_of_windows(
            base_seed, store, condition_masks, row_offset=row_offset, start_step=start_step
        )
        device = self._inference_device()
        try:
            return sample_seeded(
                network if network is not None else self.model_.to(device),
                NoiseSchedule(**config.schedule_config()),
                store,
                seeds,
                n_samples=n_samples,
                sampling_steps=sampling_steps,
                eta=config.eta,
                condition_masks=condition_masks,
                start_step=start_step,
                batch_size=self._inference_batch_size(batch_size),
                device=device,
                precision=self._inference_precision(),
                pad=network is not None,
            )
        finally:
            self.model_ = self.model_.cpu()


def fold_sensors(scorer: Any, table: np.ndarray, neighbour_columns: int = 0) -> np.ndarray:
    """Normalised per-sensor table with several columns per sensor folded to one column per
    sensor: a scorer's own columns by its ``fold_sensors`` (issue 14's
    :class:`~tsdiff.scoring.CombinedScorer`), then, where the last ``neighbour_columns``
    columns are neighbour distances (one per sensor), the larger of the two per sensor."""
    table = np.asarray(table)
    if neighbour_columns:
        cut = table.shape[1] - neighbour_columns
        return np.fmax(fold_sensors(scorer, table[:, :cut]), table[:, cut:])
    fold = getattr(scorer, "fold_sensors", None)
    return table if fold is None else fold(table)
