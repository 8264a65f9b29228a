"""Bad and awkward inputs, one table row each: nothing silently wrong, nothing lost (issue 16).

Every row of :data:`CASES` is a :class:`Case`: an id, a builder for the input, the call to make
and what must come of it: an error of a given type whose message holds given words, a warning,
or a result that passes a check. To cover a new bad input, add a row (reuse a builder or a
``call`` below, or write a two-line lambda). Rows that need a fix in the estimator layer
(``tsdiff/api``) carry ``xfail="api: ..."``: they are strict xfails, so they start failing, to
be flipped, as soon as the estimators are fixed.

Estimators are built only with parameters that every API version has (the tiny settings of
``tests/conftest.py``); the few fitted models are cached per module.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tsdiff.data import NaNStandardScaler, parse_input
from tsdiff.data.files import DataFileError, split_table
from tsdiff.data.frames import check_column_identity, column_identity, require_observed

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = str(ROOT / "configs" / "tiny.yaml")


@dataclass
class Context:
    """What a case's call may use: tiny parameters, a temporary folder, cached fitted models."""

    params: dict[str, Any]
    tmp_path: Path
    request: pytest.FixtureRequest
    models: dict[str, Any] = field(default_factory=dict)

    def imputer(self, key: str, frame: pd.DataFrame) -> Any:
        """A tiny imputer fitted on ``frame``, fitted once per module under ``key``."""
        if key not in self.models:
            from tsdiff import TSDiffImputer

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.models[key] = TSDiffImputer(**self.params).fit(frame)
        return self.models[key]


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    id : str
        Short name (the test id); prefix ``data-``, ``file-``, ``cli-``, ``est-``, ``persist-``.
    build : callable
        ``() -> input``.
    call : callable
        ``(input, context) -> result``.
    raises : exception type, optional
        The error expected, whose message must contain every one of ``words``.
    warns : warning type, optional
        A warning expected (message containing ``words`` when ``raises`` is None).
    check : callable, optional
        ``(result) -> None``, asserting on the result.
    xfail : str, optional
        ``"api: ..."``: the estimator layer must still be fixed for this row.
    """

    id: str
    build: Callable[[], Any]
    call: Callable[[Any, Context], Any]
    raises: type[BaseException] | None = None
    words: tuple[str, ...] = ()
    warns: type[Warning] | None = None
    check: Callable[[Any], None] | None = None
    xfail: str | None = None


# -- builders ---------------------------------------------------------------------------------
def sines(n: int = 96, k: int = 3, *, columns: Any = None, gaps: float = 0.15) -> pd.DataFrame:
    """``k`` noisy sines with random gaps, labelled by ``columns`` (default 0..k-1)."""
    rng = np.random.default_rng(0)
    t = np.arange(n)[:, None]
    values = np.sin(t / 5 + np.arange(k)) + 0.05 * rng.standard_normal((n, k))
    frame = pd.DataFrame(values, columns=columns if columns is not None else range(k))
    return frame.mask(rng.random(frame.shape) < gaps)


def tuple_labelled() -> pd.DataFrame:
    return sines(columns=pd.MultiIndex.from_tuples([("s", 1), ("s", 2), ("t", 1)]))


def nullable() -> pd.DataFrame:
    frame = sines(k=3, columns=["i", "f", "b"])
    return pd.DataFrame(
        {
            "i": (frame["i"] * 10).round().astype("Int64"),
            "f": frame["f"].astype("Float64"),
            "b": (frame["b"] > 0).astype("boolean").mask(frame["b"].isna()),
        }
    )


def scaled(magnitude: float) -> Callable[[], pd.DataFrame]:
    return lambda: sines(columns=["a", "b", "c"]) * magnitude + 2 * magnitude


def csv(text: str) -> Callable[[], str]:
    return lambda: text


# -- calls ------------------------------------------------------------------------------------
def parse(x: Any, ctx: Context) -> Any:
    return parse_input(x)


def fit_scaler(x: pd.DataFrame, ctx: Context) -> NaNStandardScaler:
    return NaNStandardScaler().fit([x.to_numpy(dtype=float)], [str(c) for c in x.columns])


def split(x: pd.DataFrame, ctx: Context) -> Any:
    return split_table(x, source="data.csv")


def fit_then_transform(transform_input: Callable[[pd.DataFrame], Any]) -> Callable[..., Any]:
    """Fit (cached by the frame's builder) on ``x``, then transform ``transform_input(x)``."""

    def call(x: pd.DataFrame, ctx: Context) -> Any:
        model = ctx.imputer(repr(list(x.columns)) + str(x.dtypes.tolist()), x)
        return model.transform(transform_input(x)), x

    return call


def fit_new(x: pd.DataFrame, ctx: Context) -> Any:
    from tsdiff import TSDiffImputer

    return TSDiffImputer(**ctx.params).fit(x)


def fit_and_impute(x: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    model = fit_new(x, ctx)
    return model.transform(x), x, model.predict_interval(x)


def persisted_then(transform_input: Callable[[pd.DataFrame], Any]) -> Callable[..., Any]:
    def call(x: pd.DataFrame, ctx: Context) -> Any:
        model = ctx.imputer(repr(list(x.columns)) + str(x.dtypes.tolist()), x)
        model.save(ctx.tmp_path / "model")
        loaded = type(model).load(ctx.tmp_path / "model")
        return loaded.transform(transform_input(x)), x

    return call


def cli(*argv: str) -> Callable[[str, Context], tuple[int, str]]:
    """Run ``tsdiff`` with ``argv`` (``{data}`` is the written CSV); returns (code, stderr)."""

    def call(text: str, ctx: Context) -> tuple[int, str]:
        from tsdiff.cli import main

        data = ctx.tmp_path / "data.csv"
        data.write_text(text)
        args = [a.format(data=data, tmp=ctx.tmp_path, config=TINY_CONFIG) for a in argv]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(args)
        return code, err.getvalue()

    return call


# -- checks -----------------------------------------------------------------------------------
def cli_refuses(*words: str) -> Callable[[tuple[int, str]], None]:
    def check(result: tuple[int, str]) -> None:
        code, err = result
        assert code == 2, f"exit {code}, stderr: {err}"
        for word in words:
            assert word in err, f"{word!r} not in {err!r}"

    return check


def imputed_within_observed_range(result: tuple[pd.DataFrame, pd.DataFrame, Any]) -> None:
    """Imputed cells lie within the observed range widened by its width, intervals are no wider
    than a few times that range; observed cells unchanged."""
    out, original, (lower, upper) = result
    widths = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
    ranges = np.nanmax(original.to_numpy(float), axis=0) - np.nanmin(original.to_numpy(float), 0)
    assert np.all(np.isfinite(widths)) and np.all(widths >= 0)
    assert np.all(widths <= 5 * ranges), (widths.max(axis=0), ranges)
    observed = original.notna().to_numpy()
    values = out.to_numpy(dtype=float)
    assert not np.isnan(values).any()
    np.testing.assert_array_equal(values[observed], original.to_numpy(dtype=float)[observed])
    for j, column in enumerate(original.columns):
        seen = original[column].dropna().to_numpy(dtype=float)
        low, high = seen.min(), seen.max()
        width = high - low
        imputed = values[~observed[:, j], j]
        assert np.all((imputed >= low - width) & (imputed <= high + width)), column
        assert len(np.unique(imputed)) > 1 or imputed.size <= 1, f"{column}: one constant value"


def keeps_nullable_as_float64(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    out, original = result
    assert out.dtypes.astype(str).tolist() == ["Float64"] * 3
    assert out.notna().all().all()
    observed = original.notna()
    for column in original.columns:
        kept = original[column][observed[column]].astype("Float64")
        pd.testing.assert_series_equal(out[column][observed[column]], kept)


def scale_is(expected: float) -> Callable[[NaNStandardScaler], None]:
    def check(scaler: NaNStandardScaler) -> None:
        assert np.all(np.isfinite(scaler.scale_)) and np.all(np.isfinite(scaler.mean_))
        np.testing.assert_allclose(scaler.scale_, expected, rtol=0.5)

    return check


SORTED_EPOCHS = "time,a,b\n" + "".join(
    f"{1_700_000_000 + 60 * i},{np.sin(i / 4):.3f},{'' if i % 7 == 3 else np.cos(i / 4):}\n"
    for i in range(64)
)
UNSORTED_EPOCHS = "time,a\n1700000120,1.0\n1700000000,2.0\n1700000060,3.0\n"
BAD_CELL = "time,a,b\n0,1.0,2.0\n1,1.5,oops\n2,2.0,3.0\n3,,4.0\n"


CASES: list[Case] = [
    # -- data layer: parse_input ----------------------------------------------------------
    Case("data-series", lambda: pd.Series([1.0, 2.0]), parse, ValueError, ("to_frame",)),
    Case(
        "data-infinite",
        lambda: pd.DataFrame({"a": [1.0, np.inf]}),
        parse,
        ValueError,
        ("column 'a'", "infinite", "row 1"),
    ),
    Case(
        "data-unsorted-numeric-index",
        lambda: pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[20, 10, 30]),
        parse,
        warns=UserWarning,
        words=("not strictly increasing", "sort_index"),
    ),
    Case(
        "data-date-string-index",
        lambda: pd.DataFrame({"a": [1.0, 2.0]}, index=pd.Index(["2024-01-01", "2024-01-03"])),
        parse,
        warns=UserWarning,
        words=("date strings", "parse_dates"),
    ),
    Case(
        "data-numeric-index-with-nan",
        lambda: pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[1.0, np.nan, 3.0]),
        parse,
        warns=UserWarning,
        words=("row 1: 1.0 then nan",),
    ),
    Case(
        "data-reordered-int-columns",
        lambda: pd.DataFrame(np.ones((2, 3))),
        lambda x, ctx: check_column_identity(column_identity(x.columns), x[[2, 1, 0]].columns),
        ValueError,
        ("another order", "position 0 holds 2 where fit had 0"),
    ),
    Case(
        "data-all-missing",
        lambda: pd.DataFrame({"a": [np.nan, np.nan]}),
        lambda x, ctx: require_observed(parse_input(x)),
        ValueError,
        ("every one of the 2 cells is missing",),
    ),
    # -- data layer: scaling ----------------------------------------------------------------
    Case("data-scale-1e-13", scaled(1e-13), fit_scaler, check=scale_is(0.7e-13)),
    Case("data-scale-1e-30", scaled(1e-30), fit_scaler, check=scale_is(0.7e-30)),
    Case("data-scale-1e200", scaled(1e200), fit_scaler, check=scale_is(0.7e200)),
    Case(
        "data-all-nan-column",
        lambda: pd.DataFrame({"a": [1.0, 2.0], "dead": [np.nan, np.nan]}),
        fit_scaler,
        ValueError,
        ("['dead']", "no observed value"),
    ),
    # -- files ------------------------------------------------------------------------------
    Case(
        "file-unsorted-epoch-seconds",
        lambda: pd.DataFrame({"time": [1_700_000_060, 1_700_000_000], "a": [1.0, 2.0]}),
        split,
        DataFileError,
        ("data.csv", "'time' goes back in time at row 1", "sort the file by 'time'"),
    ),
    Case(
        "file-duplicate-time",
        lambda: pd.DataFrame({"time": [5, 6, 6], "a": [1.0, 2.0, 3.0]}),
        split,
        DataFileError,
        ("repeats at row 2",),
    ),
    Case(
        "file-one-bad-cell",
        lambda: pd.DataFrame({"a": ["1", "2", "x"], "b": [1.0, 2.0, 3.0]}),
        split,
        DataFileError,
        ("column 'a'", "'x' at row 2", "--columns"),
    ),
    Case(
        "file-text-column-ignored-visibly",
        lambda: pd.DataFrame({"a": [1.0, 2.0], "site": ["x", "y"]}),
        split,
        warns=UserWarning,
        words=("['site']", "not modelled"),
    ),
    # -- command line -----------------------------------------------------------------------
    Case(
        "cli-fit-unsorted-epoch-seconds",
        csv(UNSORTED_EPOCHS),
        cli("fit", "-c", "{config}", "-d", "{data}", "-o", "{tmp}/m", "-q"),
        check=cli_refuses("goes back in time at row 1", "sort the file"),
    ),
    Case(
        "cli-fit-one-bad-cell",
        csv(BAD_CELL),
        cli("fit", "-c", "{config}", "-d", "{data}", "-o", "{tmp}/m", "-q"),
        check=cli_refuses("column 'b'", "'oops' at row 1"),
    ),
    Case(
        "cli-impute-one-bad-cell",
        csv(SORTED_EPOCHS),
        lambda text, ctx: (
            cli("fit", "-c", "{config}", "-d", "{data}", "-o", "{tmp}/m", "-q")(text, ctx),
            cli("impute", "-m", "{tmp}/m", "-d", "{data}", "-o", "{tmp}/o.csv", "-q")(
                text.replace("\n1700000060,", "\n1700000060,bad", 1), ctx
            ),
        )[1],
        check=cli_refuses("column 'a'", "'bad", "at row 1"),
    ),
    # -- estimators -------------------------------------------------------------------------
    Case(
        "est-int-columns-reordered",
        sines,
        fit_then_transform(lambda x: x[[1, 0, 2]]),
        ValueError,
        ("another order", "position 0 holds 1 where fit had 0"),
    ),
    Case(
        "est-tuple-columns-reordered",
        tuple_labelled,
        fit_then_transform(lambda x: x[[("t", 1), ("s", 1), ("s", 2)]]),
        ValueError,
        ("another order", "('t', 1)"),
    ),
    Case(
        "est-header-none-then-text-labels",
        sines,
        fit_then_transform(lambda x: x.rename(columns=str)),
        ValueError,
        ("missing [0, 1, 2]", "unexpected ['0', '1', '2']", "not in type"),
    ),
    Case(
        "est-mixed-label-types",
        lambda: sines(columns=["a", 1, 2]),
        fit_new,
        TypeError,
        ("string names",),
    ),
    Case(
        "est-all-nan-column-at-fit",
        lambda: sines(columns=["a", "dead", "c"]).assign(dead=np.nan),
        fit_new,
        ValueError,
        ("['dead']", "no observed value"),
    ),
    Case(
        "est-nullable-dtypes",
        nullable,
        fit_then_transform(lambda x: x),
        check=keeps_nullable_as_float64,
    ),
    Case("est-magnitude-1e-13", scaled(1e-13), fit_and_impute, check=imputed_within_observed_range),
    Case("est-magnitude-1e-30", scaled(1e-30), fit_and_impute, check=imputed_within_observed_range),
    Case("est-magnitude-1e200", scaled(1e200), fit_and_impute, check=imputed_within_observed_range),
    Case(
        "est-all-nan-frame-at-transform",
        sines,
        fit_then_transform(lambda x: x * np.nan),
        ValueError,
        ("missing",),
    ),
    Case(
        "est-unsorted-numeric-index",
        lambda: sines().set_axis(np.arange(96)[::-1]),
        fit_new,
        warns=UserWarning,
        words=("not strictly increasing",),
    ),
    Case(
        "est-date-string-index",
        lambda: sines().set_axis([f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(96)]),
        fit_new,
        warns=UserWarning,
        words=("date strings", "parse_dates"),
    ),
    # -- persistence ------------------------------------------------------------------------
    Case(
        "persist-int-columns-reordered-after-load",
        sines,
        persisted_then(lambda x: x[[2, 0, 1]]),
        ValueError,
        ("another order",),
    ),
    Case(
        "persist-tuple-columns-round-trip",
        tuple_labelled,
        persisted_then(lambda x: x),
        check=lambda result: pd.testing.assert_index_equal(result[0].columns, result[1].columns),
    ),
]


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {}


@pytest.fixture
def ctx(tiny_params, tmp_path, request, models) -> Context:
    return Context(tiny_params, tmp_path, request, models)


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.xfail is None:
        return []
    assert case.xfail.startswith("api: "), case.id
    return [pytest.mark.xfail(strict=True, reason=case.xfail)]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES])
def test_bad_input(case: Case, ctx: Context) -> None:
    x = case.build()
    if case.raises is not None:
        with pytest.raises(case.raises) as info:
            case.call(x, ctx)
        for word in case.words:
            assert word in str(info.value), f"{word!r} not in: {info.value}"
        return
    if case.warns is not None:
        with pytest.warns(case.warns) as record:
            result = case.call(x, ctx)
        messages = " | ".join(str(w.message) for w in record)
        for word in case.words:
            assert word in messages, f"{word!r} not in: {messages}"
    else:
        result = case.call(x, ctx)
    if case.check is not None:
        case.check(result)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_time_stamps_and_positions_read_alike_whatever_the_fit_saw() -> None:
    from conftest import TINY

    from tsdiff import TSDiffImputer

    rng = np.random.default_rng(0)
    timed = pd.DataFrame(
        rng.standard_normal((120, 2)),
        index=pd.date_range("2024-01-01", periods=120, freq="min"),
        columns=["a", "b"],
    )
    timed.iloc[[5, 40, 41, 90], 0] = np.nan
    positions = timed.reset_index(drop=True)
    # fitted on positions: evenly spaced time stamps are read in their own step (before, the
    # raw stamps went to the time embedding unscaled and the imputations changed)
    by_position = TSDiffImputer(**TINY).fit(positions)
    np.testing.assert_allclose(by_position.transform(timed), by_position.transform(positions))
    # fitted on time stamps: a plain index is read as consecutive base steps
    by_time = TSDiffImputer(**TINY).fit(timed)
    np.testing.assert_allclose(by_time.transform(positions), by_time.transform(timed))
