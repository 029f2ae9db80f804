import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.mots import describe, write_mots  # noqa: E402

classes = snakemake.params.classes
count = write_mots(snakemake.input[0], snakemake.output[0], classes)
log.info(describe(snakemake.wildcards.video, count, classes))
