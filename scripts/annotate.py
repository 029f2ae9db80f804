import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.formats.coco import read_ground_truth, truth_outlines  # noqa: E402
from vidseg.formats.tables import frame_groups  # noqa: E402
from vidseg.media.annotate import annotate_video  # noqa: E402
from vidseg.media.encoders import EncodeSettings  # noqa: E402
from vidseg.media.frames import read_index  # noqa: E402

# rule annotate, and rule annotate_truth: the same video with the ground truth's outlines over the detections
inputs, params = snakemake.input, snakemake.params
settings = EncodeSettings(**params.encode)
with open(inputs.probe) as f:
    record = json.load(f)
truth = getattr(inputs, "ground_truth", None)
overlay = truth_outlines(read_ground_truth(truth)) if truth else None
count = annotate_video(inputs.frames, read_index(inputs.index), lambda: frame_groups(inputs.detections, tracks=inputs.tracks),
                       params.image_format, record, inputs.video, snakemake.output[0], settings, snakemake.threads,
                       overlay=overlay)
log.info("%s: annotated%s and encoded %d frames (%s)", snakemake.wildcards.video,
         " with the ground truth's outlines" if truth else "", count, settings)
