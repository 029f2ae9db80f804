"""The `vidseg` command: what runs outside the workflow.

    vidseg export-model --out exports/shapes                 # the bundled demo model, all formats
    vidseg export-model --weights mask_rcnn_coco.h5 --format onnx --frames clip.mp4 --out exports/coco

`export-model` writes the model as a SavedModel, ONNX and/or OpenVINO IR
(`vidseg.maskrcnn.export`), each checked on frames against the Keras model, the
check beside the file. Check on frames of your own footage (`--frames`: a video or
a folder of images) for weights that do not detect the demo's shapes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from vidseg.core.errors import VidsegError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def read_check_frames(path: str | Path, count: int) -> list:
    """Up to `count` RGB frames spread over a video file, or the first `count` images of a folder (sorted)."""
    import cv2

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:count]
        frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files]
        unreadable = [str(p) for p, f in zip(files, frames) if f is None]
        if unreadable:
            raise VidsegError(f"--frames: cannot read {', '.join(unreadable)}")
    else:
        capture = cv2.VideoCapture(str(path))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        frames = []
        for i in range(count):
            if total > count:
                capture.set(cv2.CAP_PROP_POS_FRAMES, i * total // count)
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
    if not frames:
        raise VidsegError(f"--frames {path}: no frames found (a video file, or a folder of .jpg/.png images)")
    return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]


def export_model_command(args: argparse.Namespace) -> int:
    from vidseg.inference.segment import load_model
    from vidseg.maskrcnn.export import check_path, export_model, export_path

    from vidseg.media.synthetic import scene_frames

    frames = read_check_frames(args.frames, args.count) if args.frames else scene_frames(args.count)
    model, _ = load_model({}, args.weights, model_file=args.model_file)
    failed = 0
    for fmt in args.format:
        target = export_path(args.out, fmt)
        try:
            check = export_model(model, target, fmt, frames, part=args.part)
            print(f"{target}: {check['summary']} ({check['runtime']}); check in {check_path(target)}")
        except VidsegError as err:
            print(f"export-model: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    from vidseg.workflow.plan import DEMO_MODEL
    from vidseg.maskrcnn.export import FORMATS, PARTS

    top = argparse.ArgumentParser(prog="vidseg", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export-model", help="write the model for other runtimes, each export checked")
    export.add_argument("--weights", default=str(DEMO_MODEL),
                        help="matterport-layout .h5 weights (default: the bundled demo model)")
    export.add_argument("--model-file", default=None,
                        help="its model file (default: the .yaml next to the weights; none: COCO's 81 classes)")
    export.add_argument("--format", nargs="+", choices=FORMATS, default=list(FORMATS))
    export.add_argument("--part", choices=PARTS, default="whole",
                        help="whole: the inference graph, NMS and masks included; dense: backbone, FPN, RPN head")
    export.add_argument("--frames", default=None, help="a video or a folder of images to check the export on "
                                                       "(default: synthetic shapes, what the demo model detects)")
    export.add_argument("--count", type=int, default=4, help="frames to check on (default 4)")
    export.add_argument("--out", required=True, help="path without suffix: adds .onnx, .xml; a SavedModel folder")
    export.set_defaults(run=export_model_command)
    return top


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's graph-optimizer chatter
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # it logs every node it folds
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except VidsegError as err:
        print(f"vidseg {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
