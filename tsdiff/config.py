"""Typed, validated run configurations loaded from YAML (``configs/*.yaml``).

A configuration file has up to six top-level keys::

    name: tiny                      # optional
    description: "..."              # optional
    model:                          # the estimator: kind + its parameters
      kind: imputer                 # imputer (TSDiffImputer) or detector (TSDiffAnomalyDetector)
      window_length: 24
      channels: 16
      ...
    data:                           # how files are read (see DataConfig)
      time_column: time
      series_column: null
      label_column: label
      columns: null
    tracking:                       # MLflow (see TrackingConfig)
      enabled: false
      uri: null
      experiment_name: tsdiff
      registered_model_name: null
    evaluate:                       # tsdiff evaluate defaults (see EvaluateConfig)
      fraction: 0.1
      seed: 0
      coverage: 0.9
      n_samples: null

Every section and key is optional; an unknown key, a key given twice, or a value of the wrong type
raises :class:`ConfigError` naming the key and the file. Model parameters are checked against
the estimator's own parameter constraints (the same checks as ``fit``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

MODEL_KINDS: dict[str, tuple[str, str]] = {
    "imputer": ("tsdiff.api.imputer", "TSDiffImputer"),
    "detector": ("tsdiff.api.detector", "TSDiffAnomalyDetector"),
}
TRACKING_PARAMS = ("tracking", "tracking_uri", "experiment_name", "registered_model_name")
PRESET_DIRECTORY = Path(__file__).resolve().parents[1] / "configs"


class ConfigError(ValueError):
    """An invalid configuration; the message names the file and the key.

    Attributes
    ----------
    source : str
        The file (or ``"<dict>"``).
    key : str or None
        Dotted key at fault (``"model.window_length"``).
    """

    def __init__(self, message: str, *, source: str = "<dict>", key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = f"{source}: " + (f"{key}: " if key else "")
        super().__init__(where + message)


class DetectorUnavailableError(ConfigError):
    """``kind: detector`` was asked for, but ``tsdiff.api.detector`` cannot be imported."""


@dataclass
class ModelConfig:
    """The estimator to build.

    Attributes
    ----------
    kind : {"imputer", "detector"}
        :class:`~tsdiff.TSDiffImputer` or :class:`~tsdiff.TSDiffAnomalyDetector`.
    params : dict
        Estimator parameters (validated against the estimator's constraints).
    validated : bool
        False when the estimator class could not be imported (detector not installed): the
        parameters common to all tsdiff estimators were checked, the others not yet.
    """

    kind: str = "imputer"
    params: dict[str, Any] = field(default_factory=dict)
    validated: bool = True

    def estimator_class(self) -> type:
        """Import and return the estimator class (lazily).

        Raises
        ------
        DetectorUnavailableError
            For ``kind: detector`` when ``tsdiff.api.detector`` is not available.
        """
        return estimator_class(self.kind)

    def build(self, **overrides: Any) -> Any:
        """An unfitted estimator with ``params`` updated by ``overrides``."""
        cls = self.estimator_class()
        params = {**self.params, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**params)


@dataclass
class DataConfig:
    """How data files are read and written.

    Attributes
    ----------
    time_column : str or None
        Column holding time stamps (parsed as datetimes unless integer); becomes the index.
        None: ``time`` when such a column exists, else positions.
    series_column : str or None
        Column with a series id for files holding several series (gives a ``(series, time)``
        MultiIndex).
    label_column : str or None
        Column with 0/1 anomaly labels (excluded from the features; used by ``evaluate`` for
        detectors).
    columns : list of str or None
        Feature columns (default: every other numeric column).
    time_format : str or None
        ``strftime`` format of the time column (default: inferred).
    """

    time_column: str | None = None
    series_column: str | None = None
    label_column: str | None = "label"
    columns: list[str] | None = None
    time_format: str | None = None


@dataclass
class TrackingConfig:
    """MLflow tracking of ``fit`` (maps to the estimator's tracking parameters).

    Attributes
    ----------
    enabled : bool
        Record fits in MLflow.
    uri : str or None
        Tracking URI (default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    experiment_name : str
    registered_model_name : str or None
    """

    enabled: bool = False
    uri: str | None = None
    experiment_name: str = "tsdiff"
    registered_model_name: str | None = None

    def estimator_params(self) -> dict[str, Any]:
        """The estimator parameters these settings stand for."""
        return {
            "tracking": self.enabled,
            "tracking_uri": self.uri,
            "experiment_name": self.experiment_name,
            "registered_model_name": self.registered_model_name,
        }


@dataclass
class EvaluateConfig:
    """Defaults of ``tsdiff evaluate`` for imputers.

    Attributes
    ----------
    fraction : float
        Fraction of the observed cells hidden and scored, in (0, 1).
    seed : int
        Seed of the hidden cells.
    coverage : float
        Level of the reported interval coverage, in (0, 1).
    n_samples : int or None
        Samples drawn (default: the model's ``n_samples``).
    """

    fraction: float = 0.1
    seed: int = 0
    coverage: float = 0.9
    n_samples: int | None = None


@dataclass
class RunConfig:
    """A whole configuration file.

    Attributes
    ----------
    model : ModelConfig
    data : DataConfig
    tracking : TrackingConfig
    evaluate : EvaluateConfig
    name : str or None
    description : str or None
    source : str
        The file it was read from (``"<dict>"`` otherwise).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    name: str | None = None
    description: str | None = None
    source: str = "<dict>"

    def build_estimator(self, **overrides: Any) -> Any:
        """The configured, unfitted estimator (tracking settings included)."""
        return self.model.build(**{**self.tracking.estimator_params(), **overrides})


# -- type checking of plain sections ---------------------------------------------------------
def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(
            "null" if a is type(None) else _type_name(a) for a in typing.get_args(annotation)
        )
    if origin is list:
        (inner,) = typing.get_args(annotation)
        plural = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
        return f"a list of {plural.get(inner, str(inner))}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false"}.get(
        annotation, str(annotation)
    )


def _matches(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (inner,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_matches(v, inner) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return isinstance(value, annotation)


def _unknown_key(key: str, allowed: list[str], section: str, source: str) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = f"section {section!r}" if section else "the top level"
    return ConfigError(
        f"unknown key {key!r} in {where}{hint}; allowed keys: {', '.join(sorted(allowed))}.",
        source=source,
        key=f"{section}.{key}" if section else key,
    )


def _section(cls: type, raw: Any, section: str, source: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(
            f"must be a mapping of keys to values, got {type(raw).__name__}.",
            source=source,
            key=section,
        )
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        key = str(key)
        if key not in names:
            raise _unknown_key(key, names, section, source)
        annotation = hints[key]
        if not _matches(value, annotation):
            raise ConfigError(
                f"must be {_type_name(annotation)}, got {type(value).__name__} ({value!r}).",
                source=source,
                key=f"{section}.{key}",
            )
        if annotation is float or (
            typing.get_origin(annotation) in (Union, types.UnionType)
            and float in typing.get_args(annotation)
        ):
            value = float(value) if isinstance(value, int) else value
        values[key] = value
    return cls(**values)


# -- model section -------------------------------------------------------------------------------
def estimator_class(kind: str) -> type:
    """The estimator class of a model ``kind`` (``"imputer"`` or ``"detector"``), imported lazily.

    Raises
    ------
    DetectorUnavailableError
        When the detector module is not available in this installation.
    ValueError
        For an unknown kind.
    """
    import importlib

    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; choose one of {sorted(MODEL_KINDS)}.")
    module_name, class_name = MODEL_KINDS[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise DetectorUnavailableError(
            f"model kind {kind!r} needs {module_name}, which is not available in this tsdiff "
            f"installation ({err}). Use kind: imputer, or install a tsdiff version with the "
            "anomaly detector.",
            source="tsdiff",
            key="model.kind",
        ) from err
    cls: type = getattr(module, class_name)
    return cls


def _check_model_params(cls: type | None, params: dict[str, Any], source: str) -> None:
    import inspect

    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    from tsdiff.api._base import DIFFUSION_PARAMETER_CONSTRAINTS

    if cls is not None:
        signature = inspect.signature(cls.__init__)  # type: ignore[misc]
        allowed = [n for n in signature.parameters if n != "self"]
        defaults = {n: p.default for n, p in signature.parameters.items()}
        constraints: dict[str, Any] = dict(getattr(cls, "_parameter_constraints", {}))
    else:
        allowed = list(DIFFUSION_PARAMETER_CONSTRAINTS)
        defaults = {}
        constraints = dict(DIFFUSION_PARAMETER_CONSTRAINTS)
    allowed_model = [n for n in allowed if n not in TRACKING_PARAMS]
    for key, value in params.items():
        if key in TRACKING_PARAMS:
            raise ConfigError(
                f"{key!r} belongs in the 'tracking' section (enabled, uri, experiment_name, "
                "registered_model_name), not in 'model'.",
                source=source,
                key=f"model.{key}",
            )
        if key not in allowed:
            if cls is None:
                continue  # checked when the estimator class is available
            raise _unknown_key(key, ["kind", *allowed_model], "model", source)
        rules = constraints.get(key)
        if (
            isinstance(value, bool)
            and rules is not None
            and "boolean" not in rules
            and not isinstance(defaults.get(key), bool)
        ):
            raise ConfigError(
                f"must not be true/false, got {value!r}.", source=source, key=f"model.{key}"
            )
        if rules is None:
            continue
        try:
            validate_parameter_constraints(
                {key: rules}, {key: value}, caller_name=getattr(cls, "__name__", "estimator")
            )
        except InvalidParameterError as err:
            message = re.sub(r"^The '\w+' parameter of \w+ ", "", str(err))
            raise ConfigError(message, source=source, key=f"model.{key}") from err


def _model_section(raw: Any, source: str) -> ModelConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"must be a mapping, got {type(raw).__name__}.", source=source, key="model"
        )
    params = {str(k): v for k, v in raw.items()}
    kind = params.pop("kind", "imputer")
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ConfigError(
            f"must be one of {sorted(MODEL_KINDS)}, got {kind!r}.", source=source, key="model.kind"
        )
    try:
        cls: type | None = estimator_class(kind)
    except DetectorUnavailableError:
        cls = None
    _check_model_params(cls, params, source)
    return ModelConfig(kind=kind, params=params, validated=cls is not None)


# -- YAML ---------------------------------------------------------------------------------------
def _yaml_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen[key] = True
        return dict(loader.construct_mapping(node, deep=deep))

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


TOP_LEVEL_KEYS = ("name", "description", "model", "data", "tracking", "evaluate")


def config_from_dict(raw: Any, source: str = "<dict>") -> RunConfig:
    """Validate a configuration given as a dict (the parsed YAML).

    Raises
    ------
    ConfigError
        Naming ``source`` and the key at fault.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"the file must hold a mapping of sections, got {type(raw).__name__}.", source=source
        )
    for key in raw:
        if str(key) not in TOP_LEVEL_KEYS:
            raise _unknown_key(str(key), list(TOP_LEVEL_KEYS), "", source)
    for key in ("name", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(
                f"must be a string, got {type(raw[key]).__name__}.", source=source, key=key
            )
    config = RunConfig(
        model=_model_section(raw.get("model"), source),
        data=_section(DataConfig, raw.get("data"), "data", source),
        tracking=_section(TrackingConfig, raw.get("tracking"), "tracking", source),
        evaluate=_section(EvaluateConfig, raw.get("evaluate"), "evaluate", source),
        name=raw.get("name"),
        description=raw.get("description"),
        source=source,
    )
    ev = config.evaluate
    if not 0 < ev.fraction < 1:
        raise ConfigError(
            f"must be in (0, 1), got {ev.fraction}.", source=source, key="evaluate.fraction"
        )
    if not 0 < ev.coverage < 1:
        raise ConfigError(
            f"must be in (0, 1), got {ev.coverage}.", source=source, key="evaluate.coverage"
        )
    if ev.n_samples is not None and ev.n_samples < 1:
        raise ConfigError(
            f"must be >= 1, got {ev.n_samples}.", source=source, key="evaluate.n_samples"
        )
    return config


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file path from a path or a preset name (``tiny`` -> ``configs/tiny.yaml``).

    Names are looked up in ``./configs`` and then in the ``configs`` folder of the tsdiff source
    checkout.

    Raises
    ------
    ConfigError
        If no such file exists (listing the presets found).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    if re.fullmatch(r"[A-Za-z0-9_\-]+", text):
        for folder in (Path("configs"), PRESET_DIRECTORY):
            candidate = folder / f"{text}.yaml"
            if candidate.is_file():
                return candidate
    presets = ", ".join(list_presets()) or "none found"
    raise ConfigError(f"no such configuration file or preset (presets: {presets}).", source=text)


def list_presets() -> list[str]:
    """Names of the preset configurations in ``./configs`` and the source checkout's ``configs``."""
    names: set[str] = set()
    for folder in (Path("configs"), PRESET_DIRECTORY):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a YAML configuration file (or preset name).

    Raises
    ------
    ConfigError
        For a missing file, invalid YAML (with line and column), an unknown or repeated key,
        or a value of the wrong type; the message names the file and the key.
    """
    import yaml

    file = resolve_config_path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot be read ({err}).", source=source) from err
    try:
        raw = yaml.load(text, Loader=_yaml_loader())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(
            f"{where}{err.problem or err.context or 'invalid YAML'}.", source=source
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML ({err}).", source=source) from err
    return config_from_dict(raw, source)
