import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.export import describe_coco, export_coco  # noqa: E402
from vidseg.units import tables_of  # noqa: E402

video, truth = snakemake.wildcards.video, snakemake.input.ground_truth
count = export_coco(tables_of(snakemake.input.units, video, "detections"), truth, snakemake.output[0])
log.info(describe_coco(video, count, truth))
