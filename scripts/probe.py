from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.probe import probe  # noqa: E402

info = probe(snakemake.input.video)
with open(snakemake.output.json, "w") as f:
    json.dump({"video_id": snakemake.wildcards.video, **info}, f, indent=1)
log.info("%s: %dx%d, %s fps, %d frames, rotation %d, audio %s", snakemake.wildcards.video, info["width"],
         info["height"], f"{info['fps_num']}/{info['fps_den']}", info["n_frames"], info["rotation"], info["has_audio"])
