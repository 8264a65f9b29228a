"""Run configurations: YAML presets validated by pydantic and mapped to estimator parameters.

A configuration file (every key optional)::

    name: tiny
    description: "..."
    kind: imputer                 # imputer (TSDiffImputer) or detector (TSDiffAnomalyDetector)
    estimator:                    # the estimator's own parameters (window_length, max_epochs...)
      window_length: 16
    model:                        # ModelConfig fields (channels, n_layers, diffusion_steps...)
      channels: 8
    trainer:                      # Lightning Trainer settings -> trainer_kwargs
      accelerator: cpu
    scorer: {type: MaskedReimputationScorer, n_masks: 2}   # detector only
    aggregator: {type: TopK, k: 6}                         # detector only
    thresholder: {type: POT, risk: 0.002}                  # detector only
    data: {time_column: time, label_column: label}         # how files are read
    tracking: {enabled: false, experiment_name: tsdiff}    # MLflow, for ``tsdiff fit --track``
    evaluate: {fraction: 0.1, seed: 0, coverage: 0.9}      # ``tsdiff evaluate`` defaults

An unknown key, a key given twice or a value of the wrong type raises :class:`ConfigError`
naming the file, the dotted key path and what to do. Presets ship inside the package
(``tsdiff/configs/*.yaml``), so ``--config tiny`` works from an installed wheel.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

#: Where the packaged presets live (package data).
PRESET_DIRECTORY = Path(__file__).resolve().parent / "configs"
MODEL_KINDS: dict[str, tuple[str, str]] = {
    "imputer": ("tsdiff.api.imputer", "TSDiffImputer"),
    "detector": ("tsdiff.api.detector", "TSDiffAnomalyDetector"),
}
#: Detector components by section: ``type`` name -> keys documented in the contract, used to
#: check a mapping while the class cannot be imported (else the class signature decides).
COMPONENTS: dict[str, dict[str, frozenset[str]]] = {
    "scorer": {
        "MaskedReimputationScorer": frozenset({"n_masks", "strip_length", "sampling_steps"}),
        "WholeWindowScorer": frozenset({"n_samples", "start_step", "sampling_steps"}),
        "CombinedScorer": frozenset({"masked", "whole", "fold"}),
    },
    "aggregator": {"TopK": frozenset({"k", "cap", "smoothing"})},
    "thresholder": {"POT": frozenset({"risk", "level"})},
}
COMPONENT_MODULE = "tsdiff.scoring"


class ConfigError(ValueError):
    """An invalid configuration; the message names the file, the key and what to do.

    Attributes
    ----------
    source : str
        The file (or ``"<dict>"``).
    key : str or None
        Dotted key path at fault (``"estimator.window_length"``).
    """

    def __init__(self, message: str, *, source: str = "<dict>", key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = f"{source}: " + (f"{key}: " if key else "")
        super().__init__(where + message)


class _Section(BaseModel):
    """A strict mapping: unknown keys are errors, no string-to-number coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataConfig(_Section):
    """How data files are read: the time, series and label columns, and the features."""

    time_column: str | None = None
    series_column: str | None = None
    label_column: str | None = "label"
    columns: list[str] | None = None
    time_format: str | None = None


class TrackingConfig(_Section):
    """MLflow settings of ``tsdiff fit --track`` (passed to :func:`tsdiff.tracking.autolog`)."""

    enabled: bool = False
    uri: str | None = None
    experiment_name: str = "tsdiff"
    registered_model_name: str | None = None


class EvaluateConfig(_Section):
    """Defaults of ``tsdiff evaluate`` for imputers."""

    fraction: float = Field(default=0.1, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)
    coverage: float = Field(default=0.9, gt=0, lt=1)
    n_samples: int | None = Field(default=None, ge=1)


class ModelSection(_Section):
    """Fields of :class:`tsdiff.model.config.ModelConfig`; unset ones keep the estimator's."""

    channels: int = Field(default=64, ge=1)
    n_layers: int = Field(default=4, ge=1)
    n_heads: int = Field(default=8, ge=1)
    diffusion_embedding_dim: int = Field(default=128, ge=2)
    time_embedding_dim: int = Field(default=128, ge=2)
    feature_embedding_dim: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    condition_fill: Literal["linear", "zero"] = "linear"
    prior_skip: bool = True
    edge_anchors: bool = True
    diffusion_steps: int = Field(default=50, ge=1)
    schedule: Literal["quad", "linear", "cosine"] = "quad"
    beta_start: float = Field(default=1e-4, gt=0, lt=1)
    beta_end: float = Field(default=0.5, gt=0, lt=1)
    eta: float = Field(default=0.0, ge=0)


class TrainerSection(_Section):
    """Lightning ``Trainer`` settings that a YAML file can hold (-> ``trainer_kwargs``)."""

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = Field(default=1, ge=1)
    strategy: str = "auto"
    precision: str | int = "32-true"
    gradient_clip_val: float | None = Field(default=None, ge=0)
    accumulate_grad_batches: int = Field(default=1, ge=1)
    deterministic: bool | None = None
    log_every_n_steps: int = Field(default=50, ge=1)


class ComponentSection(BaseModel):
    """A detector component: ``type`` (a class of :mod:`tsdiff.scoring`) and its arguments."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    section: ClassVar[str] = ""

    type: str

    @model_validator(mode="after")
    def _check_arguments(self) -> ComponentSection:
        known = COMPONENTS[self.section]
        arguments = set(self.model_extra or {})
        cls = _component_class(self.type)
        if cls is not None:
            allowed = {
                name
                for name, p in inspect.signature(cls).parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            }
        elif self.type in known:
            allowed = set(known[self.type])
        else:
            raise ValueError(
                f"unknown {self.section} type {self.type!r}; choose one of {sorted(known)}."
            )
        unknown = sorted(arguments - allowed)
        if unknown:
            raise ValueError(
                f"{self.type} takes no argument {unknown[0]!r}; its arguments are "
                f"{sorted(allowed)}: remove the key or fix its spelling."
            )
        return self

    def spec(self) -> dict[str, Any]:
        """The mapping as given: ``{"type": name, **arguments}``."""
        return {"type": self.type, **(self.model_extra or {})}


class ScorerSection(ComponentSection):
    """``scorer:``, e.g. ``{type: MaskedReimputationScorer, n_masks: 2, strip_length: 16}``."""

    section: ClassVar[str] = "scorer"


class AggregatorSection(ComponentSection):
    """``aggregator:``, e.g. ``{type: TopK, k: 6, cap: 50.0, smoothing: [1, 31, 63]}``."""

    section: ClassVar[str] = "aggregator"


class ThresholderSection(ComponentSection):
    """``thresholder:``, e.g. ``{type: POT, risk: 0.002, level: 0.98}``."""

    section: ClassVar[str] = "thresholder"


class _EstimatorParams(_Section):
    """Parameters shared by both estimators."""

    window_length: int = Field(default=36, ge=2)
    max_epochs: int = Field(default=200, ge=1)
    max_time: float | None = Field(default=None, gt=0)
    batch_size: int = Field(default=16, ge=1)
    random_state: int | None = Field(default=None, ge=0, le=2**32 - 1)
    verbose: bool = True


class ImputerParams(_EstimatorParams):
    """Parameters of ``TSDiffImputer`` other than ``model`` and ``trainer_kwargs``."""

    n_samples: int = Field(default=50, ge=1)
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sampling_steps: int = Field(default=10, ge=1)
    target_strategy: Literal["random", "historical", "mix"] = "mix"
    train_stride: int = Field(default=1, ge=1)
    inference_stride: int | None = Field(default=None, ge=1)
    validation_fraction: float = Field(default=0.1, ge=0, lt=1)
    patience: int | None = Field(default=20, ge=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-6, ge=0)
    inference_batch_size: int | None = Field(default=None, ge=1)
    calibration_windows: int = Field(default=32, ge=0)


class DetectorParams(_EstimatorParams):
    """Parameters of ``TSDiffAnomalyDetector`` other than its components and settings."""

    window_length: int = Field(default=32, ge=2)
    train_stride: int = Field(default=2, ge=1)


class RunConfig(_Section):
    """A whole configuration file; see the module docstring for the layout."""

    name: str | None = None
    description: str | None = None
    kind: Literal["imputer", "detector"] = "imputer"
    estimator: ImputerParams = ImputerParams()
    model: ModelSection | None = None
    trainer: TrainerSection | None = None
    data: DataConfig = DataConfig()
    tracking: TrackingConfig = TrackingConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    _source: str = PrivateAttr("<dict>")

    @property
    def source(self) -> str:
        """The file the configuration was read from (``"<dict>"`` otherwise)."""
        return self._source


class DetectorRunConfig(RunConfig):
    """A configuration with ``kind: detector``: detector parameters and components."""

    kind: Literal["imputer", "detector"] = "detector"
    estimator: DetectorParams = DetectorParams()  # type: ignore[assignment]
    scorer: ScorerSection | None = None
    aggregator: AggregatorSection | None = None
    thresholder: ThresholderSection | None = None


COMPONENT_SECTIONS = ("scorer", "aggregator", "thresholder")


# -- errors -----------------------------------------------------------------------------------
def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` (None when it is not a model)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _describe(error: Any, model: type[BaseModel]) -> tuple[str, str]:
    """``(dotted key, message with a fix)`` of one pydantic error."""
    loc = tuple(str(p) for p in error["loc"])
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1]) or []
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = f"section {'.'.join(loc[:-1])!r}" if len(loc) > 1 else "the top level"
        if model is RunConfig and loc[0] in COMPONENT_SECTIONS:
            return key, (
                f"{loc[0]!r} configures a detector component; set kind: detector or remove it."
            )
        return key, (
            f"unknown key {loc[-1]!r} in {where}{hint}; allowed keys: {', '.join(allowed)}. "
            "Remove it or fix its spelling."
        )
    message = str(error["msg"])
    if error["type"] == "value_error":  # our own validators already say what to do
        return key, re.sub(r"^Value error, ", "", message)
    if error["type"] == "missing":
        return key, f"{message}: add the key."
    given = error.get("input")
    shown = f" (got {type(given).__name__} {given!r})" if not isinstance(given, dict) else ""
    return key, f"{message}{shown}; fix the value."


def _validate(cls: type[RunConfig], raw: dict[str, Any], source: str) -> RunConfig:
    try:
        config = cls.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key, message = _describe(first, cls)
        more = err.error_count() - 1
        suffix = f" ({more} more error{'s' if more > 1 else ''} after this one)" if more else ""
        raise ConfigError(message + suffix, source=source, key=key or None) from None
    config._source = source
    return config


def config_from_dict(raw: Any, source: str = "<dict>") -> RunConfig:
    """Validate a configuration given as a dict (the parsed YAML).

    Returns
    -------
    RunConfig
        A :class:`DetectorRunConfig` for ``kind: detector``.

    Raises
    ------
    ConfigError
        Naming ``source``, the key path and what to do.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"the file must hold a mapping of sections, got {type(raw).__name__}; "
            "see docs/configs.md for the layout.",
            source=source,
        )
    raw = {str(k): v for k, v in raw.items()}
    kind = raw.get("kind", "imputer")
    if kind not in MODEL_KINDS:
        raise ConfigError(
            f"must be one of {sorted(MODEL_KINDS)}, got {kind!r}; fix the value.",
            source=source,
            key="kind",
        )
    return _validate(DetectorRunConfig if kind == "detector" else RunConfig, raw, source)


# -- estimator parameters ------------------------------------------------------------------
def estimator_kwargs(config: RunConfig) -> tuple[str, dict[str, Any]]:
    """The estimator kind and the keyword arguments the configuration sets.

    Only keys written in the file are returned, so the estimator's defaults fill the rest.
    ``model`` is a dict of ModelConfig fields (the estimator completes it from its own default
    model), ``trainer_kwargs`` the ``trainer`` mapping, and ``scorer``/``aggregator``/
    ``thresholder`` stay ``{"type": name, **arguments}`` mappings (see :func:`build_component`).

    Returns
    -------
    kind : {"imputer", "detector"}
    kwargs : dict
    """
    kwargs: dict[str, Any] = config.estimator.model_dump(exclude_unset=True)
    if config.model is not None:
        kwargs["model"] = config.model.model_dump(exclude_unset=True)
    if config.trainer is not None:
        kwargs["trainer_kwargs"] = config.trainer.model_dump(exclude_unset=True)
    for section in COMPONENT_SECTIONS:
        component = getattr(config, section, None)
        if component is not None:
            kwargs[section] = component.spec()
    return config.kind, kwargs


def _component_class(name: str) -> type | None:
    """The class ``name`` of :mod:`tsdiff.scoring`, or None when it does not exist (yet)."""
    try:
        module = importlib.import_module(COMPONENT_MODULE)
    except ImportError:  # pragma: no cover - tsdiff.scoring is part of the package
        return None
    found = getattr(module, name, None)
    return found if isinstance(found, type) else None


def build_component(spec: dict[str, Any]) -> Any:
    """An instance of the component ``{"type": name, **arguments}`` (class from tsdiff.scoring).

    Raises
    ------
    ConfigError
        When ``tsdiff.scoring`` has no class of that name.
    """
    arguments = dict(spec)
    name = str(arguments.pop("type"))
    cls = _component_class(name)
    if cls is None:
        raise ConfigError(
            f"tsdiff.scoring has no class {name!r} in this installation; choose a component "
            "type it provides.",
            key="type",
        )
    if "smoothing" in arguments and isinstance(arguments["smoothing"], list):
        arguments["smoothing"] = tuple(arguments["smoothing"])
    return cls(**arguments)


def estimator_class(kind: str) -> type:
    """The estimator class of ``kind`` (``"imputer"`` or ``"detector"``), imported lazily."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown estimator kind {kind!r}; choose one of {sorted(MODEL_KINDS)}.")
    module_name, class_name = MODEL_KINDS[kind]
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls


def build_estimator(config: RunConfig, **overrides: Any) -> Any:
    """The configured, unfitted estimator; ``overrides`` (not None) replace estimator keys.

    Component mappings become instances of :mod:`tsdiff.scoring` classes; ``model`` stays a dict
    of the fields written in the file.
    """
    kind, kwargs = estimator_kwargs(config)
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    cls = estimator_class(kind)
    for section in COMPONENT_SECTIONS:
        if isinstance(kwargs.get(section), dict):
            kwargs[section] = build_component(kwargs[section])
    return cls(**kwargs)


# -- YAML and presets --------------------------------------------------------------------
def _yaml_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return dict(loader.construct_mapping(node, deep=deep))

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def list_presets() -> list[str]:
    """Names of the presets shipped with tsdiff (``tsdiff/configs/*.yaml``)."""
    return sorted(p.stem for p in PRESET_DIRECTORY.glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A configuration file from a path, or a preset name (``tiny`` -> the packaged preset).

    Raises
    ------
    ConfigError
        If there is no such file or preset (the message lists the presets).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    if re.fullmatch(r"[A-Za-z0-9_\-]+", text):
        candidate = PRESET_DIRECTORY / f"{text}.yaml"
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no such configuration file or preset; pass a YAML path or one of the presets: "
        f"{', '.join(list_presets())}.",
        source=text,
    )


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a YAML configuration file or preset name.

    Raises
    ------
    ConfigError
        For a missing file, invalid YAML (with line and column), an unknown or repeated key,
        or a bad value; the message names the file and the key path.
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
            f"{where}{err.problem or err.context or 'invalid YAML'}; fix the YAML syntax.",
            source=source,
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML ({err}).", source=source) from err
    return config_from_dict(raw, source)
