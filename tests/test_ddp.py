"""DDP with 2 CPU processes (gloo), as users run it: a script that Lightning relaunches.

Each test writes a small script to ``tmp_path`` and runs it with ``sys.executable``; Lightning's
``ddp`` strategy starts the second process by running the same script again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsdiff.training.datamodule import per_rank_batch_size

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 240

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="DDP on CPU relaunches the script (gloo, POSIX)"
)

MODEL = (
    '{"channels": 8, "n_layers": 1, "n_heads": 1, "diffusion_embedding_dim": 8, '
    '"time_embedding_dim": 8, "feature_embedding_dim": 4, "diffusion_steps": 10}'
)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}",
    }
    for name in ("LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE", "MASTER_PORT", "MASTER_ADDR"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


SCRIPT = """
import hashlib, json, sys, warnings
import numpy as np, torch
torch.set_num_threads(1)
from tsdiff import TSDiffImputer
from tsdiff.tracking import autolog

autolog(experiment_name="ddp", log_models=False, silent=True)
rng = np.random.default_rng(0)
X = np.sin(np.arange(72)[:, None] / 5.0 + np.arange(2)) + 0.1 * rng.standard_normal((72, 2))
X[rng.random(X.shape) < 0.1] = np.nan
imputer = TSDiffImputer(
    window_length=12, model={model}, max_epochs=2, patience=None, batch_size=16,
    train_stride=4, n_samples=4, sampling_steps=2, calibration_windows=4,
    validation_fraction=0.2, random_state=0, verbose=False,
    trainer_kwargs={{"accelerator": "cpu", "strategy": "ddp", "devices": 2}},
)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    imputer.fit(X)
rank = torch.distributed.get_rank()
digest = hashlib.sha256()
for value in imputer.model_.state_dict().values():
    digest.update(value.detach().cpu().numpy().tobytes())
with open(f"rank{{rank}}.json", "w") as handle:
    json.dump({{
        "weights": digest.hexdigest(),
        "n_epochs": imputer.n_epochs_,
        "history": len(imputer.history_),
        "train_windows": imputer.n_train_windows_,
        "blend": imputer.blend_weights_.tolist(),
        "scale": imputer.interval_scale_,
        "filled_nan": bool(np.isnan(imputer.transform(X)).any()),
        "warnings": [str(w.message) for w in caught if "processes gets" in str(w.message)],
    }}, handle)
"""


def test_ddp_fit_trains_and_ranks_agree(tmp_path: Path) -> None:
    (tmp_path / "fit_ddp.py").write_text(textwrap.dedent(SCRIPT.format(model=MODEL)))
    _run(["fit_ddp.py"], tmp_path)
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    first, second = reports
    # training steps happened on a set whose per-rank share is smaller than a batch
    assert first["n_epochs"] == 2 and first["history"] == 2
    assert first["train_windows"] / 2 < 16
    assert first["warnings"] and not second["warnings"]  # rank 0 says the batch shrank
    for key in ("weights", "n_epochs", "history", "blend", "scale"):
        assert first[key] == second[key], key
    assert not first["filled_nan"]
    # one MLflow run, opened by rank 0
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ddp")
    assert experiment is not None
    assert len(client.search_runs([experiment.experiment_id])) == 1


DETECTOR_SCRIPT = """
import hashlib, json
import numpy as np, torch
torch.set_num_threads(1)
from tsdiff import TSDiffAnomalyDetector
from tsdiff.scoring import MaskedReimputationScorer

rng = np.random.default_rng(0)
X = np.sin(np.arange(160)[:, None] / 5.0 + np.arange(2)) + 0.1 * rng.standard_normal((160, 2))
detector = TSDiffAnomalyDetector(
    window_length=16, train_stride=4, max_epochs=1, batch_size=16, model={model},
    scorer=MaskedReimputationScorer(n_masks=2, strip_length=8, n_samples=2, sampling_steps=2),
    random_state=None, verbose=False,
    trainer_kwargs={{"accelerator": "cpu", "strategy": "ddp", "devices": 2,
                     "precision": "32-true"}},
)
detector.fit(X)
rank = torch.distributed.get_rank()
with open(f"detector{{rank}}.json", "w") as handle:
    json.dump({{
        "threshold": detector.threshold_,
        "scores": hashlib.sha256(detector.decision_scores_.tobytes()).hexdigest(),
        "labels": detector.labels_.tolist(),
    }}, handle)
"""


def test_ddp_detector_calibration_is_rank_zeros(tmp_path: Path) -> None:
    # random_state=None: each process draws its own scoring noise, so without taking rank 0's
    # calibration the two processes would end with different thresholds
    (tmp_path / "detector_ddp.py").write_text(textwrap.dedent(DETECTOR_SCRIPT.format(model=MODEL)))
    _run(["detector_ddp.py"], tmp_path)
    first, second = (json.loads((tmp_path / f"detector{r}.json").read_text()) for r in (0, 1))
    assert first == second


def test_cli_fit_with_ddp_trainer_section_saves_one_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2026-01-01", periods=80, freq="h"),
            "a": np.sin(np.arange(80) / 5.0) + 0.1 * rng.standard_normal(80),
            "b": np.cos(np.arange(80) / 7.0) + 0.1 * rng.standard_normal(80),
        }
    )
    frame.loc[rng.random(80) < 0.1, "a"] = np.nan
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "ddp.yaml").write_text(
        textwrap.dedent(
            """
            kind: imputer
            estimator: {window_length: 12, train_stride: 4, max_epochs: 2, patience: null,
                        batch_size: 16, n_samples: 2, sampling_steps: 2, calibration_windows: 4,
                        random_state: 0}
            model: {channels: 8, n_layers: 1, n_heads: 1, diffusion_embedding_dim: 8,
                    time_embedding_dim: 8, feature_embedding_dim: 4, diffusion_steps: 10}
            trainer: {accelerator: cpu, strategy: ddp, devices: 2}
            data: {time_column: time}
            """
        )
    )
    done = _run(
        ["-m", "tsdiff", "fit", "-q", "-c", "ddp.yaml", "-d", "train.csv", "-o", "model"],
        tmp_path,
    )
    assert "Traceback" not in done.stderr
    from tsdiff import TSDiffImputer

    model = TSDiffImputer.load(tmp_path / "model")
    assert model.n_epochs_ == 2
    assert sorted(p.name for p in (tmp_path / "model").iterdir() if p.suffix == ".tmp") == []


@pytest.mark.parametrize(
    ("n_windows", "batch_size", "world_size", "expected"),
    [
        (10, 16, 2, (5, False)),  # share smaller than a batch: one batch of the share
        (100, 16, 2, (16, True)),
        (33, 16, 2, (16, True)),  # shares of 17: one full batch, the rest dropped
        (32, 16, 2, (16, False)),
        (1, 16, 4, (1, False)),  # never zero steps
        (10, 16, 1, (10, False)),
    ],
)
def test_per_rank_batch_size(
    n_windows: int, batch_size: int, world_size: int, expected: tuple[int, bool]
) -> None:
    assert per_rank_batch_size(n_windows, batch_size, world_size) == expected
