"""``tsdiff demo``'s data preparation and its quick run on the pretrained models."""

from __future__ import annotations

import json

import numpy as np

from tsdiff.datasets import PM_SPLIT, load_beijing_pm
from tsdiff.demo import DEMO_PERIOD, OUTAGES, demo_period, hide_for_demo, run_demo


def test_beijing_pm_splits_are_disjoint_and_complete():
    train, test = load_beijing_pm("train"), load_beijing_pm("test")
    assert train.shape == (26304, 24) and test.shape == (8760, 24)
    assert train.index[-1] < test.index[0] == np.datetime64(PM_SPLIT)
    assert len(load_beijing_pm()) == len(train) + len(test)
    assert {c.split(".")[0] for c in train.columns} >= {s for s, _ in OUTAGES}


def test_demo_period_is_held_out():
    data = demo_period()
    assert data.index[0] >= np.datetime64(PM_SPLIT)
    assert str(data.index[0])[:10] == DEMO_PERIOD[0] and len(data) == 14 * 24


def test_hidden_cells_have_truth_and_are_removed_from_the_input():
    data = demo_period(quick=True)
    hidden, mask, outage_mask, blocks = hide_for_demo(data, 0.1, seed=3)
    values = data.to_numpy()
    assert not np.isnan(values[mask]).any() and np.isnan(hidden.to_numpy()[mask]).all()
    assert (outage_mask <= mask).all()
    untouched = ~mask
    np.testing.assert_array_equal(hidden.to_numpy()[untouched], values[untouched])
    for block in blocks:
        start, end = block["rows"]
        columns = [j for j, c in enumerate(data.columns) if c.startswith(block["station"] + ".")]
        assert len(columns) == 2
        rows = np.arange(start, end)
        observed = ~np.isnan(values[np.ix_(rows, columns)])
        assert (outage_mask[np.ix_(rows, columns)] == observed).all()
    again = hide_for_demo(data, 0.1, seed=3)
    np.testing.assert_array_equal(again[1], mask)


def test_quick_demo_writes_results_and_plots(tmp_path, capsys):
    results = run_demo(tmp_path, quick=True, quiet=True)
    printed = capsys.readouterr().out
    assert "IterativeImputer" in printed and "wall time" in printed
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["imputation"]["model"] == "pretrained"
    assert saved["imputation"]["outages"]["n_cells"] > 0
    assert np.isfinite(results["imputation"]["tsdiff"]["coverage"])
    assert 0.0 <= saved["detection"]["auc_pr"] <= 1.0
    assert (tmp_path / "imputation.png").stat().st_size > 10_000
    assert (tmp_path / "detection.png").stat().st_size > 10_000
