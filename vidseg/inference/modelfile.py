"""Model files: a trained model's config and class names, next to its `.h5` weights.

`models/<name>.yaml` sits next to `models/<name>.h5` and holds `config:`
(Config keys, lower case) and `class_names:` (background first); the train
rule writes both. Weights with a model file need no `model:` settings in the
workflow config; keys given there override the file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from vidseg.core.errors import ConfigError
from vidseg.maskrcnn.coco_classes import COCO_CLASS_NAMES
from vidseg.maskrcnn.config import Config


def write_model_file(path: str | Path, config: Config, class_names: Sequence[str], **extra: Any) -> None:
    """Write the model file (atomically); `extra` keys (e.g. training figures) are kept for people to read."""
    from vidseg.core.atomic import atomic_path

    if len(class_names) != config.NUM_CLASSES:
        raise ConfigError(f"{len(class_names)} class names for {config.NUM_CLASSES} classes (background included)")
    data = {"config": config.to_dict(), "class_names": list(class_names), **extra}
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(data, sort_keys=False))


def read_model_file(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """`(config keys, class names)` of a model file; errors name the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read model file {path}: {err.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"model file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ConfigError(f"model file {path}: expected a 'config' mapping (and 'class_names')")
    names = data.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"model file {path}: 'class_names' must be a list of strings, background first")
    return dict(data["config"]), names


def class_names_for(config: Config, names: Sequence[str] | None) -> list[str]:
    """Class names (index = class id, 0 = background): given, or COCO's for 81 classes."""
    if names is None:
        if config.NUM_CLASSES != len(COCO_CLASS_NAMES):
            raise ConfigError(f"config key 'class_names' is needed: the model has {config.NUM_CLASSES} classes "
                              f"(background included), not COCO's {len(COCO_CLASS_NAMES)}")
        return list(COCO_CLASS_NAMES)
    names = list(names)
    if len(names) != config.NUM_CLASSES:
        raise ConfigError(f"config key 'class_names' has {len(names)} names for {config.NUM_CLASSES} classes (BG included)")
    return names


def model_file_for(weights: str | Path) -> Path | None:
    """The model file next to `weights` (same name, `.yaml`), if there is one."""
    path = Path(weights).with_suffix(".yaml")
    return path if path.is_file() else None


def resolve_model(settings: Mapping[str, Any], class_names: Sequence[str] | None = None,
                  model_file: str | Path | None = None,
                  source: str = "config key 'model'") -> tuple[Config, list[str] | None]:
    """The Config and class names of the workflow's `model:` and `class_names:` settings.

    With a `model_file`, its config is the base that `settings` override, and its
    class names apply unless `class_names` are given. None means "COCO's" downstream.
    """
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{source}: expected a mapping of Mask R-CNN config keys")
    settings = dict(settings)
    names = list(class_names) if class_names is not None else None
    if model_file is not None:
        keys, file_names = read_model_file(model_file)
        settings = {**keys, **settings}
        names = names if names is not None else file_names
        source = f"{source} over model file {model_file}"
    config = Config.from_dict(settings, source=source)
    if names is not None and len(names) != config.NUM_CLASSES:
        raise ConfigError(f"{source}: {len(names)} class names for {config.NUM_CLASSES} classes (background included)")
    return config, names
