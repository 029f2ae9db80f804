import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.packs import PACKED, copied_from_pack  # noqa: E402

KINDS = ("detections", "frames", "tracks")
params = snakemake.params
# rule track: one video, tracked here or (packed) copied from its pack's track job; rule track_pack: a pack's videos
if "pack" in snakemake.wildcards.keys():
    from vidseg.packs import failed_in, member_path, run_each
    from vidseg.track import describe, track_segmented

    def track_one(video, into):
        segmented = {kind: [member_path(snakemake.input[0], video, PACKED[kind])] for kind in ("detections", "frames")}
        outputs = {kind: member_path(into, video, PACKED[kind]) for kind in KINDS}
        counts = track_segmented(video, segmented["detections"], segmented["frames"], params.min_confidence,
                                 params.settings, outputs, params.config_digest)
        log.info(describe(video, counts, params.min_confidence))
        return counts

    outcome = run_each(params.videos, snakemake.output[0], track_one, "tracking", log)
    log.info("pack %s: %d videos tracked%s", snakemake.wildcards.pack, len(outcome), failed_in(outcome))
elif not copied_from_pack(params.packed, snakemake.wildcards.video, {PACKED[k]: snakemake.output[k] for k in KINDS},
                          "tables", log):
    from vidseg.track import describe, track_segmented

    counts = track_segmented(snakemake.wildcards.video, params.detections, params.frames, params.min_confidence,
                             params.settings, {k: snakemake.output[k] for k in KINDS}, params.config_digest)
    log.info(describe(snakemake.wildcards.video, counts, params.min_confidence))
