"""segment_unit on one whole video in a new process whose TensorFlow is sized by vidseg.inference.threads.use_threads
(argv: threads, weights, frames folder, index, detections out, frames out).

Its own process: TensorFlow's thread pools are sized once per process. The thread count is taken as asked
(as on a machine with that many cores), not capped at this machine's cores. The unit's tables are moved from
its folder (beside the detections out) to the paths asked; a failed video exits with its reason.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))

import vidseg.inference.threads  # noqa: E402

threads = int(sys.argv[1])
vidseg.inference.threads.usable_cores = lambda: threads
streams = vidseg.inference.threads.use_threads(threads)

from conftest import small_config  # noqa: E402
from flow import MODEL  # noqa: E402
from vidseg.inference.segment import segment_unit  # noqa: E402
from vidseg.inference.unit import TABLES, member_path, whole  # noqa: E402
from vidseg.maskrcnn import COCO_CLASS_NAMES, MaskRCNN  # noqa: E402

model = MaskRCNN(small_config(**{k: v for k, v in MODEL.items() if k != "name"}))
model.load_weights(sys.argv[2], strict=True)
folder = f"{sys.argv[5]}.unit"
outcome = segment_unit(model, list(COCO_CLASS_NAMES), whole("v"), {"v": sys.argv[3]}, {"v": sys.argv[4]}, "png",
                       folder, streams=streams)
if isinstance(outcome["v"], str):
    raise SystemExit(f"v failed: {outcome['v']}")
for kind, out in (("detections", sys.argv[5]), ("frames", sys.argv[6])):
    os.replace(member_path(folder, "v", TABLES[kind]), out)
shutil.rmtree(folder)
