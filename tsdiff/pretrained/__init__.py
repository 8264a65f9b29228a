"""Pretrained models bundled with tsdiff: the imputer and the detector of ``tsdiff demo``.

* ``imputer``: a :class:`~tsdiff.TSDiffImputer` trained on the first three years of
  :func:`tsdiff.datasets.load_beijing_pm` (``split="train"``); the demo imputes the held-out
  last year.
* ``detector``: a :class:`~tsdiff.TSDiffAnomalyDetector` trained on
  :func:`tsdiff.datasets.load_server_metrics` (``"train"``).

Both are saved model directories (:mod:`tsdiff.persistence`: a JSON configuration and weights
read with ``torch.load(weights_only=True)``, each checked against its SHA-256). ``manifest.json``
beside them records the SHA-256 of every file, how they were trained and the figures measured
after training; :func:`load_pretrained` checks the files against it before loading.
``tools/train_pretrained.py`` in the source repository rebuilds them (see ``README.md`` here).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from tsdiff.persistence import resolve_class, sha256_file

__all__ = ["MANIFEST_FILE", "MODELS", "load_pretrained", "manifest", "write_manifest"]

#: The bundled models: name -> estimator class name.
MODELS: dict[str, str] = {"imputer": "TSDiffImputer", "detector": "TSDiffAnomalyDetector"}
MANIFEST_FILE = "manifest.json"


def _folder(directory: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    return Path(str(resources.files(__name__)))


def manifest(directory: str | Path | None = None) -> dict[str, Any]:
    """The manifest of the bundled models (or of those in ``directory``)."""
    path = _folder(directory) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No pretrained models at {path.parent} ({MANIFEST_FILE} is missing); build them "
            "with tools/train_pretrained.py."
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def write_manifest(directory: str | Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` in ``directory``: ``info`` plus the SHA-256 of each model's files.

    Parameters
    ----------
    directory : str or Path
        Folder holding one saved model directory per name of :data:`MODELS` present.
    info : dict
        JSON-safe description (training settings, figures) stored under ``"training"``.

    Returns
    -------
    dict
        The manifest written.
    """
    folder = Path(directory)
    models: dict[str, Any] = {}
    for name, class_name in MODELS.items():
        model_dir = folder / name
        if not model_dir.is_dir():
            continue
        files = {p.name: sha256_file(p) for p in sorted(model_dir.iterdir()) if p.is_file()}
        models[name] = {"class": class_name, "sha256": files}
    content = {"format": "tsdiff-pretrained", "version": 1, "models": models, "training": info}
    (folder / MANIFEST_FILE).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return content


def load_pretrained(name: str, directory: str | Path | None = None) -> Any:
    """Load a bundled model after checking its files against the manifest.

    Parameters
    ----------
    name : {"imputer", "detector"}
        Which model.
    directory : str or Path, optional
        A folder written by ``tools/train_pretrained.py --out`` (default: the bundled models).

    Returns
    -------
    TSDiffImputer or TSDiffAnomalyDetector
        The fitted estimator, loaded with ``Class.load`` (weights_only, checksummed).

    Raises
    ------
    FileNotFoundError
        If the model or its manifest is missing.
    ValueError
        If a file's SHA-256 differs from the manifest's, or a file is missing or extra.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown pretrained model {name!r}; choose one of {sorted(MODELS)}.")
    folder = _folder(directory)
    entry = manifest(folder).get("models", {}).get(name)
    model_dir = folder / name
    if entry is None or not model_dir.is_dir():
        raise FileNotFoundError(f"No pretrained {name} at {model_dir}.")
    expected = dict(entry["sha256"])
    present = {p.name for p in model_dir.iterdir() if p.is_file()}
    if present != set(expected):
        raise ValueError(
            f"Pretrained {name}: files {sorted(present)} differ from the manifest's "
            f"{sorted(expected)}."
        )
    for file_name, digest in expected.items():
        if sha256_file(model_dir / file_name) != digest:
            raise ValueError(f"Pretrained {name}: {file_name} does not match its SHA-256.")
    cls: Any = resolve_class(str(entry["class"]), where=MANIFEST_FILE)
    return cls.load(model_dir)
