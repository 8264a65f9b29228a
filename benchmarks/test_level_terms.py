"""Checks of the level terms in ``benchmarks/level_terms.py`` (no training):
``pytest benchmarks``."""

from __future__ import annotations

import numpy as np

from benchmarks.level_terms import kde_term, tail_term, with_level


def test_tail_term_grows_with_distance_from_the_training_median_on_both_sides() -> None:
    training = np.random.default_rng(0).normal(size=(20_000, 2))
    values = np.array([[0.0, 0.0], [1.0, -1.0], [2.0, -2.0], [9.0, -9.0]])
    scores = tail_term(training)(values)
    assert scores[0, 0] < 0.05  # the median is not rare
    assert np.all(np.diff(scores, axis=0) > 0)  # rarer further out
    np.testing.assert_allclose(scores[:, 0], scores[:, 1], atol=0.1)  # two-sided
    assert np.isclose(scores[-1, 0], np.log(20_000))  # beyond the data: capped at 1/(2n)


def test_kde_term_follows_a_bimodal_training_distribution() -> None:
    rng = np.random.default_rng(1)
    training = np.concatenate([rng.normal(-3, 0.2, 5_000), rng.normal(3, 0.2, 5_000)])[:, None]
    scores = kde_term(training, bandwidth=0.1)(np.array([[-3.0], [0.0], [3.0], [20.0]]))[:, 0]
    assert scores[0] < scores[1] and scores[2] < scores[1]  # the gap between modes is rare
    assert scores[3] >= scores[1]


def test_with_level_keeps_unscored_cells_unscored() -> None:
    tables = [np.array([[1.0, np.nan], [2.0, 3.0]])]
    values = [np.zeros((2, 2))]
    appended = with_level(tables, values, lambda v: v + 5.0, "append")[0]
    only = with_level(tables, values, lambda v: v + 5.0, "only")[0]
    assert appended.shape == (2, 4) and np.isnan(appended[0, 1]) and np.isnan(appended[0, 3])
    np.testing.assert_array_equal(np.isnan(only), np.isnan(tables[0]))
    assert only[1, 0] == 5.0
