import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.export import describe_coco, export_coco  # noqa: E402
from vidseg.mots import describe, write_mots  # noqa: E402
from vidseg.packs import PACKED, failed_in, member_path, run_each  # noqa: E402

# The exports switched on (export.coco, export.mots) of each video of a pack, into the job's folder and at the
# video's own paths.
params = snakemake.params


def export_one(video, into):
    if params.coco:
        truth = params.truths[video]
        count = export_coco([member_path(snakemake.input.segment, video, PACKED["detections"])], truth,
                            member_path(into, video, PACKED["coco"]))
        log.info(describe_coco(video, count, truth))
    if params.mots:
        count = write_mots(member_path(snakemake.input.tracked, video, PACKED["detections"]),
                           member_path(into, video, PACKED["mots"]), params.classes)
        log.info(describe(video, count, params.classes))


outcome = run_each(params.videos, snakemake.output[0], export_one, "export", log, params.published)
log.info("pack %s: %d videos exported%s", snakemake.wildcards.pack, len(outcome), failed_in(outcome))
