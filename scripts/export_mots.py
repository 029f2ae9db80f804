import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.packs import PACKED, copied_from_pack  # noqa: E402

video, outputs = snakemake.wildcards.video, {PACKED["mots"]: snakemake.output[0]}
if not copied_from_pack(snakemake.params.packed, video, outputs, "MOTS lines", log):
    from vidseg.mots import describe, write_mots

    classes = snakemake.params.classes
    log.info(describe(video, write_mots(snakemake.input[0], snakemake.output[0], classes), classes))
