import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.gpu import bind_gpu  # noqa: E402
from vidseg.packs import failed_in  # noqa: E402
from vidseg.provenance import file_sha256  # noqa: E402
from vidseg.segment import io_threads_for, load_model, segment_chunk, segment_pack  # noqa: E402
from vidseg.threads import use_threads  # noqa: E402

# rule segment: one chunk of one video; rule segment_pack: a pack of short videos, each whole (vidseg.packs)
packed = "pack" in snakemake.wildcards.keys()
job = f"pack {snakemake.wildcards.pack}" if packed else snakemake.wildcards.video
gpu = bind_gpu(device=snakemake.params.device)  # one free GPU per job (lock files), or none with segment.device cpu
streams = use_threads(snakemake.threads, gpu=gpu is not None)
if snakemake.params.note:
    log.warning("%s: %s", job, snakemake.params.note)

model, names = load_model(snakemake.params.model, snakemake.input.weights, snakemake.params.class_names,
                          xla=snakemake.params.xla, precision=snakemake.params.precision,
                          model_file=snakemake.input.model_file[0] if snakemake.input.model_file else None,
                          table_min_confidence=snakemake.params.table_min_confidence)
provenance = {**snakemake.params.provenance, "class_names": names,
              "weights_sha256": file_sha256(snakemake.input.weights)}
if packed:
    from vidseg.packs import PACKED, member_path

    videos, folder = snakemake.params.videos, snakemake.input.frames  # folder: the frames pack job's
    outcome = segment_pack(
        model, names, videos, [member_path(folder, video, PACKED["images"]) for video in videos],
        [member_path(folder, video, PACKED["index"]) for video in videos],
        snakemake.params.image_format, snakemake.output[0],
        io_threads=io_threads_for(snakemake.threads), provenance=provenance, streams=streams,
    )
    log.info("%s: %d videos, %d detections%s", job, len(outcome),
             sum(found for found in outcome.values() if isinstance(found, int)), failed_in(outcome))
else:
    found = segment_chunk(
        model, names, snakemake.wildcards.video, snakemake.input.frames, snakemake.input.index,
        snakemake.params.image_format, int(snakemake.wildcards.chunk), snakemake.params.chunk_size,
        snakemake.params.n_chunks, snakemake.output.detections, snakemake.output.frames,
        io_threads=io_threads_for(snakemake.threads), provenance=provenance, streams=streams,
    )
    log.info("%s chunk %s: %d detections", job, snakemake.wildcards.chunk, found)
