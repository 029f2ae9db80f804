from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, concat_parts  # noqa: E402

detections = concat_parts(snakemake.input.detections, DETECTIONS_SCHEMA, snakemake.output.detections)
frames = concat_parts(snakemake.input.frames, FRAMES_SCHEMA, snakemake.output.frames)
log.info("%s: %d detections in %d frames", snakemake.wildcards.video, detections.num_rows, frames.num_rows)
