import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.media.sample import make_sample_video  # noqa: E402

make_sample_video(snakemake.output[0])
log.info("wrote %s", snakemake.output[0])
