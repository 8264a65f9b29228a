"""TSDiffImputer: round trips, structures, reproducibility and errors."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pickle
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY
from sklearn.base import clone

from tsdiff import ModelConfig, TSDiffImputer


@pytest.fixture(scope="module")
def fitted(sine_frame: pd.DataFrame) -> tuple[TSDiffImputer, pd.DataFrame]:
    return TSDiffImputer(**TINY).fit(sine_frame), sine_frame


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


def global_numpy_state() -> tuple:
    """``np.random``'s legacy global state."""
    return np.random.get_state()  # noqa: NPY002


def assert_same_numpy_state(after: tuple, before: tuple) -> None:
    assert after[0] == before[0] and np.array_equal(after[1], before[1])
    assert after[2:] == before[2:]


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any training attempt fail loudly (parameter errors must come first)."""
    import tsdiff.training.fit as fit

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("bad parameters must fail before training")

    monkeypatch.setattr(fit, "train_denoiser", refuse)


def test_parameter_errors_name_the_parameter(
    sine_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match="'sampler' parameter"):
        TSDiffImputer(**{**TINY, "sampler": "euler"}).fit(sine_frame)
    with pytest.raises(ValueError, match=r"channels \(16\) must be divisible by n_heads \(3\)"):
        TSDiffImputer(**{**TINY, "model": {**TINY["model"], "n_heads": 3}}).fit(sine_frame)
    with pytest.raises(
        ValueError, match=r"sampling_steps \(60\) cannot exceed the model's diffusion_steps \(50\)"
    ):
        TSDiffImputer(**{**TINY, "sampling_steps": 60}).fit(sine_frame)
    with pytest.raises(ValueError, match=r"sampling_steps \(6\) cannot exceed .*\(5\)"):
        TSDiffImputer(
            **{**TINY, "sampling_steps": 6, "model": {**TINY["model"], "diffusion_steps": 5}}
        ).fit(sine_frame)
    # parameters that moved into ModelConfig / trainer_kwargs are no longer constructor arguments
    for moved in ("channels", "accelerator", "precision", "eta", "tracking"):
        with pytest.raises(TypeError, match=moved):
            TSDiffImputer(**{moved: 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"channels": 0}, r"ModelConfig\.channels must be a positive integer"),
        ({"n_layers": 1.5}, r"ModelConfig\.n_layers must be a positive integer"),
        ({"diffusion_embedding_dim": 7}, r"ModelConfig\.diffusion_embedding_dim must be even"),
        ({"time_embedding_dim": 9}, r"ModelConfig\.time_embedding_dim must be even"),
        ({"dropout": 1.0}, r"ModelConfig\.dropout must be in \[0, 1\)"),
        ({"condition_fill": "mean"}, r"ModelConfig\.condition_fill must be one of"),
        ({"schedule": "sigmoid"}, r"ModelConfig\.schedule must be one of"),
        ({"beta_end": 1.0}, r"ModelConfig\.beta_end must be in \(0, 1\)"),
        ({"beta_start": 0.6, "beta_end": 0.5}, r"ModelConfig\.beta_start \(0\.6\) must be below"),
        ({"eta": -0.5}, r"ModelConfig\.eta must be >= 0"),
        ({"prior_skip": 1}, r"ModelConfig\.prior_skip must be True or False"),
        ({"chanels": 16}, r"Unknown ModelConfig setting\(s\) \['chanels'\]"),
        ({"n_layer": 2, "heads": 2}, r"\['heads', 'n_layer'\]"),
    ],
)
def test_model_config_errors_name_the_field(
    sine_frame: pd.DataFrame, model: dict, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=match):
        TSDiffImputer(**{**TINY, "model": {**TINY["model"], **model}}).fit(sine_frame)
    if not match.startswith(("Unknown", r"\[")):
        # the same check when the config is built directly
        with pytest.raises(ValueError, match=match):
            ModelConfig(**model)


def test_model_config_dict_and_object_are_equivalent() -> None:
    config = ModelConfig.from_dict(TINY["model"])
    assert config.channels == 16 and config.n_layers == 1
    assert config.n_heads == 2 and config.diffusion_steps == ModelConfig().diffusion_steps
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    # a dict overrides the estimator's default network, not ModelConfig()'s
    imputer = TSDiffImputer(model={"channels": 32})
    assert imputer._model_config() == ModelConfig(channels=32)
    assert TSDiffImputer(model=config)._model_config() is config
    assert TSDiffImputer()._model_config() == ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.channels = 8  # type: ignore[misc]


def test_trainer_kwargs_unknown_key_is_named(
    sine_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"unsupported key\(s\) \['max_steps'\]"):
        TSDiffImputer(**{**TINY, "trainer_kwargs": {"accelerator": "cpu", "max_steps": 3}}).fit(
            sine_frame
        )
    with pytest.raises(ValueError, match="trainer_kwargs"):
        TSDiffImputer(**{**TINY, "trainer_kwargs": [("accelerator", "cpu")]}).fit(sine_frame)


def test_get_params_is_short_and_clone_round_trips() -> None:
    imputer = TSDiffImputer(**TINY)
    params = imputer.get_params()
    assert len(params) <= 24, sorted(params)
    assert {"model", "trainer_kwargs"} <= set(params)
    assert not {"channels", "accelerator", "precision", "tracking", "eta"} & set(params)
    copy = clone(imputer)
    assert copy.get_params() == params
    configured = clone(TSDiffImputer(model=ModelConfig(channels=8, n_heads=2)))
    assert configured.model == ModelConfig(channels=8, n_heads=2)


def test_fit_keeps_global_random_state_and_a_failed_refit_keeps_the_model(
    fitted: tuple[TSDiffImputer, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    imputer, frame = fitted
    copy = pickle.loads(pickle.dumps(imputer))
    before = copy.transform(frame)
    weights = {k: v.clone() for k, v in copy.model_.state_dict().items()}
    import tsdiff.training.fit as fit

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("training exploded")

    monkeypatch.setattr(fit, "train_denoiser", broken)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what is checked
    state = global_numpy_state()
    with pytest.raises(RuntimeError, match="training exploded"):
        copy.fit(frame.iloc[:120])
    assert_same_numpy_state(global_numpy_state(), state)
    # the previous fit is intact: same weights, same scaler, same outputs
    assert all(torch.equal(v, copy.model_.state_dict()[k]) for k, v in weights.items())
    np.testing.assert_array_equal(copy.scaler_.mean_, imputer.scaler_.mean_)
    pd.testing.assert_frame_equal(copy.transform(frame), before)


def test_fit_does_not_touch_the_global_random_state(sine_frame: pd.DataFrame) -> None:
    np.random.seed(7)  # noqa: NPY002
    state = global_numpy_state()
    python_state = random.getstate()
    torch_state = torch.random.get_rng_state()
    small = {**TINY, "max_epochs": 1, "random_state": 3, "calibration_windows": 0}
    TSDiffImputer(**small).fit(sine_frame.iloc[:96])
    assert_same_numpy_state(global_numpy_state(), state)
    assert random.getstate() == python_state
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_bad_settings_after_fit_are_named_at_transform(
    fitted: tuple[TSDiffImputer, pd.DataFrame],
) -> None:
    imputer, frame = fitted
    copy = pickle.loads(pickle.dumps(imputer))
    copy.set_params(n_samples=0)
    with pytest.raises(ValueError, match="n_samples"):
        copy.transform(frame)
    with pytest.raises(ValueError, match="n_samples"):
        copy.predict_interval(frame)
    copy.set_params(n_samples=1)
    with pytest.warns(UserWarning, match="n_samples=1 gives intervals of zero width"):
        lower, upper = copy.predict_interval(frame)
    np.testing.assert_array_equal(lower.to_numpy(), upper.to_numpy())
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        imputer.sample(frame, n_samples=0)


def test_all_missing_input_is_refused(fitted: tuple[TSDiffImputer, pd.DataFrame]) -> None:
    imputer, frame = fitted
    empty = frame.iloc[:40] * np.nan
    with pytest.raises(ValueError, match="cells is missing"):
        imputer.transform(empty)
    with pytest.raises(ValueError, match="Series 1 of X has no observed value"):
        imputer.transform([frame.iloc[:40], empty])


def test_columns_in_another_order_are_refused_for_every_label_type(
    fitted: tuple[TSDiffImputer, pd.DataFrame],
) -> None:
    _, frame = fitted
    small = dict(TINY, max_epochs=1, calibration_windows=0)
    numbered = frame.iloc[:96].set_axis([0, 1, 2, 3], axis=1)
    imputer = TSDiffImputer(**small).fit(numbered)
    assert not hasattr(imputer, "feature_names_in_")
    assert imputer.transform(numbered).notna().all().all()
    with pytest.raises(ValueError, match="another order"):
        imputer.transform(numbered[[1, 0, 2, 3]])
    with pytest.raises(ValueError, match=r"missing \[3\], unexpected \[4\]"):
        imputer.transform(numbered.set_axis([0, 1, 2, 4], axis=1))
    # "0" is not 0: labels keep their type
    with pytest.raises(ValueError, match="missing"):
        imputer.transform(numbered.set_axis(["0", "1", "2", "3"], axis=1))
    pairs = pd.MultiIndex.from_tuples([("s", 1), ("s", 2), ("t", 1), ("t", 2)])
    imputer.set_params(max_epochs=1)
    tupled = frame.iloc[:96].set_axis(pairs, axis=1)
    imputer.fit(tupled)
    assert imputer.transform(tupled).notna().all().all()
    with pytest.raises(ValueError, match="another order"):
        imputer.transform(tupled[[("t", 1), ("s", 1), ("s", 2), ("t", 2)]])
    with pytest.raises(ValueError, match="another order"):
        imputer.transform([tupled.iloc[:40][[("s", 2), ("s", 1), ("t", 1), ("t", 2)]]])


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


def test_memory_guard_refuses_before_sampling(
    fitted: tuple[TSDiffImputer, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tsdiff.api._memory as memory
    import tsdiff.inference as inference
    from tsdiff.api._memory import InsufficientMemoryError

    imputer, frame = fitted
    calls: list[int] = []
    monkeypatch.setattr(inference, "sample_windows", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**20)  # 1 MiB left
    with pytest.raises(InsufficientMemoryError, match=r"GiB.*lower n_samples"):
        imputer.sample(frame, n_samples=500)
    assert not calls  # refused before any sampling
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**40)
    with contextlib.suppress(Exception):  # the stubbed sampler returns nothing usable
        imputer.sample(frame, n_samples=500)  # enough memory: the guard lets it sample
    assert calls


def test_all_missing_validation_data_is_refused(sine_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="validation_data has no observed value"):
        TSDiffImputer(**{**TINY, "max_epochs": 1}).fit(
            sine_frame, validation_data=sine_frame.iloc[:60] * np.nan
        )
