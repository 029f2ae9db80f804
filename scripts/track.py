import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.packs import checked_tables  # noqa: E402
from vidseg.tables import chunks_provenance  # noqa: E402
from vidseg.track import track_video  # noqa: E402

detections, frames = checked_tables(snakemake.params.detections), checked_tables(snakemake.params.frames)
provenance = {**(chunks_provenance(detections + frames) or {}), "config_digest": snakemake.params.config_digest}
counts = track_video(snakemake.wildcards.video, detections, frames,
                     snakemake.params.min_confidence, snakemake.params.settings, snakemake.output.detections,
                     snakemake.output.frames, snakemake.output.tracks, provenance=provenance)
log.info("%s: %d detections (score >= %g) in %d frames; %d tracks, %d detections in them", snakemake.wildcards.video,
         counts["detections"], snakemake.params.min_confidence, counts["frames"], counts["tracks"], counts["tracked"])
