"""The train stage: Mask R-CNN trained on a COCO-format dataset from the workflow's `train:` settings.

Writes the weights (matterport `.h5` layout, checkpointed after every epoch)
and a model file with the config and class names the workflow reads back.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from vidseg.core.errors import ConfigError
from vidseg.inference.modelfile import write_model_file

log = logging.getLogger(__name__)

# matterport's advice for fine-tuning on other classes: skip the class-specific layers.
CLASS_SPECIFIC = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]


def train_model(settings: dict[str, Any], annotations: str | Path, image_dir: str | Path | None,
                weights_out: str | Path, model_out: str | Path, init_weights: str | Path | None = None,
                report: Callable[[str], None] = log.info) -> list[dict[str, float]]:
    """Train per `settings` (the workflow's `train:` mapping); returns the per-epoch mean losses."""
    from vidseg.maskrcnn import Config, MaskRCNN
    from vidseg.maskrcnn.dataset import CocoDataset
    from vidseg.maskrcnn.seeded_weights import seed_weights
    from vidseg.maskrcnn.training import Trainer

    config = Config.from_dict(settings["model"], source="config key 'train.model'")
    dataset = CocoDataset(annotations, image_dir)
    if config.NUM_CLASSES != len(dataset.class_names):
        raise ConfigError(
            f"config key 'train.model.num_classes' is {config.NUM_CLASSES}, but {annotations} has "
            f"{len(dataset.class_names) - 1} categories (+1 for the background): {dataset.class_names[1:]}"
        )
    report(f"training {settings['name']!r} on {len(dataset)} images of {annotations}, classes {dataset.class_names[1:]}")
    train_config = crop_config(config, settings.get("crop_size"))
    if train_config is not config:
        report(f"training on random {train_config.IMAGE_MAX_DIM}-px crops of images molded to "
               f"{config.IMAGE_MAX_DIM} px, the size the model runs at")
    model = MaskRCNN(train_config)
    seed = int(settings.get("seed", 0))
    if init_weights is not None:
        exclude = settings.get("exclude", CLASS_SPECIFIC)
        loaded = model.load_weights(init_weights, exclude=exclude)
        report(f"initial weights {init_weights}: {loaded}")
    else:
        # From scratch: seeded weights whose batch-norm statistics and output scales are
        # calibrated on training images (a data-dependent initialisation).
        seed_weights(model, seed, frames=[dataset.load(i)[0] for i in range(min(8, len(dataset)))])
        report(f"initial weights: seeded ({seed}), calibrated on the first training images")
    trainer = Trainer(model, layers=settings.get("layers", "heads"), learning_rate=settings.get("learning_rate"),
                      seed=seed, optimizer=settings.get("optimizer", "sgd"), ema=settings.get("ema"))
    began = time.perf_counter()
    history = trainer.fit(dataset, epochs=int(settings["epochs"]), steps_per_epoch=int(settings["steps_per_epoch"]),
                          flip=bool(settings.get("flip", True)), checkpoint=weights_out, report=report,
                          decay_epochs=settings.get("decay_epochs", ()), warmup_steps=int(settings.get("warmup_steps", 0)),
                          mold_config=config if train_config is not config else None)
    minutes = (time.perf_counter() - began) / 60
    report(f"trained in {minutes:.1f} min; weights {weights_out}")
    write_model_file(model_out, config, dataset.class_names,
                     training={"dataset": str(annotations), "images": len(dataset), "epochs": len(history),
                               "steps_per_epoch": int(settings["steps_per_epoch"]), "minutes": round(minutes, 1),
                               "final_losses": {k: round(v, 4) for k, v in history[-1].items()}})
    return history


def crop_config(config, crop_size: int | None):
    """The config to train with when training on `crop_size` crops (`config` itself without)."""
    if crop_size is None or crop_size == config.IMAGE_MAX_DIM:
        return config
    if crop_size > config.IMAGE_MAX_DIM:
        raise ConfigError(f"config key 'train.crop_size' ({crop_size}) is larger than the model's "
                          f"image_max_dim ({config.IMAGE_MAX_DIM}): crops are cut from images of that size")
    try:
        return config.copy(image_min_dim=crop_size, image_max_dim=crop_size)
    except ConfigError as err:
        raise ConfigError(f"config key 'train.crop_size': {err}") from None
