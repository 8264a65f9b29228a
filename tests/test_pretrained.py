"""The bundled pretrained models: safe loading against the manifest, and the demo's advantage."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer, metrics
from tsdiff.demo import demo_period, hide_for_demo
from tsdiff.evaluation import linear_interpolation
from tsdiff.pretrained import MANIFEST_FILE, load_pretrained, manifest


def test_manifest_lists_both_models_with_their_sha256():
    content = manifest()
    assert set(content["models"]) == {"imputer", "detector"}
    for entry in content["models"].values():
        assert {"config.json"} <= set(entry["sha256"])
        assert all(len(digest) == 64 for digest in entry["sha256"].values())
    training = content["training"]
    assert training["imputer"]["max_time"] > 0 and training["imputer"]["n_epochs"] >= 1


def test_loaded_models_are_fitted_estimators_for_the_cpu():
    imputer = load_pretrained("imputer")
    detector = load_pretrained("detector")
    assert isinstance(imputer, TSDiffImputer) and isinstance(detector, TSDiffAnomalyDetector)
    assert imputer.n_features_in_ == 24
    assert imputer.get_params()["trainer_kwargs"]["accelerator"] == "cpu"


def test_a_changed_file_is_refused(tmp_path):
    from tsdiff import pretrained

    folder = tmp_path / "copy"
    shutil.copytree(pretrained.__path__[0], folder, ignore=shutil.ignore_patterns("*.py*"))
    weights = next(p for p in (folder / "imputer").iterdir() if p.name.startswith("weights"))
    content = bytearray(weights.read_bytes())
    content[len(content) // 2] ^= 0xFF
    weights.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="SHA-256"):
        load_pretrained("imputer", folder)
    (folder / MANIFEST_FILE).unlink()
    with pytest.raises(FileNotFoundError):
        load_pretrained("imputer", folder)
    with pytest.raises(ValueError, match="Unknown"):
        load_pretrained("forecaster")


def test_manifest_records_the_figures_measured_by_the_demo():
    figures = manifest()["training"]["figures"]
    imputation = figures["imputation"]
    assert imputation["model"] == "pretrained"
    for key in ("tsdiff", "linear_interpolation", "iterative_imputer", "outages", "gains"):
        assert key in imputation
    assert 0.0 <= figures["detection"]["auc_pr"] <= 1.0


def test_pretrained_imputer_beats_linear_interpolation_on_held_out_outages():
    """Ten held-out days with station outages: the outage cells' MAE is clearly lower."""
    data = demo_period(quick=True)
    hidden, mask, outage_mask, blocks = hide_for_demo(data, 0.1, seed=0)
    assert len(blocks) >= 3 and outage_mask.sum() > 100
    assert not np.isnan(data.to_numpy()[mask]).any()  # hidden cells have ground truth
    assert np.isnan(hidden.to_numpy()[mask]).all()  # and the model does not see them
    imputer = load_pretrained("imputer").set_params(verbose=False, random_state=0)
    samples = np.asarray(imputer.sample(hidden, n_samples=4))
    truth = data.to_numpy()
    median = np.median(samples, axis=0)
    linear = linear_interpolation(hidden).to_numpy()
    ours = metrics.mae(truth, median, outage_mask)
    theirs = metrics.mae(truth, linear, outage_mask)
    assert ours < 0.7 * theirs, (ours, theirs)  # the bundled weights: about 0.4 on the demo
    assert metrics.mae(truth, median, mask) < metrics.mae(truth, linear, mask)
