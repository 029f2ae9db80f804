import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.annotate import annotate_video  # noqa: E402
from vidseg.encoders import EncodeSettings  # noqa: E402
from vidseg.frames import read_index  # noqa: E402
from vidseg.tables import frame_groups  # noqa: E402

with open(snakemake.input.probe) as f:
    probe = json.load(f)
settings = EncodeSettings(**snakemake.params.encode)
count = annotate_video(snakemake.input.frames, read_index(snakemake.input.index),
                       lambda: frame_groups(snakemake.input.detections), snakemake.params.image_format, probe,
                       snakemake.input.video, snakemake.output[0], settings, snakemake.threads)
log.info("%s: annotated and encoded %d frames (%s)", snakemake.wildcards.video, count, settings)
