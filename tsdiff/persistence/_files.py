"""Files of a saved model: checksums, atomic writes with renames, reading the weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tsdiff.persistence._format import CONFIG_FILE, WEIGHTS_FILES, PersistenceError


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of the file at ``path`` (hex), read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_checksum(config: dict[str, Any]) -> str:
    """SHA-256 of ``config`` without its ``checksum`` entry (canonical JSON, sorted keys).

    The configuration records the weights' SHA-256, so this checksum covers the whole model.
    """
    body = {k: v for k, v in config.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_weights_writer(weights_format: str) -> Any:
    """The function writing the weights; checked before anything is touched on disk."""
    if weights_format not in WEIGHTS_FILES:
        raise ValueError(
            f"weights_format must be one of {sorted(WEIGHTS_FILES)}, got {weights_format!r}."
        )
    if weights_format == "safetensors":
        try:
            from safetensors.torch import save_file
        except ImportError as err:
            raise ImportError(
                "weights_format='safetensors' needs the safetensors package "
                "(pip install safetensors); nothing was written."
            ) from err
        return lambda tensors, path: save_file(tensors, str(path))
    import torch

    return lambda tensors, path: torch.save(tensors, path)


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise PersistenceError(
            f"Cannot save the model to {directory}: it is a file, not a directory."
        )
    if directory.is_dir() and any(directory.iterdir()) and not (directory / CONFIG_FILE).is_file():
        raise PersistenceError(
            f"Cannot save the model to {directory}: the directory is not empty and holds no saved "
            "tsdiff model; choose a new or empty directory."
        )


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk (directories: where the platform allows it)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_in(staged: Path, directory: Path) -> None:
    """Replace ``directory`` by ``staged`` with renames; on failure the old model is restored."""
    parent = directory.parent
    old: Path | None = None
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=parent))
        old.rmdir()
        os.replace(directory, old)
    try:
        os.replace(staged, directory)
    except BaseException:
        if old is not None:
            os.replace(old, directory)
        raise
    _fsync(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_weights(directory: Path, config: dict[str, Any]) -> dict[str, Any]:
    import torch

    info = config["weights"]
    file_name = str(info.get("file", ""))
    weights_format = info.get("format")
    if weights_format not in WEIGHTS_FILES or file_name != WEIGHTS_FILES[weights_format]:
        raise PersistenceError(
            f"{directory / CONFIG_FILE}: unknown weights file {file_name!r} / format "
            f"{weights_format!r}."
        )
    weights_path = directory / file_name
    if not weights_path.is_file():
        raise PersistenceError(f"The weights file {weights_path} is missing.")
    expected = str(info.get("sha256", ""))
    actual = sha256_file(weights_path)
    if actual != expected:
        raise PersistenceError(
            f"The weights file {weights_path} does not match the SHA-256 recorded in "
            f"{CONFIG_FILE} (expected {expected[:16]}..., found {actual[:16]}...): the file was "
            "altered or damaged. Refusing to load it."
        )
    try:
        if weights_format == "safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError as err:
                raise PersistenceError(
                    f"{weights_path} is a safetensors file; install safetensors to load it."
                ) from err
            tensors: Any = load_file(str(weights_path), device="cpu")
        else:
            tensors = torch.load(weights_path, map_location="cpu", weights_only=True)
    except PersistenceError:
        raise
    except Exception as err:
        raise PersistenceError(f"Could not read the weights file {weights_path}: {err}") from err
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise PersistenceError(f"{weights_path} does not hold a mapping of names to tensors.")
    return dict(tensors)
