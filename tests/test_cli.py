"""The ``tsdiff`` command end to end on small slices of the bundled real data."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsdiff.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]
TINY = "tiny"  # the packaged preset, by name


@pytest.fixture(scope="module")
def files(tmp_path_factory, air_slice):
    """The air-quality slice as CSV and Parquet files (time as a column, with gaps)."""
    folder = tmp_path_factory.mktemp("cli")
    table = air_slice.reset_index()
    table["station_note"] = "ok"  # a non-numeric column that must pass through
    csv = folder / "air.csv"
    table.to_csv(csv, index=False)
    parquet = folder / "air.parquet"
    table.to_parquet(parquet, index=False)
    return {"folder": folder, "csv": csv, "parquet": parquet, "table": table}


@pytest.fixture(scope="module")
def model_dir(files):
    out = files["folder"] / "model"
    code = main(
        ["fit", "--config", TINY, "--data", str(files["csv"]), "--out", str(out), "--quiet"]
    )
    assert code == EXIT_OK
    return out


def test_help_is_fast_and_imports_nothing_heavy():
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tsdiff", "--help"], capture_output=True, text=True, timeout=30
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0
    for command in ("fit", "impute", "detect", "evaluate", "demo"):
        assert command in done.stdout
    assert elapsed < 1.0, f"tsdiff --help took {elapsed:.2f} s"
    code = (
        "import sys, tsdiff.cli; tsdiff.cli.build_parser(); print([m for m in "
        "('torch', 'pandas', 'pytorch_lightning', 'mlflow', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_version_and_no_command(capsys):
    from tsdiff import __version__

    assert main(["--version"]) == EXIT_OK
    assert __version__ in capsys.readouterr().out
    assert main([]) == EXIT_USAGE


def test_fit_writes_a_model(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert config["estimator"]["class"] == "TSDiffImputer"
    assert config["fitted"]["n_features_in_"] == 4  # the text column is not a feature
    assert config["metadata"]["data"]["time_column"] == "time"
    assert config["metadata"]["config"].endswith("tiny.yaml")
    params = config["params"]
    assert params.get("model", params)["channels"] == 8


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_impute_csv_and_parquet(files, model_dir, kind):
    out = files["folder"] / f"filled.{kind}"
    code = main(
        ["impute", "--model", str(model_dir), "--data", str(files[kind]), "--out", str(out), "-q"]
    )
    assert code == EXIT_OK
    filled = pd.read_parquet(out) if kind == "parquet" else pd.read_csv(out)
    original = files["table"]
    assert list(filled.columns) == list(original.columns)
    features = [c for c in original.columns if c not in ("time", "station_note")]
    assert not filled[features].isna().any().any()
    observed = original[features].notna().to_numpy()
    np.testing.assert_allclose(
        filled[features].to_numpy()[observed], original[features].to_numpy()[observed]
    )
    assert (filled["station_note"] == "ok").all()
    assert pd.to_datetime(filled["time"]).equals(pd.to_datetime(original["time"]))


def test_impute_interval_adds_bounds(files, model_dir):
    out = files["folder"] / "bounds.csv"
    code = main(
        [
            "impute",
            "-m",
            str(model_dir),
            "-d",
            str(files["csv"]),
            "-o",
            str(out),
            "-q",
            "--interval",
            "0.8",
        ]
    )
    assert code == EXIT_OK
    table = pd.read_csv(out)
    column = files["table"].columns[1]
    assert {f"{column}_lower", f"{column}_upper"} <= set(table.columns)
    assert (table[f"{column}_lower"] <= table[column] + 1e-9).all()
    assert (table[column] <= table[f"{column}_upper"] + 1e-9).all()


def test_evaluate_prints_metrics_and_tracks(files, model_dir, capsys, tmp_path, store):
    uri = store[1]
    metrics_file = tmp_path / "metrics.json"
    code = main(
        [
            "evaluate",
            "-m",
            str(model_dir),
            "-d",
            str(files["parquet"]),
            "--fraction",
            "0.2",
            "--seed",
            "1",
            "-q",
            "--out",
            str(metrics_file),
            "--track",
            "--tracking-uri",
            uri,
        ]
    )
    assert code == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    for key in ("mae", "rmse", "crps", "coverage", "linear_mae"):
        assert np.isfinite(result[key])
    assert result["n_targets"] > 0 and result["fraction"] == 0.2
    assert json.loads(metrics_file.read_text())["mae"] == result["mae"]
    from mlflow.tracking import MlflowClient

    run = MlflowClient(uri).get_run(result["mlflow_run_id"])
    assert run.data.metrics["eval_mae"] == pytest.approx(result["mae"])


def test_multi_series_file(files, tmp_path):
    table = files["table"].drop(columns="station_note")
    stacked = pd.concat([table.assign(site="a"), table.assign(site="b")], ignore_index=True)
    data = tmp_path / "multi.csv"
    stacked.to_csv(data, index=False)
    out = tmp_path / "m"
    assert (
        main(
            [
                "fit",
                "-c",
                TINY,
                "-d",
                str(data),
                "-o",
                str(out),
                "--series-column",
                "site",
                "-q",
                "--max-epochs",
                "1",
            ]
        )
        == EXIT_OK
    )
    filled = tmp_path / "filled.csv"
    assert main(["impute", "-m", str(out), "-d", str(data), "-o", str(filled), "-q"]) == EXIT_OK
    result = pd.read_csv(filled)
    assert list(result["site"]) == list(stacked["site"])
    assert not result.drop(columns=["site", "time"]).isna().any().any()
    assert main(["evaluate", "-m", str(out), "-d", str(data), "-q"]) == EXIT_OK


# Each case: the command line (split at spaces; {folder}, {csv}, {model} filled in) and a
# fragment of the message it must print.
USAGE_ERRORS = [
    ("fit -c tiny -d {folder}/missing.csv -o {folder}/x", "missing.csv: no such file"),
    ("fit -c tiny -d {folder}/air.xlsx -o {folder}/x", "unsupported file type"),
    ("fit -c tiny -d {csv} -o {folder}/x --time-column when", "no column 'when'"),
    ("fit -c {folder}/bad.yaml -d {csv} -o {folder}/x", "unknown key 'chanels'"),
    ("impute -m {folder}/nomodel -d {csv} -o {folder}/o.csv", "does not exist"),
    ("detect -m {model} -d {csv} -o {folder}/o.csv", "needs a detector model"),
    ("impute -m {model} -d {folder}/fewer.csv -o {folder}/o.csv", "missing column(s)"),
    ("fit -d {csv}", "required"),
    ("fit -c tiny -d {csv} -o {csv}", "exists and is a file"),
    ("fit -c no_such_preset -d {csv} -o {folder}/x", "tiny_detector"),
    ("impute -m {folder}/nomodel -d {csv} -o {folder}/o.xlsx", "unsupported file type"),
    (
        "impute -m {folder}/nomodel -d {csv} -o {csv}/o.csv",
        "is a file, so the folder cannot be created",
    ),
    ("detect -m {folder}/nomodel -d {csv} -o {folder}", "unsupported file type"),
    (
        "evaluate -m {folder}/nomodel -d {csv} -o {folder}/no/m.json",
        "does not exist; create it first",
    ),
    ("impute -m {model} -d {csv} -o {folder}/o.csv --n-samples 0", "must be >= 1"),
    ("fit -c tiny -d {csv} -o {folder}/x --ckpt-path {folder}/none.ckpt", "no such checkpoint"),
    ("fit -c tiny -d {csv} -o {folder}/x --warm-start {model}", "drop --config"),
    ("fit -d {csv} -o {folder}/x --warm-start {folder}/nomodel", "does not exist"),
]


@pytest.mark.parametrize("command, fragment", USAGE_ERRORS)
def test_usage_errors_exit_2(files, model_dir, capsys, command, fragment):
    folder = files["folder"]
    (folder / "bad.yaml").write_text("model:\n  chanels: 8\n")
    files["table"].drop(columns=files["table"].columns[1]).to_csv(folder / "fewer.csv", index=False)
    names = {"folder": folder, "csv": files["csv"], "model": model_dir}
    argv = command.split()
    code = main([a.format(**names) for a in argv] + ["-q"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert fragment in err
    if "bad.yaml" in " ".join(argv):
        assert "bad.yaml" in err and "model.chanels" in err


def test_runtime_failure_exits_1(files, tmp_path, capsys, monkeypatch):
    import tsdiff.training.fit as fit_module

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(fit_module, "train_denoiser", boom)
    code = main(["fit", "-c", TINY, "-d", str(files["csv"]), "-o", str(tmp_path / "m"), "-q"])
    assert code == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "failed (RuntimeError): out of memory (simulated)" in err
    assert not (tmp_path / "m").exists()


def test_quiet_silences_progress(files, tmp_path, capfd):
    main(
        [
            "fit",
            "-c",
            TINY,
            "-d",
            str(files["csv"]),
            "-o",
            str(tmp_path / "m"),
            "-q",
            "--max-epochs",
            "1",
        ]
    )
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_demo_with_a_tiny_budget(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        ["demo", "--quick", "--max-time", "2", "--out-dir", str(out), "-q", "--no-detection"]
    )
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "linear interpolation" in printed and "MAE" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["imputation"]["n_hidden"] > 0
    for key in ("mae", "crps", "coverage"):
        assert np.isfinite(results["imputation"]["tsdiff"][key])
    assert (out / "imputation.png").stat().st_size > 10_000
    assert results["detection_skipped"] == "--no-detection"


def test_detector_fit_detect_evaluate(smd_slices, tmp_path, capsys):
    train, test = smd_slices
    train.reset_index().to_csv(tmp_path / "train.csv", index=False)
    test.reset_index().to_parquet(tmp_path / "test.parquet", index=False)
    model = tmp_path / "det"
    args = ["-c", "tiny_detector", "-d", str(tmp_path / "train.csv"), "-o", str(model)]
    assert main(["fit", *args, "-q"]) == EXIT_OK
    out = tmp_path / "scores.csv"
    assert (
        main(
            ["detect", "-m", str(model), "-d", str(tmp_path / "test.parquet"), "-o", str(out), "-q"]
        )
        == EXIT_OK
    )
    scores = pd.read_csv(out)
    assert {"time", "label", "score", "is_anomaly"} <= set(scores.columns)
    assert scores["label"].tolist() == test["label"].tolist()
    assert set(scores["is_anomaly"].unique()) <= {0, 1}
    capsys.readouterr()
    assert (
        main(["evaluate", "-m", str(model), "-d", str(tmp_path / "test.parquet"), "-q"]) == EXIT_OK
    )
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "detection"
    for key in ("auc_roc", "auc_pr", "vus_pr", "best_f1", "f1"):
        assert 0 <= result[key] <= 1
    assert result["auc_pr_random"] == pytest.approx(test["label"].mean())
    assert "null_reasons" not in result
    assert (
        main(
            ["impute", "-m", str(model), "-d", str(tmp_path / "test.parquet"), "-o", str(out), "-q"]
        )
        == EXIT_USAGE
    )


class _FakeResult:
    def __init__(self, n: int) -> None:
        self.scores = np.arange(n, dtype=float)
        self.labels = (self.scores > n / 2).astype(int)


class _Counting:
    """A detector stand-in that counts its sampling passes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def detect(self, X):
        self.calls.append("detect")
        return _FakeResult(len(X))

    def decision_function(self, X):  # a second sampling pass: must not be called
        self.calls.append("decision_function")
        return np.array([0.0, 1.0, np.nan, 3.0, 4.0])

    def predict(self, X):  # a second sampling pass: must not be called
        self.calls.append("predict")
        return np.array([0, 0, 0, 1, 1])


def test_score_once_samples_once():
    from tsdiff.evaluation import score_once

    detector = _Counting()
    scores, flags = score_once(detector, np.zeros((5, 2)))
    assert detector.calls == ["detect"] and flags.tolist() == [0, 0, 0, 1, 1]
    assert scores.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_evaluate_json_has_no_nan_and_says_why():
    from tsdiff.cli._evaluate import _detector_metrics, _json_ready

    scores = np.array([0.1, np.nan, 0.3, 0.2])
    result, reasons = _detector_metrics(scores, np.zeros(4, dtype=int), np.array([0, 0, 1, 0]))
    clean = _json_ready({**result, "extra": float("nan")}, reasons)
    text = json.dumps(clean, allow_nan=False)  # raises on NaN
    loaded = json.loads(text)
    assert loaded["auc_roc"] is None and "only one label class" in loaded["null_reasons"]["auc_roc"]
    assert loaded["f1"] is None and "no row is labelled" in loaded["null_reasons"]["f1"]
    assert loaded["extra"] is None and "not a finite number" in loaded["null_reasons"]["extra"]
    assert loaded["n_scored"] == 3 and loaded["precision"] == 0.0
    full, none = _detector_metrics(scores, np.array([0, 1, 1, 0]), None)
    assert none == {} and full["auc_roc"] == pytest.approx(1.0) and "f1" not in full


def test_removed_names_are_gone():
    import tsdiff.config
    import tsdiff.evaluation

    assert not hasattr(tsdiff.config, "DetectorUnavailableError")
    assert not hasattr(tsdiff.evaluation, "evaluate_imputation")


def _fitted(path: Path) -> dict:
    return json.loads((path / "config.json").read_text())["fitted"]


def test_fit_resumes_from_a_checkpoint(files, model_dir, tmp_path):
    """A 1-epoch run (seed 1) writes last.ckpt; --ckpt-path continues it to 2 epochs with the
    first epoch's history of that run, not of a fresh seed-0 run (model_dir)."""
    ckpt = tmp_path / "ckpt"
    tiny = (ROOT / "tsdiff" / "configs" / "tiny.yaml").read_text()
    text = tiny.replace("trainer:\n", f"trainer:\n  checkpoint_dir: {ckpt}\n")
    assert text != tiny
    config = tmp_path / "ckpt.yaml"
    config.write_text(text)
    base = ["fit", "-c", str(config), "-d", str(files["csv"]), "-q"]
    assert main([*base, "-o", str(tmp_path / "one"), "--max-epochs", "1", "--seed", "1"]) == EXIT_OK
    assert (ckpt / "last.ckpt").is_file()
    resume = ["-o", str(tmp_path / "two"), "--seed", "0", "--ckpt-path", str(ckpt / "last.ckpt")]
    assert main([*base, *resume]) == EXIT_OK
    one, two, fresh = _fitted(tmp_path / "one"), _fitted(tmp_path / "two"), _fitted(model_dir)
    assert two["n_epochs_"] == fresh["n_epochs_"] == 2
    assert two["history_"][0] == one["history_"][0] != fresh["history_"][0]


def test_fit_warm_start_fine_tunes_a_saved_model(files, model_dir, tmp_path):
    from tsdiff.persistence import load_estimator

    out = tmp_path / "warm"
    argv = ["fit", "-d", str(files["csv"]), "-o", str(out), "--warm-start", str(model_dir)]
    assert main([*argv, "--max-epochs", "1", "-q"]) == EXIT_OK
    saved = json.loads((out / "config.json").read_text())
    assert saved["metadata"]["warm_start"] == str(model_dir)
    assert saved["metadata"]["data"]["time_column"] == "time"
    assert saved["fitted"]["n_epochs_"] == 1
    before, after = load_estimator(model_dir), load_estimator(out)
    np.testing.assert_array_equal(after.scaler_.mean_, before.scaler_.mean_)
    pairs = zip(
        before.model_.state_dict().values(), after.model_.state_dict().values(), strict=True
    )
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in pairs)
