import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.frames import extract, write_index  # noqa: E402

with open(snakemake.input.probe) as f:
    probed = json.load(f)
times = extract(snakemake.input.video, snakemake.output.frames, snakemake.params.image_format,
                snakemake.params.jpeg_quality, probed["start_s"])
write_index(times, snakemake.output.index)
log.info("%s: decoded %d frames", snakemake.wildcards.video, len(times))
if probed["n_frames_exact"] and len(times) < probed["n_frames"]:
    log.warning("%s: the container lists %d frames but only %d decode (a truncated or damaged file?); "
                "the tables and the annotated video cover the %d that do", snakemake.wildcards.video,
                probed["n_frames"], len(times), len(times))
