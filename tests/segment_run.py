"""segment_chunk in a new process whose TensorFlow is sized by vidseg.threads.use_threads
(argv: threads, weights, frames folder, index, detections out, frames out).

Its own process: TensorFlow's thread pools are sized once per process. The thread count is taken as asked
(as on a machine with that many cores), not capped at this machine's cores.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import vidseg.threads  # noqa: E402

threads = int(sys.argv[1])
vidseg.threads.usable_cores = lambda: threads
streams = vidseg.threads.use_threads(threads)

from conftest import small_config  # noqa: E402
from flow import MODEL  # noqa: E402
from vidseg.maskrcnn import COCO_CLASS_NAMES, MaskRCNN  # noqa: E402
from vidseg.segment import segment_chunk  # noqa: E402

model = MaskRCNN(small_config(**{k: v for k, v in MODEL.items() if k != "name"}))
model.load_weights(sys.argv[2], strict=True)
segment_chunk(model, list(COCO_CLASS_NAMES), "v", sys.argv[3], sys.argv[4], "png", 0, 10**6, 1, sys.argv[5],
              sys.argv[6], streams=streams)
