import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.mots import write_mots  # noqa: E402

classes = snakemake.params.classes
count = write_mots(snakemake.input[0], snakemake.output[0], classes)
log.info("%s: %d tracked detections as MOTS lines (frames from 0, ids = track ids, class ids %s)",
         snakemake.wildcards.video, count, f"of export.mots_classes {classes}" if classes else "of the model")
