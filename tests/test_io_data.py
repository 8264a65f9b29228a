"""Bundled datasets, data files, evaluation helpers and time-unit handling."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from tsdiff.data import parse_input
from tsdiff.data.files import (
    DataFileError,
    read_table,
    select_features,
    split_table,
    table_format,
    write_table,
)
from tsdiff.datasets import dataset_path, load_air_quality, load_server_metrics
from tsdiff.evaluation import hide_observed, linear_interpolation


def test_bundled_air_quality():
    frame = load_air_quality()
    assert frame.shape == (2184, 12)
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "time"
    assert (np.diff(frame.index.asi8) > 0).all()
    assert frame.index[0] == pd.Timestamp("2014-09-01 00:00")
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert 0.005 < frame.isna().to_numpy().mean() < 0.05  # genuine gaps, kept
    assert {"Aotizhongxin.PM2.5", "Dongsi.TEMP"} <= set(frame.columns)


def test_bundled_server_metrics():
    train, test = load_server_metrics("train"), load_server_metrics("test")
    assert train.shape == (3000, 20) and test.shape == (3000, 21)
    assert "label" not in train and set(test["label"].unique()) == {0, 1}
    assert test["label"].mean() == pytest.approx(0.144)
    assert train.index[-1] < test.index[0]
    assert not train.isna().any().any()
    with pytest.raises(ValueError, match="split"):
        load_server_metrics("validation")  # type: ignore[arg-type]


def test_dataset_files_are_small_and_documented():
    folder = resources.files("tsdiff.datasets")
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "MIT" in readme and "Zhang" in readme
    sizes = {
        name: len(dataset_path(name).read_bytes())
        for name in ("air_quality", "server_metrics_train", "server_metrics_test")
    }
    assert sizes["air_quality"] < 300_000
    assert sizes["server_metrics_train"] + sizes["server_metrics_test"] < 400_000


def test_time_unit_does_not_change_results(fitted_imputer, air_slice):
    """A microsecond and a nanosecond DatetimeIndex are the same time stamps."""
    micro = air_slice.copy()
    micro.index = micro.index.as_unit("us")
    nano = air_slice.copy()
    nano.index = nano.index.as_unit("ns")
    pd.testing.assert_frame_equal(
        fitted_imputer.transform(micro), fitted_imputer.transform(nano), check_index_type=False
    )


def test_split_table_and_errors(tmp_path):
    table = pd.DataFrame(
        {
            "time": ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"],
            "a": [1.0, None, 3.0],
            "b": [1, 2, 3],
            "note": ["x", "y", "z"],
            "label": [0, 1, 0],
        }
    )
    with pytest.warns(UserWarning, match="note"):
        split = split_table(table)
    assert isinstance(split.features.index, pd.DatetimeIndex)
    assert list(split.features.columns) == ["a", "b"]
    assert split.ignored == ["note"] and split.labels is not None
    assert list(split.to_table().columns) == list(table.columns)
    bad = table.assign(time=["2024-01-01", "not a time", "2024-01-03"])
    with pytest.raises(DataFileError, match="'not a time' at row 1"), pytest.warns(UserWarning):
        split_table(bad, source="x.csv")
    with pytest.raises(DataFileError, match="missing feature column"):
        split_table(table, columns=["a", "zzz"])
    with pytest.raises(DataFileError, match="not numeric"):
        split_table(table, columns=["note"])
    with pytest.raises(DataFileError, match="unsupported file type"):
        table_format("data.xlsx")
    assert table_format("d.csv.gz") == "csv" and table_format("d.PARQUET") == "parquet"
    path = write_table(table, tmp_path / "sub" / "t.csv.gz")
    pd.testing.assert_frame_equal(read_table(path), table)
    (tmp_path / "empty.csv").write_text("time,a\n")
    with pytest.raises(DataFileError, match="no data rows"):
        read_table(tmp_path / "empty.csv")


def test_hide_observed_and_linear_interpolation():
    frame = load_air_quality().iloc[:200, :3]
    hidden, mask = hide_observed(frame, 0.2, random_state=5)
    observed = frame.notna().to_numpy()
    assert not (mask & ~observed).any()  # only observed cells are hidden
    assert 0.15 < mask.sum() / observed.sum() < 0.25
    assert hidden.isna().to_numpy()[mask].all()
    _, mask_again = hide_observed(frame, 0.2, random_state=5)
    np.testing.assert_array_equal(mask, mask_again)
    filled = linear_interpolation(hidden)
    assert not filled.isna().any().any()
    # exact on a straight line, in real time
    line = pd.DataFrame(
        {"v": [0.0, np.nan, 2.0, np.nan, np.nan, 8.0]},
        index=pd.to_datetime(
            [
                "2024-01-01 00:00",
                "2024-01-01 01:00",
                "2024-01-01 02:00",
                "2024-01-01 04:00",
                "2024-01-01 06:00",
                "2024-01-01 08:00",
            ]
        ),
    )
    np.testing.assert_allclose(linear_interpolation(line)["v"], [0, 1, 2, 4, 6, 8])
    with pytest.raises(ValueError, match="fraction"):
        hide_observed(frame, 1.5)


# -- issue 16: nothing silently wrong in files -------------------------------------------------
@pytest.mark.parametrize(
    ("times", "series", "words"),
    [
        ([30, 10, 20], None, "'time' goes back in time at row 1: 10 after 30 at row 0"),
        ([10, 20, 20], None, "'time' repeats at row 2: 20 after 20 at row 1"),
        ([1.5, 0.5, 2.5], None, "goes back in time at row 1: 0.5 after 1.5"),
        (
            [1, 5, 2, 4],
            ["a", "b", "a", "b"],
            "in series 'b' goes back in time at row 3: 4 after 5 at row 1",
        ),
        (
            ["2024-01-02", "2024-01-01", "2024-01-03"],
            None,
            "goes back in time at row 1: '2024-01-01' after '2024-01-02'",
        ),
    ],
)
def test_time_column_out_of_order_is_refused(times, series, words):
    table = pd.DataFrame({"time": times, "a": np.arange(len(times), dtype=float)})
    if series is not None:
        table["site"] = series
    with pytest.raises(DataFileError, match=words) as info:
        split_table(table, series_column="site" if series else None, source="x.csv")
    assert "sort the file by 'time'" in str(info.value)


def test_integer_time_stamps_keep_their_spacing_and_are_written_back():
    table = pd.DataFrame({"time": [1_700_000_000, 1_700_000_060, 1_700_000_300], "a": [1.0, 2, 3]})
    split = split_table(table)
    assert isinstance(split.features.index, pd.TimedeltaIndex)
    parsed = parse_input(split.features)
    assert parsed.real_time
    assert parsed.series(60.0).timestamps[0].tolist() == [0.0, 1.0, 5.0]  # integers count ns
    pd.testing.assert_frame_equal(split.to_table(), table)


def test_one_bad_cell_stops_with_column_row_and_value():
    table = pd.DataFrame({"a": ["1.5", "2.5", "n/a?", "4"], "b": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataFileError, match=r"column 'a' is numeric but holds 'n/a\?' at row 2"):
        split_table(table, source="x.csv")
    with pytest.raises(DataFileError, match=r"'a' is numeric but holds 'n/a\?' at row 2"):
        split_table(table, columns=["a"])
    split = split_table(table, columns=["b"])  # an explicit choice leaves 'a' alone
    assert list(split.features.columns) == ["b"]


def test_text_only_column_is_ignored_visibly():
    table = pd.DataFrame({"a": [1.0, 2.0], "station": ["s1", "s2"]})
    with pytest.warns(UserWarning, match=r"\['station'\] hold no numbers and are not modelled"):
        split = split_table(table)
    assert split.ignored == ["station"]


def test_model_column_with_a_bad_cell_is_named_at_impute():
    table = split_table(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    table.extra = pd.DataFrame({"c": ["1", "x"]}, index=table.features.index)
    with pytest.raises(DataFileError, match="column 'c' is numeric but holds 'x' at row 1"):
        select_features(table, ["a", "c"])
