"""The scripts in examples/ run in their ``--fast`` mode on the bundled data."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

#: Script -> the files it must write into ``--out`` (plots need matplotlib).
EXAMPLES: dict[str, list[str]] = {
    "impute_air_quality.py": ["imputation.png"],
    "impute_many_series.py": [],
    "detect_smd.py": ["detection.png"],
    "mlflow_tracking.py": [],
}
#: Seconds per script; ``--fast`` takes well under a minute on an idle 2-core machine.
TIMEOUT = 300


@pytest.mark.slow
@pytest.mark.parametrize("script", list(EXAMPLES))
def test_example_runs_fast(script: str, tmp_path: Path) -> None:
    path = REPO / "examples" / script
    command = [sys.executable, str(path), "--fast"]
    if "--out" in path.read_text():
        command += ["--out", str(tmp_path / "out")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "Agg",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"{script} --fast failed:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{script} printed nothing"
    if importlib.util.find_spec("matplotlib") is not None:
        for name in EXAMPLES[script]:
            assert (tmp_path / "out" / name).is_file(), f"{script} wrote no {name}"


def test_examples_have_a_fast_and_a_full_mode() -> None:
    for script in EXAMPLES:
        text = (REPO / "examples" / script).read_text()
        assert '"--fast"' in text, f"{script} has no --fast flag"
        assert "if fast" in text or "args.fast" in text, f"{script} ignores --fast"
