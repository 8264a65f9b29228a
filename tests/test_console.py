"""Nothing reaches the console unasked: no banners, adverts or library noise; --quiet is silent."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

_SCRIPT = """
import sys
sys.path.insert(0, "tests")
from conftest import TINY_PARAMS
from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality

frame = load_air_quality().iloc[:160, :3]
params = dict(TINY_PARAMS, verbose={verbose}, max_epochs=1)
TSDiffImputer(**params).fit(frame).transform(frame)
"""

_NOISE = (
    "GPU available",
    "TPU available",
    "Tip:",
    "litlogger",
    "limit_val_batches",
    "deprecated",
    "Warning",
    "Validation",
)


def _run(verbose: bool) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(verbose=verbose)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout + done.stderr


def test_verbose_fit_shows_progress_bars_only() -> None:
    output = _run(verbose=True)
    assert "Epoch 0" in output and "sampling" in output  # one bar per long step
    found = [word for word in _NOISE if word in output]
    assert not found, f"console noise {found}:\n{output[-2000:]}"


def test_quiet_fit_prints_nothing() -> None:
    assert _run(verbose=False).strip() == ""
