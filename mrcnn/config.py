"""matterport's `mrcnn.config.Config`: settings as class attributes of a subclass, every name and default kept.

    class ShapesConfig(Config):
        NAME = "shapes"
        IMAGES_PER_GPU = 8
        NUM_CLASSES = 1 + 3

It is `vidseg.maskrcnn.Config` (same fields, checks and derived `BATCH_SIZE`,
`IMAGE_SHAPE`, `IMAGE_META_SIZE`) plus matterport's training-loop fields
(`STEPS_PER_EPOCH`, `VALIDATION_STEPS`, `LOSS_WEIGHTS`, ...), which
`mrcnn.model.MaskRCNN.train` reads, and `display()` prints as matterport's does.
A model works on its own copy, so this object stays editable after a model is built.
"""

from __future__ import annotations

from vidseg.maskrcnn import config as _vidseg_config


class Config(_vidseg_config.Config):
    """Base configuration: subclass it and override the attributes to change (see the module docstring)."""

    field_table = {**_vidseg_config.FIELDS, **_vidseg_config.LOOP_FIELDS}

    def display(self) -> None:
        """Print every setting, one per line, as matterport does (a subclass's own upper-case attributes too)."""
        print("\nConfigurations:")
        for name in sorted(a for a in dir(self) if a.isupper() and not callable(getattr(self, a))):
            print(f"{name:30} {getattr(self, name)}")
        print("\n")
