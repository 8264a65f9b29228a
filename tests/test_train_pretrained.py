"""tools/train_pretrained.py --recalibrate: new sampler settings and calibration, same weights."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import REPO

from tsdiff import TSDiffImputer
from tsdiff.config import estimator_kwargs, load_config
from tsdiff.datasets import load_beijing_pm
from tsdiff.demo import QUICK_IMPUTER_PRESET, QUICK_TRAIN_ROWS
from tsdiff.pretrained import load_pretrained


def _tool():
    spec = importlib.util.spec_from_file_location(
        "train_pretrained", REPO / "tools" / "train_pretrained.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recalibrate_keeps_the_weights_and_calibrates_for_the_preset_sampler(
    tmp_path: Path,
) -> None:
    _, preset = estimator_kwargs(load_config(QUICK_IMPUTER_PRESET))
    data = load_beijing_pm("train").iloc[-QUICK_TRAIN_ROWS:]
    params = {k: v for k, v in preset.items() if k not in ("sampler", "sampling_steps")}
    imputer = TSDiffImputer(**{**params, "max_epochs": 1, "random_state": 0, "verbose": False})
    imputer.set_params(sampler="dpmpp_2m", sampling_steps=2).fit(data)
    assert imputer.calibrated_sampler_[:2] == ["dpmpp_2m", 2]
    imputer.save(tmp_path / "imputer")
    weights = (tmp_path / "imputer" / "weights.pt").read_bytes()

    tool = _tool()
    assert (
        tool.main(
            ["--recalibrate", "--quick", "--skip-evaluation", "--quiet", "--out", str(tmp_path)]
        )
        == 0
    )

    assert (tmp_path / "imputer" / "weights.pt").read_bytes() == weights
    recalibrated = load_pretrained("imputer", tmp_path)  # the manifest's checksums hold
    assert recalibrated.calibrated_sampler_[:2] == [preset["sampler"], preset["sampling_steps"]]
    assert recalibrated.sampler == preset["sampler"]
    facts = json.loads((tmp_path / "manifest.json").read_text())["training"]["imputer"]
    assert facts["recalibrated"]["sampling_steps"] == preset["sampling_steps"]
