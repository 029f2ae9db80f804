import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.core.download import download_weights  # noqa: E402

log.info("downloading %s", snakemake.params.url)
download_weights(snakemake.params.url, snakemake.output[0], sha256=snakemake.params.sha256, report=log.info)
log.info("wrote %s", snakemake.output[0])
