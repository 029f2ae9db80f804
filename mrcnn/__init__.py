"""matterport's `mrcnn` API (config, model, utils, visualize, coco) on vidseg's TensorFlow 2 / Keras 3 Mask R-CNN.

Code written for matterport's Mask R-CNN runs with only the install changed:
`from mrcnn.config import Config`, `import mrcnn.model as modellib`,
`from mrcnn import utils, visualize`. Each module is a thin layer over
`vidseg.maskrcnn` (one model implementation); the README's "Coming from
matterport" lists where the results or limits differ.
"""
