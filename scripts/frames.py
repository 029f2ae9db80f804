import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from vidseg.core.errors import VidsegError  # noqa: E402
from vidseg.media.frames import extract, write_failed_index, write_index  # noqa: E402

params, video = snakemake.params, snakemake.wildcards.video
with open(snakemake.input.probe) as f:
    probed = json.load(f)
try:
    times = extract(snakemake.input.video, snakemake.output.frames, params.image_format, params.jpeg_quality,
                    probed["start_s"])
except VidsegError as err:
    # The job ends well: the unit this video shares with others runs them and notes this one's failure
    Path(snakemake.output.frames).mkdir(parents=True, exist_ok=True)
    write_failed_index(str(err), snakemake.output.index)
    log.error("%s: FAILED at frames: %s", video, " ".join(str(err).split()))
else:
    write_index(times, snakemake.output.index)
    log.info("%s: decoded %d frames", video, len(times))
    if probed["n_frames_exact"] and len(times) < probed["n_frames"]:
        log.warning("%s: the container lists %d frames but only %d decode (a truncated or damaged file?); "
                    "the tables and the annotated video cover the %d that do", video, probed["n_frames"], len(times),
                    len(times))
