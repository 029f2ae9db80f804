import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.media.synthetic import write_coco_images  # noqa: E402

s = snakemake.params.settings
data = write_coco_images(snakemake.output[0], count=s["images"], seed=s["seed"], size=(s["height"], s["width"]),
                         shapes=tuple(s["shapes"]), overlap=s["overlap"])
log.info("wrote %d images with %d instances to %s", len(data["images"]), len(data["annotations"]), snakemake.output[0])
