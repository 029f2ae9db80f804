import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.track import describe, track_segmented  # noqa: E402

KINDS = ("detections", "frames", "tracks")
params = snakemake.params
# rule track: one video; rule track_pack: a pack's videos, each video's tables also put at its own paths
if "pack" in snakemake.wildcards.keys():
    from vidseg.packs import PACKED, failed_in, member_path, run_each

    def track_one(video, into):
        segmented = {kind: [member_path(snakemake.input[0], video, PACKED[kind])] for kind in ("detections", "frames")}
        outputs = {kind: member_path(into, video, PACKED[kind]) for kind in KINDS}
        counts = track_segmented(video, segmented["detections"], segmented["frames"], params.min_confidence,
                                 params.settings, outputs, params.config_digest)
        log.info(describe(video, counts, params.min_confidence))
        return counts

    outcome = run_each(params.videos, snakemake.output[0], track_one, "tracking", log, params.published)
    log.info("pack %s: %d videos tracked%s", snakemake.wildcards.pack, len(outcome), failed_in(outcome))
else:
    counts = track_segmented(snakemake.wildcards.video, params.detections, params.frames, params.min_confidence,
                             params.settings, {k: snakemake.output[k] for k in KINDS}, params.config_digest)
    log.info(describe(snakemake.wildcards.video, counts, params.min_confidence))
