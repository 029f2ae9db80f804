"""Inference runtimes for the model's arithmetic: the dense part (backbone, FPN, RPN head) and the two heads.

`MaskRCNN.use_engine(name)` runs the three parts that hold nearly all of a
frame's multiply-adds under one of `ENGINES`; proposals, ROIAlign, per-class NMS
and picking each detection's mask stay in Keras (TensorFlow), between them. Each
part is traced as `vidseg.maskrcnn.export` traces it and converted when the
engine is chosen, with the weights then loaded:

- "keras": the Keras graphs (TensorFlow, or the JAX backend), as without an engine.
- "openvino": `openvino.convert_model` straight from the TensorFlow functions (12-19 s a job with
  compiling, ResNet-50@512 to ResNet-101@1024) and OpenVINO's CPU plugin in float32 (`INFERENCE_PRECISION_HINT`: OpenVINO
  would otherwise pick bfloat16 on CPUs that have it), one stream per model stream of the
  job, one thread each. With `calibration` frames, the parts are quantized to int8 by
  NNCF (Apache-2.0; post-training quantization, the activation ranges measured on
  those frames): `segment.precision: int8`. The classifier head only where the CPU has
  int8 dot products (VNNI, AMX: `int8_parts`).
- "onnxruntime": ONNX from tf2onnx (40-90 s a job, ResNet-50@512 to ResNet-101@1024), then ONNX
  Runtime: its CUDA provider where the job has a GPU and onnxruntime-gpu is installed,
  else its CPU provider.

Why these (measured per CPU in docs/benchmarks.md, "Runtimes and int8" and the sections after it):
OpenVINO's float32 graphs compute the wide 3x3 convolutions by Winograd's algorithm
(`vidseg.maskrcnn.winograd`), a fifth to a quarter of their multiplies; a runtime's direct convolution
already runs at the CPU's peak, so that is where float32 gains, on CPUs without AVX-512 most.
ONNX Runtime gained as much from it, but tf2onnx ran out of 24 GB converting ResNet-101@1024's
Winograd graph, so its graphs keep direct convolutions. The classifier head's graph takes its 1x1
convolution as a matrix product (OpenVINO ran the convolution over 1,000 ROIs 4.6x slower), and
the mask head runs on the frames' real detections in calls of `model.MASK_CHUNK` (the rest in one
call rounded up to a power of two), each detection's mask of its own class only (its last 1x1
convolution on one kernel column of K; with F(5x5, 3x3) on its 14x14, 0.81x the time of every
class by F(4x4, 3x3), under the AVX2 mask on one thread). "keras" stays
the default: no conversion, no extra packages, and its tables are the reference the others are
checked against.
Float32 detections match Keras's up to float rounding (tests/test_engines.py).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Callable, NamedTuple

import numpy as np

from vidseg.core.cpu import has_int8_dot
from vidseg.core.errors import VidsegError
from vidseg.core.sampling import evenly_spaced
from vidseg.maskrcnn.export import OUTPUTS, concrete_function, input_specs, onnx_proto

log = logging.getLogger(__name__)

ENGINES = ("keras", "openvino", "onnxruntime")
PARTS = ("dense", "classifier", "mask_head")
# Of the calibration frames, those (evenly spread) the Keras model runs on for the heads' calibration: their pooled
# proposals calibrate the classifier head (50 MB a frame at 1000 ROIs), their MASK_CALIBRATION_ROIS best proposals
# the mask head. The Keras model takes 4.3 s a frame at ResNet-101@1024 (2 cores, AVX2 mask); on the demo model's
# test video, heads calibrated on 8 frames instead of 16 moved int8's mask AP by 0.0003-0.0006 (docs/benchmarks.md).
HEAD_CALIBRATION = 8
MASK_CALIBRATION_ROIS = 32

Part = Callable[..., dict]
"""`run(*inputs) -> outputs by name (export.OUTPUTS[part])`, numpy in and out, the inputs in `export.input_specs`'s
order."""


class Engine(NamedTuple):
    """The parts under one runtime: `dense(images)`, `classifier(pooled)`, `mask_head(pooled, class_ids)`."""

    name: str
    dense: Part
    classifier: Part
    mask_head: Part


def build_engine(engine: str, model, streams: int = 1, gpu: bool = False,
                 calibration: np.ndarray | None = None) -> Engine | None:
    """`model`'s parts (weights as loaded now) under `engine`, for `streams` threads calling at once; None for
    "keras". In int8 where `calibration` (molded images [N, S, S, 3], OpenVINO only) is given."""
    if engine not in ENGINES:
        raise VidsegError(f"segment.engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "keras" and model.precision != "float32":
        raise VidsegError(f"segment.engine {engine} runs float32 graphs: set segment.precision float32 "
                          f"(not {model.precision}) or segment.engine keras")
    if calibration is not None and engine != "openvino":
        raise VidsegError(f"segment.precision int8 runs on segment.engine openvino, not {engine}")
    if engine == "keras":
        return None
    samples = None
    if calibration is not None:
        parts = int8_parts()
        if "classifier" not in parts:
            log.info("int8: the classifier head stays float32 (this CPU has no int8 dot products: VNNI, AVX-VNNI, AMX)")
        samples = calibration_inputs(model, calibration, parts)
    build = _openvino(model, max(1, int(streams)), samples) if engine == "openvino" else _onnxruntime(model, gpu)
    return Engine(engine, *(build(part) for part in PARTS))


def int8_parts() -> tuple[str, ...]:
    """The parts `segment.precision: int8` quantizes on this CPU: all of them where it has int8 dot products
    (`vidseg.core.cpu.has_int8_dot`); elsewhere the classifier head stays float32. Its first layer is one
    12.8 GMAC matrix product a frame (1,000 ROIs). On one thread at ResNet-50@512 the head took, int8 against
    float32: 90 against 267 ms on a Zen 4 with AVX512-VNNI; under an AVX2 CPUID mask 283 against 269 ms
    on the Zen 4 and about 630 against 400 on a Xeon (docs/benchmarks.md). Without VNNI int8 does not pay
    there, and float32 keeps the scores that pick the detections unrounded."""
    return PARTS if has_int8_dot() else tuple(part for part in PARTS if part != "classifier")


def calibration_inputs(model, images: np.ndarray, parts: tuple[str, ...] = PARTS) -> dict[str, list[tuple]]:
    """What each of `parts` sees on the calibration `images`, one frame at a time, as tuples of its inputs: every
    image (the dense part's input); on HEAD_CALIBRATION of them, computed by the Keras model, the pooled proposals
    (the classifier head's input) and the pooled best proposals with the classes the classifier head gives them
    (the mask head runs on detections, which are refined proposals)."""
    net = model.network
    out = {part: [] for part in parts}
    if "dense" in out:
        out["dense"] = [(images[i:i + 1],) for i in range(len(images))]
    heads = [part for part in parts if part != "dense"]
    for i in evenly_spaced(len(images), HEAD_CALIBRATION) if heads else ():
        feature_maps, rpn_probs, rpn_deltas = model._features(images[i:i + 1])
        rois, pooled = net.pooled_proposals(feature_maps, rpn_probs, rpn_deltas)
        if "classifier" in out:
            out["classifier"].append((np.asarray(pooled),))
        if "mask_head" in out:
            classes = np.argmax(np.asarray(net.classifier(pooled[:, :MASK_CALIBRATION_ROIS])[1]), -1).astype(np.int32)
            best = rois[:, :MASK_CALIBRATION_ROIS]
            out["mask_head"].append((np.asarray(net.pool(feature_maps, best, model.config.MASK_POOL_SIZE)), classes))
    return out


def _contiguous(inputs: tuple, specs: list) -> tuple[np.ndarray, ...]:
    """A part's `inputs` as contiguous arrays of their `specs`' (`export.input_specs`) dtypes, what runtimes take."""
    return tuple(np.ascontiguousarray(x, spec.dtype.as_numpy_dtype) for x, spec in zip(inputs, specs, strict=True))


def _per_shape(build: Callable[[tuple], Part], specs: list) -> Part:
    """A part compiling one static-shape graph per input shapes it meets (`build(shapes)`), under a lock: one per
    batch size (the mask head takes calls of up to `model.MASK_CHUNK` detections). Inputs as `_contiguous`."""
    graphs: dict[tuple, Part] = {}
    lock = threading.Lock()

    def run(*inputs):
        inputs = _contiguous(inputs, specs)
        shapes = tuple(x.shape for x in inputs)
        if shapes not in graphs:
            with lock:
                if shapes not in graphs:
                    graphs[shapes] = build(shapes)
        return graphs[shapes](*inputs)

    return run


def _openvino(model, streams: int, samples: dict | None) -> Callable[[str], Part]:
    try:
        import openvino as ov
    except ImportError:
        raise VidsegError("segment.engine openvino needs the openvino package: pip install 'vidseg[runtimes]'") from None
    core = ov.Core()
    samples = samples or {}  # by part, for the parts quantized to int8

    def part(name: str) -> Part:
        # any batch (and detection count); int8 quantizes the direct convolutions (Winograd's transformed
        # inputs span wider ranges than 8 bits keep)
        int8 = name in samples
        precision = "int8" if int8 else "float32"
        graph = ov.convert_model(concrete_function(model, name, fast_3x3=not int8))
        specs = input_specs(model, name)
        names = [spec.name for spec in specs]
        if int8:
            graph = quantize(graph, [dict(zip(names, inputs)) for inputs in samples[name]], name)

        def build(shapes: tuple) -> Part:
            graph.reshape({n: list(shape) for n, shape in zip(names, shapes)})  # static shapes: faster kernels
            # threads not pinned to cores: the parts' streams and TensorFlow's threads between them share the
            # job's cores (pinned: 0.94x Keras's speed against 1.30x unpinned, ResNet-50@512 on 2 cores)
            compiled = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "ENABLE_CPU_PINNING": False,
                                                         "NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams})
            outputs = {o.get_any_name(): o for o in compiled.outputs}
            local = threading.local()  # one infer request per calling thread
            log.info("OpenVINO %s runs the %s in %s (inputs %s, %d stream%s)", ov.get_version(), name, precision,
                     [list(shape) for shape in shapes], streams, "" if streams == 1 else "s")

            def infer(*inputs):
                request = getattr(local, "request", None)
                if request is None:
                    request = local.request = compiled.create_infer_request()
                result = request.infer(dict(zip(names, inputs)))  # copies out of the request's buffers
                return {key: result[output] for key, output in outputs.items()}

            return infer

        return _per_shape(build, specs)

    return part


def quantize(graph, samples: list, part: str = "dense"):
    """The OpenVINO `graph` of `part` with int8 weights and activations (NNCF post-training quantization), its
    activation ranges taken from `samples` (its inputs on frames like the ones it will run on: arrays, or dicts
    of them by input name)."""
    try:
        import nncf
    except ImportError:
        raise VidsegError("segment.precision int8 needs the nncf package: pip install 'vidseg[runtimes]'") from None
    log.info("quantizing the %s to int8 on %d samples (NNCF %s)", part, len(samples), nncf.__version__)
    return nncf.quantize(graph, nncf.Dataset(samples), subset_size=len(samples))


def _onnxruntime(model, gpu: bool) -> Callable[[str], Part]:
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is None or importlib.util.find_spec("tf2onnx") is None:  # tf2onnx: what onnx_proto converts with
        raise VidsegError("segment.engine onnxruntime needs onnxruntime and tf2onnx: "
                          "pip install 'vidseg[runtimes]'") from None
    available = ort.get_available_providers()
    providers = (["CUDAExecutionProvider"] if gpu and "CUDAExecutionProvider" in available else []) + \
        ["CPUExecutionProvider"]

    def part(name: str) -> Part:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one thread per model stream: the job's streams call at once
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx_proto(model, name).SerializeToString(), options, providers=providers)
        names, inputs, specs = list(OUTPUTS[name]), [i.name for i in session.get_inputs()], input_specs(model, name)
        log.info("ONNX Runtime %s runs the %s (%s)", ort.__version__, name, providers[0])
        return lambda *xs: dict(zip(names, session.run(names, dict(zip(inputs, _contiguous(xs, specs))))))

    return part
