import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.inference.unit import tables_of  # noqa: E402
from vidseg.tracking.track import describe, track_segmented  # noqa: E402

# One video, from its tables in the folders of its units (a unit that failed it: the reason, as this job's error)
params, video, units = snakemake.params, snakemake.wildcards.video, snakemake.input.units
counts = track_segmented(video, tables_of(units, video, "detections"), tables_of(units, video, "frames"),
                         params.min_confidence, params.settings,
                         {kind: snakemake.output[kind] for kind in ("detections", "frames", "tracks")},
                         params.config_digest)
log.info(describe(video, counts, params.min_confidence))
