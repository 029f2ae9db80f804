import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.formats.coco import describe_coco, export_coco  # noqa: E402
from vidseg.formats.mots import describe, write_mots  # noqa: E402
from vidseg.inference.unit import tables_of  # noqa: E402

# One video's exports, those the config switches on (the rule's outputs): COCO results of its segment tables (with
# its ground truth's category ids where it has one), MOTS of its tracked detections
video, inputs, outputs = snakemake.wildcards.video, snakemake.input, snakemake.output
if "coco" in outputs.keys():
    truth = inputs.ground_truth or None
    log.info(describe_coco(video, export_coco(tables_of(inputs.units, video, "detections"), truth, outputs.coco), truth))
if "mots" in outputs.keys():
    classes = snakemake.params.classes
    log.info(describe(video, write_mots(inputs.tracked, outputs.mots, classes), classes))
