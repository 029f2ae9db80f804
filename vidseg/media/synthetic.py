"""Synthetic scenes with exact instance masks: moving, rotating, occluding shapes.

Seeded and deterministic. Each scene has a textured background and a few
circles, squares and triangles in saturated colours, drawn back to front; an
instance's mask is what stays visible of it. `write_coco_images` writes a
COCO-format image dataset for training, `write_video` an H.264 video with an
audio track plus a COCO ground truth whose image ids are frame indices and whose
annotations carry the object's `track_id` (ground truth for tracking).
"""

from __future__ import annotations

import colorsys
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from vidseg.core.errors import VidsegError
from vidseg.media.ffmpeg import require

CATEGORIES = ("circle", "square", "triangle")  # category ids 1, 2, 3
MIN_VISIBLE_AREA = 30


@dataclass
class Shape:
    category: int  # 1-based index into CATEGORIES
    colour: tuple[int, int, int]  # RGB
    radius: float
    center: np.ndarray  # (x, y)
    velocity: np.ndarray  # pixels per frame
    angle: float  # radians
    spin: float  # radians per frame


class Scene:
    """A background and shapes whose positions depend on the frame number."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int], shapes: tuple[int, int] = (2, 5),
                 speed: float = 3.0, overlap: float = 0.0):
        """`shapes`: (min, max) count; `overlap`: the chance that a shape after the first starts
        overlapping an earlier one (in front of it) and moves with it, half the time in a similar
        colour, for occlusion-heavy scenes."""
        self.height, self.width = size
        self.background = _background(rng, size)
        n = int(rng.integers(shapes[0], shapes[1] + 1))
        short = min(size)
        self.shapes = []
        for _ in range(n):
            shape = Shape(
                category=int(rng.integers(1, len(CATEGORIES) + 1)),
                colour=_colour(rng),
                radius=float(rng.uniform(0.08, 0.2) * short),
                center=rng.uniform([0.15 * self.width, 0.15 * self.height], [0.85 * self.width, 0.85 * self.height]),
                velocity=rng.uniform(-speed, speed, 2),
                angle=float(rng.uniform(0, 2 * np.pi)),
                spin=float(rng.uniform(-0.08, 0.08)),
            )
            if self.shapes and overlap and rng.uniform() < overlap:
                below = self.shapes[int(rng.integers(len(self.shapes)))]
                direction = rng.uniform(0, 2 * np.pi)
                distance = rng.uniform(0.3, 1.0) * (below.radius + shape.radius)
                shape.center = below.center + distance * np.array([np.cos(direction), np.sin(direction)])
                shape.velocity = below.velocity + rng.uniform(-0.3, 0.3, 2)
                if rng.uniform() < 0.5:  # a similar colour: the edge between the two is faint
                    shape.colour = _near(below.colour, rng)
            self.shapes.append(shape)

    def render(self, frame: int = 0) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
        """RGB uint8 image and `[(category, visible mask)]` of the instances visible at `frame`."""
        image, instances = self.render_tracked(frame)
        return image, [(category, mask) for _, category, mask in instances]

    def render_tracked(self, frame: int = 0) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
        """RGB uint8 image and `[(track id, category, visible mask)]` of the instances visible at `frame`.

        A shape's track id is its 1-based place in the scene: the same object keeps it in every frame
        (also after being hidden for a while).
        """
        image = self.background.copy()
        masks = []
        for track_id, shape in enumerate(self.shapes, start=1):  # back to front
            mask = np.zeros((self.height, self.width), np.uint8)
            center = _bounce(shape.center + shape.velocity * frame, shape.radius, (self.width, self.height))
            _draw(mask, shape.category, center, shape.radius, shape.angle + shape.spin * frame)
            on = mask.astype(bool)
            image[on] = _shade(shape.colour, on, center, shape.radius)
            for _, _, below in masks:
                below &= ~on
            masks.append((track_id, shape.category, on))
        return image, [(t, c, m) for t, c, m in masks if m.sum() >= MIN_VISIBLE_AREA]


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(float(rng.uniform()), float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.6, 1.0)))
    return int(r * 255), int(g * 255), int(b * 255)


def _near(colour: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour close to `colour`: hue within 0.06, saturation and value within 0.15."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    h = (h + rng.uniform(-0.06, 0.06)) % 1.0
    s, v = (float(np.clip(x + rng.uniform(-0.15, 0.15), 0.5, 1.0)) for x in (s, v))
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Smooth coloured noise plus faint stripes: texture without shape-like blobs."""
    h, w = size
    coarse = rng.uniform(40, 200, (max(2, h // 32), max(2, w // 32), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    angle, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
    stripes = 18 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    grain = rng.normal(0, 6, (h, w, 1))
    return np.clip(smooth + stripes[..., None] + grain, 0, 255).astype(np.uint8)


def _bounce(position: np.ndarray, radius: float, bounds: tuple[int, int]) -> np.ndarray:
    """Reflect a free path into [radius, bound - radius] on each axis (a ball bouncing off the walls)."""
    out = np.empty(2)
    for i, bound in enumerate(bounds):
        span = max(bound - 2 * radius, 1.0)
        t = (position[i] - radius) % (2 * span)
        out[i] = radius + (t if t <= span else 2 * span - t)
    return out


def _draw(mask: np.ndarray, category: int, center: np.ndarray, radius: float, angle: float) -> None:
    name = CATEGORIES[category - 1]
    if name == "circle":
        cv2.circle(mask, (int(round(center[0] * 16)), int(round(center[1] * 16))), int(round(radius * 16)), 1,
                   cv2.FILLED, lineType=cv2.LINE_8, shift=4)
        return
    corners = 4 if name == "square" else 3
    angles = angle + 2 * np.pi * np.arange(corners) / corners
    points = np.stack([center[0] + radius * np.cos(angles), center[1] + radius * np.sin(angles)], axis=1)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)


def _shade(colour: tuple[int, int, int], on: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    """The shape's colour with a gentle radial shading (solid shapes, not flat stickers)."""
    ys, xs = np.nonzero(on)
    dist = np.hypot(xs - center[0], ys - center[1]) / max(radius, 1.0)
    factor = (1.0 - 0.25 * np.clip(dist, 0, 1.5))[:, None]
    return np.clip(np.array(colour, np.float32) * factor, 0, 255).astype(np.uint8)


def scene_frames(count: int, size: tuple[int, int] = (480, 640), seed: int = 7) -> list[np.ndarray]:
    """`count` RGB frames [H, W, 3] of one scene of 3-6 shapes, 5 frames apart (what the demo model detects)."""
    scene = Scene(np.random.default_rng(seed), size, shapes=(3, 6))
    return [scene.render(i * 5)[0] for i in range(count)]


def coco_annotation(ann_id: int, image_id: int, category: int, mask: np.ndarray, track_id: int | None = None) -> dict:
    """One COCO instance annotation with compressed-RLE segmentation (and the object's `track_id`, if given)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    x, y, w, h = mask_utils.toBbox(rle).tolist()
    annotation = {"id": ann_id, "image_id": image_id, "category_id": category, "iscrowd": 0,
                  "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                  "area": int(mask.sum()), "bbox": [x, y, w, h]}
    if track_id is not None:
        annotation["track_id"] = int(track_id)
    return annotation


def _coco(images: list[dict], annotations: list[dict]) -> dict:
    return {"images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(CATEGORIES)]}


def write_coco_images(out_dir: str | Path, count: int, seed: int, size: tuple[int, int] = (128, 128),
                      shapes: tuple[int, int] = (2, 5), overlap: float = 0.0) -> dict:
    """`count` single-frame scenes as PNGs under `out_dir/images/` plus `out_dir/annotations.json`.

    `shapes` and `overlap` are passed to `Scene`."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for image_id in range(1, count + 1):
        image, instances = Scene(rng, size, shapes, overlap=overlap).render(frame=int(rng.integers(0, 100)))
        name = f"{image_id:06d}.png"
        cv2.imwrite(str(out / "images" / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append({"id": image_id, "file_name": f"images/{name}", "height": size[0], "width": size[1]})
        for category, mask in instances:
            annotations.append(coco_annotation(len(annotations) + 1, image_id, category, mask))
    data = _coco(images, annotations)
    (out / "annotations.json").write_text(json.dumps(data))
    return data


def write_video(video: str | Path, ground_truth: str | Path, frames: int, seed: int, size: tuple[int, int] = (128, 160),
                fps: int = 10, audio: bool = True) -> dict:
    """One moving scene as an H.264 MP4 (with a tone when `audio`) and its COCO ground truth.

    Image ids in the ground truth are 0-based frame indices; each annotation's `track_id`
    (an extra key pycocotools ignores) names the object, the same in every frame it is seen.
    """
    require("ffmpeg")
    h, w = size
    scene = Scene(np.random.default_rng(seed), size)
    video = Path(video)
    video.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
            "-r", str(fps), "-i", "-"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={frames / fps}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(video)]
    images, annotations = [], []
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    for index in range(frames):
        image, instances = scene.render_tracked(index)
        proc.stdin.write(image.tobytes())
        images.append({"id": index, "file_name": f"{index:06d}", "height": h, "width": w})
        for track_id, category, mask in instances:
            annotations.append(coco_annotation(len(annotations) + 1, index, category, mask, track_id))
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise VidsegError(f"ffmpeg failed writing {video}: {err.decode(errors='replace')[-500:]}")
    data = _coco(images, annotations)
    Path(ground_truth).parent.mkdir(parents=True, exist_ok=True)
    Path(ground_truth).write_text(json.dumps(data))
    return data
