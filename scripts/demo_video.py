import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.media.synthetic import write_video  # noqa: E402

s = snakemake.params.settings
data = write_video(snakemake.output.video, snakemake.output.ground_truth, frames=s["frames"],
                   seed=s["seed"] + int(snakemake.wildcards.i), size=(s["height"], s["width"]), fps=s["fps"])
log.info("wrote %s (%d frames, %d instances) and its ground truth %s", snakemake.output.video, len(data["images"]),
         len(data["annotations"]), snakemake.output.ground_truth)
