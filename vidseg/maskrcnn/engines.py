"""Inference runtimes for the model's dense part: the backbone, FPN and RPN head.

`MaskRCNN.use_engine(name)` runs the dense part (most of a frame's arithmetic:
0.58 of 1.0 s a frame at ResNet-50@512 on the project's Zen 4 CPU) under one of
`ENGINES`; proposals, ROIAlign, the heads, NMS and the masks stay in Keras. The
dense part is traced as `vidseg.maskrcnn.export` exports it and converted when
the engine is chosen, with the weights then loaded:

- "keras": the Keras graph (TensorFlow, or the JAX backend), as without an engine.
- "openvino": `openvino.convert_model` straight from the TensorFlow function (2-5 s for
  ResNet-50) and OpenVINO's CPU plugin, float32 (`INFERENCE_PRECISION_HINT`: OpenVINO
  would otherwise pick bfloat16 on CPUs that have it), one stream per model stream of
  the job, one thread each.
- "onnxruntime": ONNX from tf2onnx (20-30 s for ResNet-50, once per job), then ONNX
  Runtime: its CUDA provider where the job has a GPU and onnxruntime-gpu is installed,
  else its CPU provider.

Measured (docs/benchmarks.md, "Runtimes"; ResNet-50@512, float32, 2 cores): on a Zen 4
CPU (AVX-512) the three run the dense part within 5 % of each other, so "keras" stays the
default: it needs no conversion and its tables are the reference. On an AVX2-only EPYC,
issue 36 measured OpenVINO's dense part 1.54x TensorFlow's; that is where "openvino"
pays. Detections match Keras's up to float rounding (tests/test_engines.py).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Callable

import numpy as np

from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.export import DENSE_OUTPUTS, concrete_function

log = logging.getLogger(__name__)

ENGINES = ("keras", "openvino", "onnxruntime")

DenseRunner = Callable[[np.ndarray], tuple]
"""`run(images) -> (feature_maps P2..P5, rpn_probs, rpn_deltas)`, as `MaskRCNNNetwork.features` returns them."""


def dense_runner(engine: str, model, streams: int = 1, gpu: bool = False,
                 calibration: np.ndarray | None = None) -> DenseRunner:
    """The dense part of `model` (weights as loaded now) under `engine`, for `streams` threads calling it at once;
    in int8 where `calibration` (molded images, OpenVINO only) is given."""
    if engine not in ENGINES:
        raise VidsegError(f"segment.engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "keras" and model.precision != "float32":
        raise VidsegError(f"segment.engine {engine} runs float32 graphs: set segment.precision float32 "
                          f"(not {model.precision}) or segment.engine keras")
    if calibration is not None and engine != "openvino":
        raise VidsegError(f"segment.precision int8 runs on segment.engine openvino, not {engine}")
    if engine == "openvino":
        return _openvino(model, max(1, int(streams)), calibration)
    if engine == "onnxruntime":
        return _onnxruntime(model, max(1, int(streams)), gpu)
    return model._features


def _split(outputs: dict) -> tuple:
    """Named dense outputs -> `MaskRCNNNetwork.features`' layout."""
    return tuple(outputs[n] for n in DENSE_OUTPUTS[:4]), outputs["rpn_probs"], outputs["rpn_deltas"]


def _per_batch(build: Callable[[int], Callable]) -> DenseRunner:
    """A runner compiling one static-shape graph per batch size it meets (`build(batch)`), under a lock."""
    graphs: dict[int, Callable] = {}
    lock = threading.Lock()

    def run(images):
        batch = int(images.shape[0])
        if batch not in graphs:
            with lock:
                if batch not in graphs:
                    graphs[batch] = build(batch)
        return _split(graphs[batch](np.ascontiguousarray(images, np.float32)))

    return run


def _openvino(model, streams: int, calibration: np.ndarray | None = None) -> DenseRunner:
    try:
        import openvino as ov
    except ImportError:
        raise VidsegError("segment.engine openvino needs the openvino package: pip install 'vidseg[runtimes]'") from None
    core = ov.Core()
    graph = ov.convert_model(concrete_function(model, "dense"))  # any batch size; each size compiles on its own
    precision = "float32"
    if calibration is not None:
        graph, precision = quantize(graph, calibration), "int8"
    size = int(model.config.IMAGE_SHAPE[0])

    def build(batch: int):
        graph.reshape({"images": [batch, size, size, 3]})  # static shapes compile to faster kernels
        compiled = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                     "NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams})
        outputs = {o.get_any_name(): o for o in compiled.outputs}
        local = threading.local()  # one infer request per calling thread

        def infer(images):
            request = getattr(local, "request", None)
            if request is None:
                request = local.request = compiled.create_infer_request()
            result = request.infer({"images": images})  # copies out of the request's buffers
            return {name: result[output] for name, output in outputs.items()}

        log.info("OpenVINO %s runs the dense part in %s (batch %d, %d stream%s)", ov.get_version(), precision, batch,
                 streams, "" if streams == 1 else "s")
        return infer

    return _per_batch(build)


def quantize(graph, calibration: np.ndarray):
    """The OpenVINO `graph` of the dense part with int8 weights and activations (NNCF post-training quantization),
    its activation ranges taken from `calibration`, molded images [N, S, S, 3] of the frames it will run on."""
    try:
        import nncf
    except ImportError:
        raise VidsegError("segment.precision int8 needs the nncf package: pip install 'vidseg[runtimes]'") from None
    samples = [calibration[i:i + 1] for i in range(len(calibration))]
    log.info("quantizing the dense part to int8 on %d frames (NNCF %s)", len(samples), nncf.__version__)
    return nncf.quantize(graph, nncf.Dataset(samples), subset_size=len(samples))


def _onnxruntime(model, streams: int, gpu: bool) -> DenseRunner:
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is None or importlib.util.find_spec("tf2onnx") is None:  # tf2onnx: what onnx_proto converts with
        raise VidsegError("segment.engine onnxruntime needs onnxruntime and tf2onnx: "
                          "pip install 'vidseg[runtimes]'") from None
    from vidseg.maskrcnn.export import onnx_proto

    available = ort.get_available_providers()
    providers = (["CUDAExecutionProvider"] if gpu and "CUDAExecutionProvider" in available else []) + \
        ["CPUExecutionProvider"]

    def build(batch: int):
        proto = onnx_proto(model, "dense", batch)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one thread per model stream: the job's streams call at once
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=providers)
        names = [o.name for o in session.get_outputs()]
        log.info("ONNX Runtime %s runs the dense part (batch %d, %s)", ort.__version__, batch, providers[0])
        return lambda images: dict(zip(names, session.run(names, {"images": images})))

    return _per_batch(build)
