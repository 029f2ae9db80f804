import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.media.probe import probe_record  # noqa: E402

# A video that cannot be probed is recorded as failed (the run goes on without it), not raised.
record = probe_record(snakemake.wildcards.video, snakemake.input.video)
with open(snakemake.output.json, "w") as f:
    json.dump(record, f, indent=1)
if record["ok"]:
    log.info("%s: %dx%d, %s fps, %d frames, rotation %d, audio %s", record["video_id"], record["width"],
             record["height"], f"{record['fps_num']}/{record['fps_den']}", record["n_frames"], record["rotation"],
             record["has_audio"])
else:
    log.error("%s FAILED at probe: %s", record["video_id"], record["reason"])
