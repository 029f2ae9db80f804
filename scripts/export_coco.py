import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.evaluate import category_ids, read_ground_truth  # noqa: E402
from vidseg.export import write_coco_results  # noqa: E402
from vidseg.packs import checked_tables  # noqa: E402

truth = snakemake.input.ground_truth
categories = category_ids(read_ground_truth(truth)) if truth else None
count = write_coco_results(checked_tables(snakemake.params.detections), snakemake.output[0], categories)
log.info("%s: %d detections as COCO results, category ids %s", snakemake.wildcards.video, count,
         f"of the ground truth {truth}" if truth else "of the model")
