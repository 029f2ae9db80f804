import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.formats.tables import frame_groups  # noqa: E402
from vidseg.media.annotate import annotate_video  # noqa: E402
from vidseg.media.encoders import EncodeSettings  # noqa: E402
from vidseg.media.frames import read_index  # noqa: E402

inputs, params = snakemake.input, snakemake.params
settings = EncodeSettings(**params.encode)
with open(inputs.probe) as f:
    record = json.load(f)
count = annotate_video(inputs.frames, read_index(inputs.index), lambda: frame_groups(inputs.detections, tracks=inputs.tracks),
                       params.image_format, record, inputs.video, snakemake.output[0], settings, snakemake.threads)
log.info("%s: annotated and encoded %d frames (%s)", snakemake.wildcards.video, count, settings)
