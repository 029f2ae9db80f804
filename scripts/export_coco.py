import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.packs import PACKED, copied_from_pack  # noqa: E402

video, outputs = snakemake.wildcards.video, {PACKED["coco"]: snakemake.output[0]}
if not copied_from_pack(snakemake.params.packed, video, outputs, "COCO results", log):
    from vidseg.export import describe_coco, export_coco

    truth = snakemake.input.ground_truth
    log.info(describe_coco(video, export_coco(snakemake.params.detections, truth, snakemake.output[0]), truth))
