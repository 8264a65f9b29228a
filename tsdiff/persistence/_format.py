"""The model format: its constants, its error, and the classes a saved model may name."""

from __future__ import annotations

import importlib
from typing import Any

FORMAT_NAME = "tsdiff-model"
FORMAT_VERSION = "2.0"
CONFIG_FILE = "config.json"
WEIGHTS_FILES = {"torch": "weights.pt", "safetensors": "weights.safetensors"}
_MARK = "__tsdiff__"

#: Classes a saved model may name: the name stored in ``config.json`` -> ``"module:qualname"``.
#: Resolved lazily (the module is imported only when a file names the class); a name that is
#: not in this table is refused.
ALLOWED_CLASSES: dict[str, str] = {
    # estimators
    "TSDiffImputer": "tsdiff.api.imputer:TSDiffImputer",
    "TSDiffAnomalyDetector": "tsdiff.api.detector:TSDiffAnomalyDetector",
    # parameters and fitted state
    "ModelConfig": "tsdiff.model.config:ModelConfig",
    "NaNStandardScaler": "tsdiff.data.scaling:NaNStandardScaler",
    # the detector's components (scorer, aggregator, thresholder)
    "MaskedReimputationScorer": "tsdiff.scoring.scorers:MaskedReimputationScorer",
    "TopK": "tsdiff.scoring.aggregators:TopK",
    "POT": "tsdiff.scoring.thresholders:POT",
    "Contamination": "tsdiff.scoring.thresholders:Contamination",
    "FixedThreshold": "tsdiff.scoring.thresholders:FixedThreshold",
    "WholeWindowScorer": "tsdiff.scoring.reconstruction:WholeWindowScorer",
    "CombinedScorer": "tsdiff.scoring.combined:CombinedScorer",
    "WindowNeighbours": "tsdiff.scoring.neighbours:WindowNeighbours",
}

#: ``trainer_kwargs`` entries that are run-time objects of one training run, not saved.


class PersistenceError(ValueError):
    """A model directory cannot be written or read (wrong version, altered files, bad state)."""


# -- the allow-list ------------------------------------------------------------------------------
def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed_name(cls: type) -> str | None:
    """The allow-list name of ``cls`` (None when it is not allowed); imports nothing."""
    path = _class_path(cls)
    for name, allowed in ALLOWED_CLASSES.items():
        if allowed == path:
            return name
    return None


def resolve_class(name: str, where: str = "config.json") -> type:
    """The allowed class called ``name`` in :data:`ALLOWED_CLASSES` (its module imported now).

    Raises
    ------
    PersistenceError
        If ``name`` is not in the table or its module cannot be imported.
    """
    path = ALLOWED_CLASSES.get(name) if isinstance(name, str) else None
    if path is None:
        raise PersistenceError(
            f"{where}: the class {name!r} is not one tsdiff can load ({sorted(ALLOWED_CLASSES)})."
        )
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise PersistenceError(
            f"{where}: the class {name!r} ({path}) is not available in this tsdiff installation "
            f"({err})."
        ) from err
    if not isinstance(obj, type):
        raise PersistenceError(f"{where}: {path} is not a class.")
    return obj
