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


# -- issue 16: nothing silently wrong ---------------------------------------------------------
@pytest.mark.parametrize(
    "labels",
    [
        [0, 1, 2],
        [np.int64(10), np.int64(20), np.int64(30)],
        [("a", 1), ("a", 2), ("b", 1)],
        ["x", 1, 2.5],
        ["t", "p", "h"],
    ],
    ids=["ints", "numpy-ints", "tuples", "mixed", "strings"],
)
def test_column_identity_catches_reordered_and_foreign_columns(labels: list) -> None:
    from tsdiff.data.frames import check_column_identity, column_identity

    columns = pd.Index(labels, tupleize_cols=False) if isinstance(labels[0], tuple) else None
    frame = pd.DataFrame(np.ones((3, 3)), columns=columns if columns is not None else labels)
    ids = column_identity(frame.columns)
    assert ids is not None and all(isinstance(t, str) for t in ids)
    import json

    assert json.loads(json.dumps(ids)) == ids
    check_column_identity(ids, frame.columns)  # same labels, same order
    with pytest.raises(ValueError, match="another order: position 0"):
        check_column_identity(ids, frame.columns[[1, 0, 2]])
    renamed = frame.rename(columns={frame.columns[2]: "zz"})
    with pytest.raises(ValueError, match=r"missing .*unexpected \['zz'\]"):
        check_column_identity(ids, renamed.columns)
    check_column_identity(None, frame.columns)
    check_column_identity(ids, None)


def test_column_identity_tells_integer_from_text_labels() -> None:
    from tsdiff.data.frames import check_column_identity, column_identity

    ids = column_identity(pd.Index([0, 1]))
    with pytest.raises(ValueError, match="match in text but not in type"):
        check_column_identity(ids, pd.Index(["0", "1"]))


@pytest.mark.parametrize("magnitude", [1e-300, 1e-30, 1e-13, 1.0, 1e13, 1e200, 1e300])
def test_scaler_is_relative_to_the_column_magnitude(magnitude: float) -> None:
    rng = np.random.default_rng(0)
    data = (3.0 + rng.standard_normal((64, 1))) * magnitude
    scaler = NaNStandardScaler().fit([data])
    assert np.all(np.isfinite(scaler.mean_)) and np.all(np.isfinite(scaler.scale_))
    np.testing.assert_allclose(scaler.mean_ / magnitude, np.mean(data / magnitude), rtol=1e-9)
    np.testing.assert_allclose(scaler.scale_ / magnitude, np.std(data / magnitude), rtol=1e-9)
    standard = scaler.transform(data)
    assert np.all(np.isfinite(standard)) and abs(float(np.std(standard)) - 1.0) < 1e-9
    np.testing.assert_allclose(scaler.inverse_transform(standard), data, rtol=1e-12)


def test_scaler_constant_columns_at_any_magnitude() -> None:
    data = np.array([[1e-30, 1e200, 0.0], [1e-30, 1e200, 0.0]])
    scaler = NaNStandardScaler().fit([data])
    np.testing.assert_array_equal(scaler.scale_, [1e-30, 1.0, 1.0])
    np.testing.assert_array_equal(scaler.transform(data), np.zeros_like(data))


def test_nullable_dtypes_parse_to_float_and_fill_back() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": pd.array([0.5, 1.5, None], dtype="Float64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "f32": np.array([1.0, np.nan, 2.0], dtype=np.float32),
            "n": np.array([1, 2, 3]),
            "full": pd.array([4, 5, 6], dtype="Int64"),
        }
    )
    parsed = parse_input(frame)
    values = parsed.values[0]
    assert values.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(values), frame.isna().to_numpy())
    missing = np.isnan(values)
    out = parsed.layout.fill(frame, [np.full_like(values, 7.25)], [missing])
    assert dict(out.dtypes.astype(str)) == {
        "i": "Float64",
        "f": "Float64",
        "b": "Float64",
        "f32": "float32",
        "n": "int64",
        "full": "Float64",
    }
    assert out.notna().all().all()
    assert out.loc[1, "i"] == 7.25 and out.loc[0, "i"] == 1.0 and out.loc[1, "b"] == 7.25
    assert out.loc[2, "f"] == 7.25 and out["full"].tolist() == [4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    ("index", "words"),
    [
        (pd.Index([3, 1, 2]), "not strictly increasing"),
        (pd.Index([1, 1, 2]), "not strictly increasing"),
        (pd.Index(["2024-01-01", "2024-01-02", "2024-01-03"], name="day"), "parse_dates"),
    ],
)
def test_index_that_is_evidently_time_warns(index: pd.Index, words: str) -> None:
    with pytest.warns(UserWarning, match=words):
        parse_input(pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=index))


@pytest.mark.filterwarnings("error")
def test_ordinary_indexes_do_not_warn() -> None:
    for index in (
        pd.RangeIndex(3),
        pd.Index([5, 6, 9]),
        pd.Index(["a", "b", "c"]),
        pd.Index(["1", "2", "3"]),
        pd.Index(["pump-1", "pump-2", "pump-3"]),
    ):
        parse_input(pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=index))


def test_all_missing_input_is_detectable() -> None:
    from tsdiff.data.frames import has_observed, require_observed

    empty = parse_input(pd.DataFrame({"a": [np.nan, np.nan]}))
    assert not has_observed(empty)
    with pytest.raises(ValueError, match="every one of the 2 cells is missing"):
        require_observed(empty)
    require_observed(parse_input(pd.DataFrame({"a": [np.nan, 1.0]})))


def test_seeded_cpu_generator_draws_on_its_own_device(monkeypatch) -> None:
    """Validation masks come from a seeded CPU generator while, on a GPU, the observed tensor
    lives on the device: torch refuses a CPU generator for CUDA draws (this crashed CUDA
    training), so the draws are made on the generator's device and moved. 'meta' stands in for a
    non-CPU device here."""
    import torch

    from tsdiff.data import masking

    devices: list[str] = []
    real_rand = torch.rand

    def recording_rand(*args, **kwargs):
        devices.append(str(kwargs.get("device")))
        return real_rand(*args, **kwargs)

    monkeypatch.setattr(masking.torch, "rand", recording_rand)
    observed = torch.ones(4, 3, 8, dtype=torch.bool)
    mask = masking.random_condition_mask(observed.to("meta"), torch.Generator().manual_seed(0))
    assert mask.device.type == "meta" and mask.shape == observed.shape
    assert devices and all(d == "cpu" for d in devices)
