"""The data layer: parsing inputs, scaling, windows and stitching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsdiff.data import (
    NaNStandardScaler,
    SeriesSet,
    build_window_store,
    parse_input,
    stitch,
    window_starts,
)


def test_window_starts_cover_the_series() -> None:
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(11, 4, 3).tolist() == [0, 3, 6, 7]
    assert window_starts(3, 4, 2).tolist() == [0]
    with pytest.raises(ValueError):
        window_starts(10, 0, 1)


@pytest.mark.parametrize(
    ("lengths", "length", "stride"),
    [([50], 8, 3), ([5, 30, 17], 8, 4), ([8], 8, 8), ([40], 10, 10)],
)
def test_gather_then_stitch_is_identity(lengths: list[int], length: int, stride: int) -> None:
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((n, 3)) for n in lengths]
    series = SeriesSet(values, [np.arange(n, dtype=float) for n in lengths])
    store = build_window_store(series, values, length, stride)
    windows, _, stamps = store.gather(np.arange(store.n_windows))
    assert windows.shape == (store.n_windows, 3, length)
    assert np.all(stamps[:, 0] == 0)
    samples = np.repeat(windows[:, None], 2, axis=1)  # (W, S=2, K, L)
    for original, back in zip(values, stitch(store, samples), strict=True):
        assert back.shape == (2, len(original), 3)
        np.testing.assert_allclose(back[0], original.astype(np.float32), rtol=1e-6)


def test_stitch_takes_each_step_from_its_most_central_window() -> None:
    series = SeriesSet([np.zeros((20, 1))], [np.arange(20.0)])
    store = build_window_store(series, series.values, 8, 4)  # starts 0, 4, 8, 12
    outputs = np.broadcast_to(
        np.arange(store.n_windows, dtype=float)[:, None, None], (store.n_windows, 1, 8)
    )
    chosen = stitch(store, outputs)[0][:, 0]
    centres = store.local_starts + 3.5
    expected = [
        int(
            np.argmin(
                np.where(
                    (store.local_starts <= p) & (p < store.local_starts + 8),
                    np.abs(p - centres),
                    np.inf,
                )
            )
        )
        for p in range(20)
    ]
    assert chosen.tolist() == expected


def test_short_series_is_padded_and_masked() -> None:
    series = SeriesSet([np.ones((3, 2))], [np.arange(3.0)])
    store = build_window_store(series, series.values, 6, 1)
    _, observed, stamps = store.gather(np.array([0]))
    assert observed[0, :, :3].all() and not observed[0, :, 3:].any()
    assert stamps[0].tolist() == [0, 1, 2, 3, 4, 5]


def test_scaler_ignores_nan_and_keeps_constant_columns() -> None:
    data = np.array([[1.0, 5.0], [3.0, 5.0], [np.nan, 5.0]])
    scaler = NaNStandardScaler().fit([data])
    np.testing.assert_allclose(scaler.mean_, [2.0, 5.0])
    np.testing.assert_allclose(scaler.scale_, [1.0, 1.0])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(data)), data)
    with pytest.raises(ValueError, match=r"\['b'\] have no observed value"):
        NaNStandardScaler().fit([np.array([[1.0, np.nan], [2.0, np.nan]])], ["a", "b"])


def test_datetime_index_gives_real_irregular_time() -> None:
    index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00"])
    parsed = parse_input(pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=index))
    assert parsed.real_time
    series = parsed.series(time_step=3600e9)
    assert series.timestamps[0].tolist() == [0.0, 1.0, 3.0]


def test_multiindex_splits_series_and_restores_row_order() -> None:
    index = pd.MultiIndex.from_tuples(
        [("m2", 0), ("m1", 0), ("m2", 1), ("m1", 1), ("m1", 2)], names=["id", "t"]
    )
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=index)
    parsed = parse_input(frame)
    assert [v[:, 0].tolist() for v in parsed.values] == [[1.0, 3.0], [2.0, 4.0, 5.0]]
    stacked = parsed.layout.stack([v * 10 for v in parsed.values])
    assert stacked[:, 0].tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"]}),
            r"column\(s\) \['name'\] are not real numbers",
        ),
        (
            pd.DataFrame({"a": [1.0, np.inf]}, index=pd.Index(["r0", "r1"])),
            r"column 'a' holds an infinite value at row 'r1'",
        ),
        (
            pd.DataFrame({"a": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-02", "2024-01-01"])),
            "not strictly increasing at row 1",
        ),
        (
            pd.DataFrame({"a": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-01", "2024-01-01"])),
            "not strictly increasing at row 1",
        ),
        (pd.DataFrame(np.ones((2, 2)), columns=["a", "a"]), r"duplicate column name\(s\) \['a'\]"),
        (
            [pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]})],
            r"list item 1: columns differ from item 0 \(missing \['a'\], extra \['b'\]",
        ),
        (np.ones(5), "Expected a 2-D array"),
        (pd.DataFrame(), "empty DataFrame"),
        (pd.DataFrame({"a": []}), r"0 sample\(s\)"),
        ("text", "Unsupported input type str"),
        (pd.Series([1.0]), "pass a DataFrame"),
    ],
)
def test_bad_input_is_named(bad: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        parse_input(bad)


def test_anchors_are_the_nearest_observations_outside_each_window_in_its_series() -> None:
    rng = np.random.default_rng(3)
    lengths = [40, 7, 25]
    values = [
        np.where(rng.random((n, 2)) < 0.6, rng.standard_normal((n, 2)), np.nan) for n in lengths
    ]
    values[0][:12, 1] = np.nan  # a column with nothing before some windows
    stamps = [np.cumsum(rng.random(n) + 0.5) for n in lengths]
    store = build_window_store(SeriesSet(values, stamps), values, 8, 3)
    anchor_values, anchor_times, anchor_observed = store.anchors(np.arange(store.n_windows))
    for w in range(store.n_windows):
        i, start = store.series_of_window[w], store.local_starts[w]
        vals, times = values[i], stamps[i]
        for k in range(2):
            observed_rows = np.flatnonzero(~np.isnan(vals[:, k]))
            before = observed_rows[observed_rows < start]
            after = observed_rows[observed_rows >= start + 8]
            for side, rows, pick in ((0, before, -1), (1, after, 0)):
                assert anchor_observed[w, k, side] == (len(rows) > 0)
                if len(rows):
                    row = rows[pick]
                    assert anchor_values[w, k, side] == np.float32(vals[row, k])
                    np.testing.assert_allclose(
                        anchor_times[w, k, side], times[row] - times[start], rtol=1e-5
                    )
    subset = store.subset(np.array([2, 0]))
    np.testing.assert_array_equal(subset.anchors(np.arange(2))[0], anchor_values[[2, 0]])
