"""TSDiffImputer: round trips, structures, reproducibility and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY

from tsdiff import TSDiffImputer


@pytest.fixture(scope="module")
def fitted(request: pytest.FixtureRequest) -> tuple[TSDiffImputer, pd.DataFrame]:
    rng = np.random.default_rng(0)
    t = np.arange(240)
    values = np.stack([np.sin(t / 6 + i) for i in range(4)], axis=1) + 0.05 * rng.standard_normal(
        (240, 4)
    )
    frame = pd.DataFrame(
        values, index=pd.date_range("2024-01-01", periods=240, freq="h"), columns=list("abcd")
    )
    frame = frame.mask(rng.random(frame.shape) < 0.2)
    return TSDiffImputer(**TINY).fit(frame), frame


def test_dataframe_round_trip(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    frame = frame.astype({"b": np.float32})
    out = imputer.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(frame.index) and out.columns.equals(frame.columns)
    assert list(out.dtypes) == list(frame.dtypes)
    assert not out.isna().any().any()
    observed = frame.notna().to_numpy()
    # Observed cells are returned bit for bit.
    assert np.array_equal(out.to_numpy()[observed], frame.to_numpy()[observed])
    assert frame.isna().any().any()  # the input was not modified


def test_integer_columns_and_plain_index(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    plain = frame.reset_index(drop=True)
    plain["a"] = np.arange(len(plain))  # an int column without gaps stays int
    out = imputer.transform(plain)
    assert out["a"].dtype == np.int64 and out.index.equals(plain.index)
    assert not out.isna().any().any()


def test_structures_are_preserved(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    parts = [frame.iloc[:100], frame.iloc[100:110], frame.iloc[110:]]  # one shorter than a window
    out = imputer.transform(parts)
    assert isinstance(out, list) and [len(p) for p in out] == [100, 10, 130]
    assert all(
        o.index.equals(p.index) and not o.isna().any().any()
        for o, p in zip(out, parts, strict=True)
    )

    stacked = pd.concat({"m1": parts[0], "m2": parts[2]}, names=["machine", "time"])
    out_multi = imputer.transform(stacked)
    assert out_multi.index.equals(stacked.index) and not out_multi.isna().any().any()

    cube = np.stack([frame.to_numpy()[:120], frame.to_numpy()[120:]])
    out_cube = imputer.transform(cube)
    assert out_cube.shape == cube.shape and not np.isnan(out_cube).any()
    observed = ~np.isnan(cube)
    assert np.array_equal(out_cube[observed], cube[observed])
    samples = imputer.sample(cube, n_samples=3)
    assert samples.shape == (3, 2, 120, 4)


def test_sample_and_interval(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    samples = imputer.sample(frame, n_samples=6)
    assert samples.shape == (6, *frame.shape)
    missing = frame.isna().to_numpy()
    assert np.all(samples[:, ~missing] == frame.to_numpy()[~missing])
    assert samples[:, missing].std(axis=0).mean() > 0  # samples differ at gaps
    lower, upper = imputer.predict_interval(frame, coverage=0.8)
    assert lower.index.equals(frame.index) and list(lower.columns) == list(frame.columns)
    assert np.all(lower.to_numpy() <= upper.to_numpy())
    np.testing.assert_array_equal(lower.to_numpy()[~missing], frame.to_numpy()[~missing])
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\)"):
        imputer.predict_interval(frame, coverage=1.5)


def test_seeded_fit_and_transform_are_reproducible(sine_frame: pd.DataFrame) -> None:
    a = TSDiffImputer(**TINY).fit(sine_frame)
    b = TSDiffImputer(**TINY).fit(sine_frame)
    for (name, pa), (_, pb) in zip(
        a.model_.state_dict().items(), b.model_.state_dict().items(), strict=True
    ):
        assert torch.equal(pa, pb), name
    pd.testing.assert_frame_equal(a.transform(sine_frame), b.transform(sine_frame))
    c = TSDiffImputer(**{**TINY, "random_state": 1}).fit(sine_frame)
    assert not torch.equal(a.model_.output_hidden.weight, c.model_.output_hidden.weight)


def test_columns_must_match_fit(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    with pytest.raises(ValueError, match="feature names"):
        imputer.transform(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="X has 3 features, but TSDiffImputer is expecting 4"):
        imputer.transform(frame.to_numpy()[:, :3])
    with pytest.raises(ValueError, match=r"missing \['a'\], unexpected \['z'\]"):
        imputer.transform([frame.rename(columns={"a": "z"})])


def test_parameter_errors_name_the_parameter(sine_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'sampler' parameter"):
        TSDiffImputer(**{**TINY, "sampler": "euler"}).fit(sine_frame)
    with pytest.raises(ValueError, match=r"channels \(16\) must be divisible by n_heads \(3\)"):
        TSDiffImputer(**{**TINY, "n_heads": 3}).fit(sine_frame)
    with pytest.raises(ValueError, match=r"sampling_steps \(60\) cannot exceed diffusion_steps"):
        TSDiffImputer(**{**TINY, "sampling_steps": 60}).fit(sine_frame)


def test_set_output_pandas_for_arrays(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    out = imputer.set_output(transform="pandas").transform(frame.to_numpy())
    imputer.set_output(transform="default")
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b", "c", "d"]
    assert not out.isna().any().any()


def test_validation_data_and_history(sine_frame: pd.DataFrame) -> None:
    imputer = TSDiffImputer(**{**TINY, "max_epochs": 3}).fit(
        sine_frame.iloc[:180], validation_data=sine_frame.iloc[180:]
    )
    assert imputer.n_val_windows_ > 0 and len(imputer.history_) == 3
    assert all("val_loss" in row and "train_loss" in row for row in imputer.history_)
    assert imputer.best_val_loss_ == pytest.approx(min(row["val_loss"] for row in imputer.history_))
