"""Issue 14: streaming scores equal batch scores of the concatenation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import detector_tiny_params

from tsdiff import TSDiffAnomalyDetector
from tsdiff.api.streaming import StreamingScorer
from tsdiff.scoring import MaskedReimputationScorer


def sensors(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(2 * np.pi * t / 24)
    frame = pd.DataFrame(
        {
            "a": base + 0.1 * rng.standard_normal(n),
            "b": 0.5 * base + 0.1 * rng.standard_normal(n),
            "c": np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="min"),
    )
    frame.iloc[150:170, 1] += 2.0
    return frame


@pytest.fixture(scope="module")
def detector() -> TSDiffAnomalyDetector:
    return TSDiffAnomalyDetector(**detector_tiny_params()).fit(sensors(400, 0))


def stream(detector: TSDiffAnomalyDetector, frame: pd.DataFrame, sizes: list[int]) -> list:
    scorer = StreamingScorer(detector)
    emitted, start = [], 0
    for size in sizes:
        emitted.append(scorer.update(frame.iloc[start : start + size]))
        start += size
    assert start == len(frame)
    return [scorer, emitted]


def test_emitted_rows_equal_batch_scores_of_the_concatenation(
    detector: TSDiffAnomalyDetector,
) -> None:
    frame = sensors(300, 1)
    scorer, emitted = stream(detector, frame, [20, 1, 37, 60, 5, 100, 77])
    final = pd.concat(emitted)
    assert len(final) == scorer.n_emitted_ == len(frame) - scorer.latency
    assert final.index.equals(frame.index[: len(final)])
    batch = detector.detect(frame)
    np.testing.assert_allclose(final["score"], batch.scores.iloc[: len(final)], rtol=1e-6)
    np.testing.assert_array_equal(final["anomaly"], batch.labels.iloc[: len(final)])
    # emitted rows do not change when more rows arrive
    extra = sensors(40, 9)
    extra.index = pd.date_range(frame.index[-1], periods=41, freq="min")[1:]
    longer = detector.detect(pd.concat([frame, extra]))
    np.testing.assert_allclose(final["score"], longer.scores.iloc[: len(final)], rtol=1e-6)
    rest = scorer.flush()
    np.testing.assert_allclose(rest["score"], batch.scores.iloc[len(final) :], rtol=1e-6)
    with pytest.raises(ValueError, match="flushed"):
        scorer.update(frame.iloc[:1])


def test_provisional_scores_are_batch_scores_so_far(detector: TSDiffAnomalyDetector) -> None:
    frame = sensors(130, 2)
    scorer, emitted = stream(detector, frame, [50, 80])
    pending = scorer.provisional()
    batch = detector.detect(frame)
    done = sum(len(e) for e in emitted)
    assert len(pending) == len(frame) - done
    np.testing.assert_allclose(pending["score"], batch.scores.iloc[done:], rtol=1e-6)


def test_short_stream_and_arrays(detector: TSDiffAnomalyDetector) -> None:
    frame = sensors(40, 3)
    scorer = StreamingScorer(detector)
    assert scorer.update(frame.to_numpy()[:10]).empty
    assert scorer.update(frame.to_numpy()[10:]).empty  # 40 rows < latency
    rest = scorer.flush()
    assert list(rest.index) == list(range(40))
    batch = detector.detect(frame.to_numpy())
    np.testing.assert_allclose(rest["score"], batch.scores, rtol=1e-6)


def test_overlapping_windows_stream_like_batch() -> None:
    params = detector_tiny_params()
    params["scorer"] = MaskedReimputationScorer(
        n_samples=2, sampling_steps=2, strip_length=8, stride=4
    )
    fitted = TSDiffAnomalyDetector(**params).fit(sensors(300, 4))
    frame = sensors(200, 5)
    _, emitted = stream(fitted, frame, [33, 67, 100])
    final = pd.concat(emitted)
    batch = fitted.detect(frame)
    np.testing.assert_allclose(final["score"], batch.scores.iloc[: len(final)], rtol=1e-6)


def test_follow_a_growing_csv_matches_batch(
    detector: TSDiffAnomalyDetector, tmp_path: Path
) -> None:
    from tsdiff.api.streaming import follow

    frame = sensors(200, 6)
    source = tmp_path / "live.csv"
    table = frame.rename_axis("time").reset_index()
    parts = [table.iloc[:70], table.iloc[70:150], table.iloc[150:]]
    parts[0].to_csv(source, index=False)
    pending = iter(parts[1:])

    def grow(_: float) -> None:  # each wait, the file gets its next rows
        part = next(pending, None)
        if part is not None:
            part.to_csv(source, mode="a", header=False, index=False)

    out_path = tmp_path / "scores.csv"
    with open(out_path, "w", encoding="utf-8") as out:
        written = follow(detector, str(source), out, max_polls=3, sleep=grow)
    assert written == len(frame)
    got = pd.read_csv(out_path, index_col=0, parse_dates=True)
    assert list(got.columns) == ["score", "is_anomaly"]
    batch = detector.detect(frame)
    np.testing.assert_allclose(got["score"], batch.scores, rtol=1e-6)


def test_cli_detect_follow(detector: TSDiffAnomalyDetector, tmp_path: Path) -> None:
    from tsdiff.cli import EXIT_OK, main

    model = tmp_path / "model"
    detector.save(model)
    frame = sensors(120, 7)
    data = tmp_path / "live.csv"
    frame.rename_axis("time").reset_index().to_csv(data, index=False)
    out = tmp_path / "scores.csv"
    argv = ["detect", "-m", str(model), "-d", str(data), "-o", str(out), "-q"]
    assert main([*argv, "--follow", "--max-polls", "1", "--poll-seconds", "0.01"]) == EXIT_OK
    got = pd.read_csv(out, index_col=0)
    assert len(got) == len(frame)
    np.testing.assert_allclose(got["score"], detector.detect(frame).scores, rtol=1e-6)
