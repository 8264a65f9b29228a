"""Estimator parameters and unfitted estimators from a :class:`RunConfig`."""

from __future__ import annotations

import importlib
from typing import Any

from tsdiff.config.schema import (
    COMPONENT_SECTIONS,
    MODEL_KINDS,
    ConfigError,
    RunConfig,
    _component_class,
)


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
        if component is False:  # ``neighbours: false``
            kwargs[section] = False
        elif component is not None:
            kwargs[section] = component.spec()
    return config.kind, kwargs


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
