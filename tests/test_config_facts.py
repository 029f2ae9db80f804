"""Each config fact written once, and what must be repeated checked against it: config/schema.yaml holds the
defaults and ranges; config/config.yaml, config/README.md and the settings classes that check values again
(TrackSettings, EncodeSettings) must agree with it."""

import dataclasses
import math
import re

import pytest
import yaml

from vidseg.media.encoders import EncodeSettings
from vidseg.core.errors import ConfigError
from vidseg.workflow.plan import WORKFLOW_DIR
from vidseg.tracking.tracker import TrackSettings

SCHEMA = yaml.safe_load((WORKFLOW_DIR / "config" / "schema.yaml").read_text())
CONFIG = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text())
README = (WORKFLOW_DIR / "config" / "README.md").read_text()
SETTINGS = {"track": TrackSettings, "encode": EncodeSettings}  # sections whose defaults live in a dataclass


def leaves(schema, path=()):
    """(key path, its schema) of every leaf key of `schema`."""
    for key, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            yield from leaves(sub, (*path, key))
        else:
            yield (*path, key), sub


def readme_default(key):
    """The default column of the key's row in config/README.md (None where it has no row of its own)."""
    found = re.search(rf"^\| `{re.escape(key)}` \| ([^|]*) \|", README, re.M)
    return found.group(1).strip() if found else None


def written(value):
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def test_every_schema_default_is_the_one_config_yaml_and_the_readme_state():
    checked = 0
    for path, sub in leaves(SCHEMA):
        if "default" not in sub:
            continue
        key = ".".join(path)
        node, present = CONFIG, True
        for part in path:
            present = present and isinstance(node, dict) and part in node
            node = node[part] if present else None
        if present:
            assert node == sub["default"], f"config.yaml sets {key}: {node!r}, the schema's default is {sub['default']!r}"
            checked += 1
        shown = readme_default(key)
        if shown is not None and shown.startswith("`"):
            assert shown == f"`{written(sub['default'])}`", f"config/README.md gives {key} the default {shown}"
            checked += 1
    assert checked >= 30  # config.yaml's keys and the README's rows were found


@pytest.mark.parametrize("section", sorted(SETTINGS))
def test_settings_defaults_are_the_readmes_and_their_ranges_the_schemas(section):
    """A section whose defaults live in its settings dataclass: the README states them, and the dataclass accepts
    exactly the schema's range (at each bound, and just outside it)."""
    cls = SETTINGS[section]
    properties = SCHEMA["properties"][section]["properties"]
    assert set(properties) == {f.name for f in dataclasses.fields(cls)}
    for field in dataclasses.fields(cls):
        assert readme_default(f"{section}.{field.name}") == f"`{written(field.default)}`", field.name
        rule = properties[field.name]
        for bound, inside, step in (("minimum", True, -1), ("exclusiveMinimum", False, -1), ("maximum", True, 1),
                                    ("exclusiveMaximum", False, 1)):
            if bound not in rule:
                continue
            edge = rule[bound]
            outside = edge + step if isinstance(field.default, int) else math.nextafter(edge, edge + step)
            if inside:
                cls(**{field.name: edge})
            else:
                with pytest.raises(ConfigError, match=f"{section}.{field.name}"):
                    cls(**{field.name: edge})
            with pytest.raises(ConfigError, match=f"{section}.{field.name}"):
                cls(**{field.name: outside})
