from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.tables import (DETECTIONS_SCHEMA, FRAMES_SCHEMA, chunks_provenance, keep_confident,  # noqa: E402
                           read_parts, with_provenance, write_atomic)

provenance = chunks_provenance(snakemake.input.detections + snakemake.input.frames)
detections = read_parts(snakemake.input.detections, DETECTIONS_SCHEMA)
frames = read_parts(snakemake.input.frames, FRAMES_SCHEMA)
detections, frames = keep_confident(detections, frames, snakemake.params.min_confidence)
write_atomic(with_provenance(detections, provenance), snakemake.output.detections)
write_atomic(with_provenance(frames, provenance), snakemake.output.frames)
log.info("%s: %d detections (score >= %g) in %d frames", snakemake.wildcards.video, detections.num_rows,
         snakemake.params.min_confidence, frames.num_rows)
