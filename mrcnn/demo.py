"""vidseg's bundled demo model for `mrcnn` code: its weights' path, class names and a Config of its network.

Not in matterport's package (which had no bundled model): COCO's weights cannot be
downloaded everywhere, and the demo model (`models/shapes.h5`, trained by the
workflow's `train` rule on synthetic shapes) lets matterport-style code run and
fine-tune offline. `DemoConfig` carries the model file's settings as class
attributes, so a subclass changes only what it names:

    class ShapesConfig(DemoConfig):
        NAME = "shapes"
        IMAGES_PER_GPU = 8
"""

from __future__ import annotations

from mrcnn.config import Config
from vidseg.inference.modelfile import read_model_file
from vidseg.workflow.plan import DEMO_MODEL

DEMO_WEIGHTS = str(DEMO_MODEL)
_settings, CLASS_NAMES = read_model_file(DEMO_MODEL.with_suffix(".yaml"))


class DemoConfig(Config):
    """The demo model's settings (its model file's `config:`), for inference with `DEMO_WEIGHTS`."""


for _key, _value in _settings.items():  # YAML has lists where matterport's defaults are tuples: keep their type
    _default = Config.field_table[_key.upper()][0]
    setattr(DemoConfig, _key.upper(), tuple(_value) if isinstance(_default, tuple) else _value)
