"""Properties that hold for any frame: random gaps, dtypes and index kinds (hypothesis).

One tiny model is fitted per module; examples are few (``max_examples``) and have no deadline,
so the file runs in well under a minute on two cores.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tsdiff.data.frames import output_dtype  # noqa: E402

COLUMNS = ["a", "b", "c"]
DTYPES = ["float32", "float64", "Int64", "Float64"]
INDEX_KINDS = ["datetime", "irregular-datetime", "range", "integer"]
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _column(values: np.ndarray, missing: np.ndarray, dtype: str) -> Any:
    if dtype == "Int64":
        return pd.array(np.where(missing, np.nan, np.round(values * 10)), dtype="Float64").astype(
            "Int64"
        )
    data = np.where(missing, np.nan, values)
    if dtype == "Float64":
        return pd.array(data, dtype="Float64")
    return data.astype(dtype)


def _index(kind: str, n: int, rng: np.random.Generator) -> pd.Index:
    if kind == "datetime":
        return pd.date_range("2024-01-01", periods=n, freq="h")
    if kind == "irregular-datetime":
        hours = np.cumsum(rng.integers(1, 3, size=n))
        return pd.DatetimeIndex(pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h"))
    if kind == "range":
        return pd.RangeIndex(n)
    return pd.Index(100 + 3 * np.arange(n))


@st.composite
def frames(draw: st.DrawFn, columns: list[str] = COLUMNS) -> pd.DataFrame:
    """A frame of noisy sines with random gaps (at least one cell observed)."""
    n = draw(st.integers(8, 40))
    seed = draw(st.integers(0, 2**16))
    dtypes = draw(st.lists(st.sampled_from(DTYPES), min_size=len(columns), max_size=len(columns)))
    kind = draw(st.sampled_from(INDEX_KINDS))
    gap = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9]))
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    values = np.sin(t / 5 + np.arange(len(columns))) + 0.1 * rng.standard_normal((n, len(columns)))
    missing = rng.random(values.shape) < gap
    missing[rng.integers(n), rng.integers(len(columns))] = False
    data = {name: _column(values[:, j], missing[:, j], dtypes[j]) for j, name in enumerate(columns)}
    return pd.DataFrame(data, index=_index(kind, n, rng))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A tiny imputer fitted once for the module, and its saved-and-loaded copy."""
    from conftest import TINY_PARAMS

    from tsdiff import TSDiffImputer

    rng = np.random.default_rng(0)
    t = np.arange(160)[:, None]
    values = np.sin(t / 5 + np.arange(3)) + 0.1 * rng.standard_normal((160, 3))
    train = pd.DataFrame(
        values, columns=COLUMNS, index=pd.date_range("2024", periods=160, freq="h")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = TSDiffImputer(**TINY_PARAMS).fit(train.mask(rng.random(train.shape) < 0.1))
    folder = tmp_path_factory.mktemp("properties") / "model"
    fitted.save(folder)
    return fitted, type(fitted).load(folder)


def _quiet(call: Any, *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args)


@SETTINGS
@given(frame=frames())
def test_transform_keeps_observed_cells_and_structure(model: tuple[Any, Any], frame) -> None:
    imputer, _ = model
    out = _quiet(imputer.transform, frame)
    pd.testing.assert_index_equal(out.index, frame.index)
    pd.testing.assert_index_equal(out.columns, frame.columns)
    assert [str(d) for d in out.dtypes] == [str(output_dtype(d)) for d in frame.dtypes]
    assert not out.isna().any().any()
    for column in frame.columns:
        observed = frame[column].notna().to_numpy()
        before = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)[observed]
        after = out[column].to_numpy(dtype=np.float64, na_value=np.nan)[observed]
        np.testing.assert_array_equal(after.view(np.int64), before.view(np.int64))  # bit for bit


@SETTINGS
@given(frame=frames())
def test_interval_brackets_the_median(model: tuple[Any, Any], frame) -> None:
    imputer, _ = model
    median = _quiet(imputer.transform, frame).to_numpy(dtype=np.float64)
    lower, upper = _quiet(imputer.predict_interval, frame)
    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    missing = frame.isna().to_numpy()
    assert np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))
    tol = 1e-6 * (1 + np.abs(median))
    assert np.all(lower[missing] <= median[missing] + tol[missing])
    assert np.all(median[missing] <= upper[missing] + tol[missing])


@SETTINGS
@given(frame=frames())
def test_saved_and_loaded_model_gives_identical_outputs(model: tuple[Any, Any], frame) -> None:
    imputer, loaded = model
    pd.testing.assert_frame_equal(_quiet(loaded.transform, frame), _quiet(imputer.transform, frame))


@pytest.fixture(scope="module")
def detector(smd_slices: tuple[pd.DataFrame, pd.DataFrame], request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("fitted_detector")


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_detector_scores_are_finite_where_input_is_observed(detector: Any, data) -> None:
    columns = [str(c) for c in detector.feature_names_in_]
    frame = data.draw(frames(columns))
    scores = np.asarray(_quiet(detector.decision_function, frame), dtype=np.float64)
    assert scores.shape == (len(frame),)
    observed_rows = frame.notna().all(axis=1).to_numpy()
    assert np.all(np.isfinite(scores[observed_rows]))
