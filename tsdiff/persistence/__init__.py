"""Save and load fitted tsdiff estimators as a directory of plain data.

A saved model is a directory with two files:

``config.json``
    The format name and version, the tsdiff (and torch, scikit-learn) version that wrote it, the
    estimator class, every parameter (``get_params()``), every fitted attribute (``n_features_in_``,
    ``feature_names_in_``, the scaler's ``mean_``/``scale_``, ``time_step_``, ``history_``, a
    detector's threshold, ...), free-form ``metadata``, the SHA-256 of the weights file and a
    SHA-256 of the whole configuration (``checksum``).
``weights.pt`` (or ``weights.safetensors``)
    The ``state_dict`` of every fitted ``torch.nn.Module`` (and fitted tensors), keys prefixed by
    the attribute name (``model_.blocks.0...``).

This package sits below :mod:`tsdiff.api`: it never imports the estimator classes. Every class a
file may name (the estimators, :class:`~tsdiff.ModelConfig`, the detector's scorer, aggregator
and thresholder, the scaler) is looked up in :data:`ALLOWED_CLASSES`, a fixed table of
``"module:qualname"`` strings imported lazily; nothing else is ever imported or built.

Loading never executes code from the files: the JSON is parsed with :mod:`json`, its checksum
and the weights' SHA-256 are checked, and the weights are read with
``torch.load(..., weights_only=True)`` (or :mod:`safetensors`).

Saving is atomic: the model is written to a sibling temporary directory, flushed to disk and
swapped in with renames, so a failed save leaves an existing model at ``path`` intact.

Values that can be saved (parameters and fitted attributes): None, bool, int, float (NaN and
infinities included), str, lists, tuples, dicts with string keys, numpy scalars, numeric,
boolean or string numpy arrays, dataclass instances and objects with ``get_params()`` of an
allowed class, other objects of an allowed class (saved as their ``vars()``), and — for fitted
attributes — ``torch.nn.Module`` (``model_``, rebuilt with ``_build_network``) and
``torch.Tensor`` values (stored in the weights file).
"""

from tsdiff.persistence._encoding import _decode, _encode
from tsdiff.persistence._files import config_checksum, sha256_file
from tsdiff.persistence._format import (
    ALLOWED_CLASSES,
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    WEIGHTS_FILES,
    PersistenceError,
    resolve_class,
)
from tsdiff.persistence._load import load_estimator, model_info, read_config
from tsdiff.persistence._save import save_estimator

__all__ = [
    "ALLOWED_CLASSES",
    "CONFIG_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_FILES",
    "PersistenceError",
    "config_checksum",
    "load_estimator",
    "model_info",
    "read_config",
    "resolve_class",
    "save_estimator",
    "sha256_file",
    "_decode",
    "_encode",
]
