import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # before TensorFlow's, OpenVINO's and the streams' threads start

from vidseg.core.provenance import file_sha256  # noqa: E402
from vidseg.inference.gpu import bind_gpu  # noqa: E402
from vidseg.inference.segment import calibrate, io_threads_for, load_model, segment_unit  # noqa: E402
from vidseg.inference.threads import use_threads  # noqa: E402
from vidseg.inference.unit import Member, Unit, failed_in  # noqa: E402

# One unit (vidseg.inference.unit): a chunk of a long video, or a pack of short videos, each whole
params = snakemake.params
unit = Unit(snakemake.wildcards.unit, tuple(Member(*member) for member in params.members))
gpu = bind_gpu(device=params.device)  # one free GPU per job (lock files), or none with segment.device cpu
streams = use_threads(snakemake.threads, gpu=gpu is not None)
if params.note:
    log.warning("unit %s: %s", unit.name, params.note)

model, names = load_model(params.model, snakemake.input.weights, params.class_names, xla=params.xla,
                          precision=params.precision, engine=params.engine, streams=streams, gpu=gpu is not None,
                          model_file=snakemake.input.model_file[0] if snakemake.input.model_file else None,
                          table_min_confidence=params.table_min_confidence)


def quantize(frames) -> None:
    """segment.precision int8: the dense part quantized on this unit's own frames."""
    used = calibrate(model, params.engine, frames, params.image_format, streams=streams, gpu=gpu is not None)
    log.info("unit %s: dense part quantized to int8 on %d of its frames", unit.name, used)


provenance = {**params.provenance, "class_names": names, "weights_sha256": file_sha256(snakemake.input.weights)}
outcome = segment_unit(model, names, unit, dict(zip(unit.videos, snakemake.input.frames)),
                       dict(zip(unit.videos, snakemake.input.index)), params.image_format, snakemake.output[0],
                       io_threads=io_threads_for(snakemake.threads), provenance=provenance, streams=streams,
                       prepare=quantize if params.precision == "int8" else None)
log.info("unit %s: %d videos, %d detections%s", unit.name, len(outcome),
         sum(found for found in outcome.values() if isinstance(found, int)), failed_in(outcome))
