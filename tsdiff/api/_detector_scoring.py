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

    def _parts(self) -> tuple[Any, Any, Any]:
        """Unfitted copies of the scorer, aggregator and thresholder (defaults for None)."""
        scorer = clone(self.scorer) if self.scorer is not None else MaskedReimputationScorer()
        aggregator = clone(self.aggregator) if self.aggregator is not None else TopK()
        thresholder = clone(self.thresholder) if self.thresholder is not None else POT()
        return scorer, aggregator, thresholder

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


def fold_sensors(scorer: Any, table: np.ndarray) -> np.ndarray:
    """Per-sensor table of a scorer with several columns per sensor (issue 14's
    :class:`~tsdiff.scoring.CombinedScorer`) folded to one column per sensor."""
    fold = getattr(scorer, "fold_sensors", None)
    return table if fold is None else fold(table)
