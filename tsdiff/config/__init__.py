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

from tsdiff.config.build import (
    build_component,
    build_estimator,
    estimator_class,
    estimator_kwargs,
)
from tsdiff.config.presets import (
    PRESET_DIRECTORY,
    list_presets,
    load_config,
    resolve_config_path,
)
from tsdiff.config.schema import (
    COMPONENT_MODULE,
    COMPONENT_SECTIONS,
    COMPONENTS,
    MODEL_KINDS,
    AggregatorSection,
    ComponentSection,
    ConfigError,
    DataConfig,
    DetectorParams,
    DetectorRunConfig,
    EvaluateConfig,
    ImputerParams,
    ModelSection,
    RunConfig,
    ScorerSection,
    ThresholderSection,
    TrackingConfig,
    TrainerSection,
)
from tsdiff.config.validation import config_from_dict

__all__ = [
    "COMPONENTS",
    "COMPONENT_MODULE",
    "COMPONENT_SECTIONS",
    "MODEL_KINDS",
    "PRESET_DIRECTORY",
    "AggregatorSection",
    "ComponentSection",
    "ConfigError",
    "DataConfig",
    "DetectorParams",
    "DetectorRunConfig",
    "EvaluateConfig",
    "ImputerParams",
    "ModelSection",
    "RunConfig",
    "ScorerSection",
    "ThresholderSection",
    "TrackingConfig",
    "TrainerSection",
    "build_component",
    "build_estimator",
    "config_from_dict",
    "estimator_class",
    "estimator_kwargs",
    "list_presets",
    "load_config",
    "resolve_config_path",
]
