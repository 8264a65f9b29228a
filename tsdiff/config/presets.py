"""YAML files and the packaged presets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tsdiff.config.schema import ConfigError, RunConfig
from tsdiff.config.validation import config_from_dict

#: Where the packaged presets live (package data).
PRESET_DIRECTORY = Path(__file__).resolve().parents[1] / "configs"


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
