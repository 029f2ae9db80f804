from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.encode import encode  # noqa: E402
from vidseg.frames import read_index  # noqa: E402

with open(snakemake.input.probe) as f:
    probe = json.load(f)
times = read_index(snakemake.input.index)
encode(
    snakemake.input.frames, list(times), snakemake.params.image_format, (probe["fps_num"], probe["fps_den"]),
    probe["variable_frame_rate"], snakemake.input.video, probe["audio_codec"], snakemake.output[0],
    crf=snakemake.params.crf, preset=snakemake.params.preset,
)
log.info("%s: encoded %d frames", snakemake.wildcards.video, len(times))
