"""tsdiff.plot: figures reflect the data, bad inputs are named, matplotlib stays optional."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the test process only; the library never sets a backend

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.figure import Figure

from tsdiff.api._detection_result import DetectionResult, arrange_per_step
from tsdiff.data.frames import parse_input
from tsdiff.plot import (
    plot_anomaly_scores,
    plot_attribution,
    plot_detection,
    plot_imputation,
)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def _by_gid(ax: Any, gid: str) -> list[Any]:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def _index(kind: str, n: int) -> pd.Index:
    if kind == "datetime":
        return pd.date_range("2024-01-01", periods=n, freq="h", name="time")
    return pd.RangeIndex(n)


def _imputation_data(kind: str) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 60
    index = _index(kind, n)
    truth = pd.DataFrame(
        np.cumsum(rng.standard_normal((n, 3)), axis=0), index=index, columns=["a", "b", "c"]
    )
    original = truth.copy()
    original.iloc[10:20, 0] = np.nan  # an outage of "a"
    original.iloc[[3, 30, 41], 1] = np.nan
    filled = original.interpolate(limit_direction="both")
    return {
        "truth": truth,
        "original": original,
        "filled": filled,
        "lower": filled - 1.0,
        "upper": filled + 1.0,
    }


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path)
    assert path.stat().st_size > 1000


# ---------------------------------------------------------------------------- plot_imputation


@pytest.mark.parametrize("kind", ["datetime", "range"])
def test_plot_imputation_draws_each_part(kind: str, tmp_path: Path) -> None:
    d = _imputation_data(kind)
    fig = plot_imputation(
        d["original"], d["filled"], d["lower"], d["upper"], hidden=d["truth"], columns=["a", "b"]
    )
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 2
    for ax, column, n_hidden in zip(axes, ["a", "b"], [10, 3], strict=True):
        assert ax.get_ylabel() == column
        assert len(_by_gid(ax, "band")) == 1
        assert isinstance(_by_gid(ax, "band")[0], PolyCollection)
        (filled,) = _by_gid(ax, "filled")
        np.testing.assert_allclose(filled.get_ydata(), d["filled"][column].to_numpy())
        (observed,) = _by_gid(ax, "observed")
        assert len(observed.get_ydata()) == d["original"][column].notna().sum()
        (hidden,) = _by_gid(ax, "hidden")
        np.testing.assert_allclose(
            hidden.get_ydata(), d["truth"][column][d["original"][column].isna()].to_numpy()
        )
        assert len(hidden.get_ydata()) == n_hidden
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == ["interval", "imputed", "observed", "hidden truth"]
    _save(fig, tmp_path / f"imputation_{kind}.png")


def test_plot_imputation_arrays_series_and_given_axes() -> None:
    d = _imputation_data("range")
    fig = plot_imputation(d["original"].to_numpy(), d["filled"].to_numpy())
    assert len(fig.get_axes()) == 3
    assert [ax.get_ylabel() for ax in fig.get_axes()] == ["x0", "x1", "x2"]
    assert not _by_gid(fig.get_axes()[0], "band")
    assert not _by_gid(fig.get_axes()[0], "hidden")

    own, ax = plt.subplots()
    out = plot_imputation(d["original"]["a"], d["filled"]["a"].rename("other"), ax=ax)
    assert out is own
    assert len(_by_gid(ax, "filled")) == 1

    # an array of the original's shape takes its index and columns
    fig = plot_imputation(d["original"], d["filled"].to_numpy(), columns="c")
    assert len(fig.get_axes()) == 1


def test_plot_imputation_keeps_the_data_readable_under_a_wide_band() -> None:
    d = _imputation_data("datetime")
    fig = plot_imputation(
        d["original"], d["filled"], d["lower"] - 1e4, d["upper"] + 1e4, columns="a"
    )
    low, high = fig.get_axes()[0].get_ylim()
    assert high - low < 1e3
    fig = plot_imputation(
        d["original"], d["filled"], d["lower"] - 1e4, d["upper"], columns="a", clip_band=False
    )
    assert fig.get_axes()[0].get_ylim()[0] < -1e3


def test_plot_imputation_rejects_bad_inputs() -> None:
    d = _imputation_data("datetime")
    with pytest.raises(ValueError, match=r"unknown column\(s\) nope, zz; original has a, b, c"):
        plot_imputation(d["original"], d["filled"], columns=["a", "nope", "zz"])
    with pytest.raises(ValueError, match="filled must have the columns of original: missing c"):
        plot_imputation(d["original"], d["filled"][["a", "b"]])
    with pytest.raises(ValueError, match="upper's index differs from original's"):
        plot_imputation(d["original"], d["filled"], d["lower"], d["upper"].shift(1, freq="h"))
    with pytest.raises(ValueError, match="hidden has 59 rows but original has 60"):
        plot_imputation(d["original"], d["filled"], hidden=d["truth"].iloc[1:])
    with pytest.raises(ValueError, match="both lower and upper"):
        plot_imputation(d["original"], d["filled"], lower=d["lower"])
    with pytest.raises(TypeError, match="non-numeric columns: a"):
        plot_imputation(d["original"].assign(a="x"), d["filled"])
    with pytest.raises(ValueError, match="3 Axes given"):
        plot_imputation(d["original"], d["filled"], columns="a", ax=plt.subplots(3)[1])


# ------------------------------------------------------------------------ plot_anomaly_scores


def _detection_data(kind: str, n: int = 200) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    index = _index(kind, n)
    scores = pd.Series(rng.random(n), index=index, name="score")
    labels = pd.Series(0, index=index)
    labels.iloc[50:60] = 1
    labels.iloc[120:125] = 1
    labels.iloc[n - 10] = 1
    scores[labels == 1] += 2.0
    events = pd.DataFrame(
        {
            "start": [index[50], index[121], index[n - 50]],
            "end": [index[59], index[124], index[n - 50]],
        }
    )
    return {"scores": scores, "labels": labels, "events": events, "index": index}


@pytest.mark.parametrize("kind", ["datetime", "range"])
def test_plot_anomaly_scores_shows_threshold_labels_and_events(kind: str, tmp_path: Path) -> None:
    d = _detection_data(kind)
    fig = plot_anomaly_scores(d["scores"], threshold=1.5, labels=d["labels"], events=d["events"])
    (ax,) = fig.get_axes()
    (line,) = _by_gid(ax, "score")
    np.testing.assert_allclose(line.get_ydata(), d["scores"].to_numpy())
    (rule,) = _by_gid(ax, "threshold")
    assert list(rule.get_ydata()) == [1.5, 1.5]
    assert len(_by_gid(ax, "label")) == 3  # three runs of labels
    assert len(_by_gid(ax, "event")) == len(d["events"])
    # a one-step event still has a visible width
    spans = _by_gid(ax, "event")
    assert all(s.get_width() > 0 for s in spans)
    _save(fig, tmp_path / f"scores_{kind}.png")


def test_plot_anomaly_scores_several_series_and_plain_arrays() -> None:
    a, b = _detection_data("datetime"), _detection_data("datetime", n=150)
    events = pd.concat(
        [a["events"].assign(series=0), b["events"].iloc[:1].assign(series=1)], ignore_index=True
    )
    fig = plot_anomaly_scores(
        [a["scores"], b["scores"]],
        threshold=[1.0, 2.0],
        labels=[a["labels"], b["labels"].to_numpy()],
        events=events,
    )
    axes = fig.get_axes()
    assert len(axes) == 2
    assert [_by_gid(ax, "threshold")[0].get_ydata()[0] for ax in axes] == [1.0, 2.0]
    assert [len(_by_gid(ax, "event")) for ax in axes] == [3, 1]

    fig = plot_anomaly_scores(np.random.default_rng(0).random((3, 40)), threshold=0.5)
    assert len(fig.get_axes()) == 3
    fig = plot_anomaly_scores(a["scores"].to_numpy(), labels=a["labels"].to_numpy())
    assert len(_by_gid(fig.get_axes()[0], "label")) == 3

    multi = pd.concat({"m1": a["scores"], "m2": b["scores"]})
    fig = plot_anomaly_scores(multi, events=events.assign(series=["m1"] * 3 + ["m2"]))
    assert [len(_by_gid(ax, "event")) for ax in fig.get_axes()] == [3, 1]


def test_plot_anomaly_scores_time_zones_and_periods() -> None:
    d = _detection_data("datetime")
    aware = d["scores"].tz_localize("Europe/Berlin")
    events = d["events"].apply(lambda c: c.dt.tz_localize("Europe/Berlin"))
    fig = plot_anomaly_scores(aware, events=events)
    assert len(_by_gid(fig.get_axes()[0], "event")) == 3
    periods = d["scores"].to_period("h")
    events = d["events"].apply(lambda c: c.dt.to_period("h"))
    fig = plot_anomaly_scores(periods, labels=d["labels"].to_period("h"), events=events)
    assert len(_by_gid(fig.get_axes()[0], "event")) == 3
    assert len(_by_gid(fig.get_axes()[0], "label")) == 3


def test_plot_anomaly_scores_clips_a_heavy_tail_but_shows_the_threshold() -> None:
    d = _detection_data("range")
    scores = d["scores"].copy()
    scores.iloc[5] = 1e6
    fig = plot_anomaly_scores(scores, threshold=2.9)
    high = fig.get_axes()[0].get_ylim()[1]
    assert 2.9 < high < 1e3
    fig = plot_anomaly_scores(scores, clip_quantile=None)
    assert fig.get_axes()[0].get_ylim()[1] >= 1e6


def test_plot_anomaly_scores_rejects_bad_inputs() -> None:
    d = _detection_data("datetime")
    with pytest.raises(ValueError, match="events lack the column"):
        plot_anomaly_scores(d["scores"], events=d["events"].drop(columns="end"))
    with pytest.raises(ValueError, match="'series' column"):
        plot_anomaly_scores([d["scores"], d["scores"]], events=d["events"])
    with pytest.raises(ValueError, match="labels has 199 rows but scores has 200"):
        plot_anomaly_scores(d["scores"], labels=d["labels"].iloc[1:])
    with pytest.raises(ValueError, match="labels hold 2 series but scores hold 1"):
        plot_anomaly_scores(d["scores"], labels=[d["labels"], d["labels"]])
    with pytest.raises(ValueError, match=r"one per series \(2\), got 3"):
        plot_anomaly_scores([d["scores"], d["scores"]], threshold=[1, 2, 3])
    with pytest.raises(TypeError, match="events' start must be numbers"):
        plot_anomaly_scores(d["scores"].reset_index(drop=True), events=d["events"])
    with pytest.raises(TypeError, match="must be a Series"):
        plot_anomaly_scores({"a": 1})
    with pytest.raises(ValueError, match="one value per time step; got a DataFrame with columns"):
        plot_anomaly_scores(pd.DataFrame({"p": [1.0], "q": [2.0]}))


# --------------------------------------------------------------------------- plot_attribution


def _sensor_table(kind: str, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    table = pd.DataFrame(
        rng.random((n, 5)), index=_index(kind, n), columns=["s1", "s2", "s3", "s4", "s5"]
    )
    table.iloc[10:15, 1] = np.nan
    table.iloc[30, 3] = 9.0  # s4 has the largest score, then s2
    table.iloc[40, 1] = 5.0
    return table


@pytest.mark.parametrize("kind", ["datetime", "range"])
def test_plot_attribution_heatmap(kind: str, tmp_path: Path) -> None:
    table = _sensor_table(kind)
    fig = plot_attribution(table)
    ax = fig.get_axes()[0]
    (mesh,) = _by_gid(ax, "attribution")
    assert isinstance(mesh, QuadMesh)
    data = mesh.get_array()
    assert data.shape == (5, 80)  # sensors by time
    assert np.ma.getmaskarray(data)[1, 10:15].all()  # NaN left blank
    assert np.ma.getmaskarray(data).sum() == 5
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.columns)
    assert len(fig.get_axes()) == 2  # with its colour bar
    _save(fig, tmp_path / f"attribution_{kind}.png")


def test_plot_attribution_top_sensors_and_options() -> None:
    table = _sensor_table("datetime")
    fig = plot_attribution(table, top=2, colorbar=False, vmax=1.0)
    (ax,) = fig.get_axes()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["s4", "s2"]
    (mesh,) = _by_gid(ax, "attribution")
    assert mesh.get_array().shape == (2, 80)
    assert mesh.norm.vmax == 1.0
    fig = plot_attribution(table.to_numpy(), top=10)
    assert fig.get_axes()[0].get_yticklabels()[0].get_text() == "x3"
    with pytest.raises(ValueError, match="top must be a positive int"):
        plot_attribution(table, top=0)
    with pytest.raises(TypeError, match="MultiIndex"):
        plot_attribution(pd.concat({"m1": table, "m2": table}))


# ----------------------------------------------------------------------------- plot_detection


def _result(X: Any, seed: int = 3) -> DetectionResult:
    """A DetectionResult built directly (no model): random scores with two flagged runs."""
    rng = np.random.default_rng(seed)
    parsed = parse_input(X)
    layout = parsed.layout
    tables, steps, flags = [], [], []
    for values in parsed.values:
        table = rng.random(values.shape)
        table[10:14] += 3.0
        table[30] += 2.0
        table[np.isnan(values)] = np.nan
        step = np.nanmean(table, axis=1)
        tables.append(table)
        steps.append(step)
        flags.append((step > 1.5).astype(np.int64))
    return DetectionResult(
        scores=arrange_per_step(layout, steps, "score"),
        labels=arrange_per_step(layout, flags, "anomaly"),
        sensor_scores=layout.frames(tables),
        thresholds=[1.5] * len(steps),
        layout=layout,
        step_scores=steps,
        step_labels=flags,
        sensor_tables=tables,
        sensor_names=[str(c) for c in layout.columns] if layout.columns is not None else [],
    )


def _frame(n: int = 50, kind: str = "datetime") -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame(rng.random((n, 4)), index=_index(kind, n), columns=list("pqrs"))


@pytest.mark.parametrize("kind", ["datetime", "range"])
def test_plot_detection_composes_scores_and_attribution(kind: str, tmp_path: Path) -> None:
    X = _frame(kind=kind)
    X.iloc[5, 2] = np.nan
    result = _result(X)
    truth = np.zeros(len(X), dtype=int)
    truth[9:15] = 1
    fig = plot_detection(result, labels=truth, top=3, title="synthetic")
    scores_ax, heat_ax, bar_ax = fig.get_axes()
    (rule,) = _by_gid(scores_ax, "threshold")
    assert rule.get_ydata()[0] == 1.5
    assert len(_by_gid(scores_ax, "event")) == len(result.events()) == 2
    assert len(_by_gid(scores_ax, "label")) == 1
    (mesh,) = _by_gid(heat_ax, "attribution")
    assert mesh.get_array().shape == (3, len(X))
    assert heat_ax.get_shared_x_axes().joined(scores_ax, heat_ax)
    assert bar_ax.get_ylabel() == "sensor score"
    _save(fig, tmp_path / f"detection_{kind}.png")

    fig = plot_detection(result, events=False)
    assert not _by_gid(fig.get_axes()[0], "event")
    fig = plot_detection(result, events=result.events(min_length=3))
    assert len(_by_gid(fig.get_axes()[0], "event")) == 1


def test_plot_detection_picks_a_series_of_a_multi_series_result() -> None:
    frames = [_frame(), _frame(40)]
    result = _result(frames)
    with pytest.raises(ValueError, match=r"holds 2 series \(0, 1\); pass series="):
        plot_detection(result)
    with pytest.raises(ValueError, match="unknown series 5; the result holds 0, 1"):
        plot_detection(result, series=5)
    fig = plot_detection(result, series=1, labels=[np.zeros(50), np.ones(40)])
    scores_ax = fig.get_axes()[0]
    assert len(_by_gid(scores_ax, "score")[0].get_ydata()) == 40
    assert len(_by_gid(scores_ax, "label")) == 1

    multi = pd.concat({"m1": _frame(), "m2": _frame(40)})
    result = _result(multi)
    truth = pd.Series(0, index=multi.index)
    truth.loc["m2"] = 1
    fig = plot_detection(result, series="m2", labels=truth.loc[["m2", "m1"]])
    assert len(_by_gid(fig.get_axes()[0], "label")) == 1
    events = result.events()
    assert len(_by_gid(fig.get_axes()[0], "event")) == int((events["series"] == "m2").sum())
    with pytest.raises(TypeError, match="DetectionResult"):
        plot_detection(_frame())


# ------------------------------------------------------------------------- optional matplotlib


def test_plots_leave_the_backend_alone() -> None:
    before = matplotlib.get_backend()
    d = _detection_data("range")
    plot_anomaly_scores(d["scores"], threshold=1.0)
    assert matplotlib.get_backend() == before


def test_import_tsdiff_does_not_import_matplotlib() -> None:
    code = "import sys, tsdiff, tsdiff.datasets; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "tsdiff.plot" or m.startswith("tsdiff.plot.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "tsdiff\[plot\]"'):
        importlib.import_module("tsdiff.plot")
