import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.gpu import bind_gpu  # noqa: E402
from vidseg.provenance import file_sha256  # noqa: E402
from vidseg.segment import load_model, io_threads_for, segment_chunk  # noqa: E402
from vidseg.threads import use_threads  # noqa: E402

use_threads(snakemake.threads)
bind_gpu(device=snakemake.params.device)  # one free GPU per job (lock files), or none with segment.device cpu
if snakemake.params.note:
    log.warning("%s: %s", snakemake.wildcards.video, snakemake.params.note)

model, names = load_model(snakemake.params.model, snakemake.input.weights, snakemake.params.class_names,
                          xla=snakemake.params.xla, precision=snakemake.params.precision,
                          model_file=snakemake.input.model_file[0] if snakemake.input.model_file else None,
                          table_min_confidence=snakemake.params.table_min_confidence)
provenance = {**snakemake.params.provenance, "class_names": names,
              "weights_sha256": file_sha256(snakemake.input.weights)}
found = segment_chunk(
    model, names, snakemake.wildcards.video, snakemake.input.frames, snakemake.input.index,
    snakemake.params.image_format, int(snakemake.wildcards.chunk), snakemake.params.chunk_size,
    snakemake.params.n_chunks, snakemake.output.detections, snakemake.output.frames,
    io_threads=io_threads_for(snakemake.threads), provenance=provenance,
)
log.info("%s chunk %s: %d detections", snakemake.wildcards.video, snakemake.wildcards.chunk, found)
