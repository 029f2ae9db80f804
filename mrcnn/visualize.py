"""matterport's `mrcnn.visualize` (display and plotting helpers for Mask R-CNN results), written anew for vidseg.

Same function names, arguments, defaults and drawings as matterport's module, so notebooks written against it run
unchanged. Differences:
- Mask outlines come from contourpy (matplotlib's own contour engine) instead of `skimage.measure.find_contours`,
  which vidseg does not install. On the one-pixel padded 0/1 mask at level 0.5 both trace the same polygons.
- `display_table` shows HTML only inside IPython/Jupyter; elsewhere (or without IPython installed) it prints a plain
  text table. `display_weight_stats` reads `model.keras_model.weights` (Keras 3 has no per-layer `get_weights()`
  walk of matterport's `get_trainable_layers()`), names weights by their Keras path and, not knowing each weight's
  layer type, spares every bias (not only Conv2D's) the "dead?" flag. Its alerts are plain text, not red HTML.
- Where matterport failed, these work: `colors` and `captions` as NumPy arrays; in `draw_boxes`, masks and refined
  boxes' captions for visibility-0 (grey) boxes (`apply_mask` takes a matplotlib colour name too). A visibility other
  than 0, 1 or 2 is a ValueError.
`display_differences` and `draw_rois` import `mrcnn.utils` when called (`compute_matches`, `unmold_mask`).
"""

from __future__ import annotations

import colorsys
import html
import itertools
import random
from typing import Any, Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import lines, patches
from matplotlib.colors import to_rgb

Color = Sequence[float]

NO_INSTANCES = "\n*** No instances to display *** \n"  # matterport's message, kept word for word
DIFFERENCES_TITLE = "Ground Truth and Detections\n GT=green, pred=red, captions: score/IoU"
GT_COLOR, PRED_COLOR = (0, 1, 0, 0.8), (1, 0, 0, 1)  # display_differences: ground truth green, predictions red
# draw_boxes: box colour, line style and opacity by visibility (0 hidden, 1 dotted, 2 solid).
VISIBILITY_STYLES = {0: ("gray", "dotted", 0.5), 1: (None, "dotted", 1.0), 2: (None, "solid", 1.0)}


def display_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    cols: int = 4,
    cmap: Any = None,
    norm: Any = None,
    interpolation: str | None = None,
) -> None:
    """Show images (HWC, or HW with `cmap`) in a grid of `cols` columns, each with its title; values are shown as
    uint8. `norm` and `interpolation` go to `imshow`."""
    titles = titles if titles is not None else [""] * len(images)
    rows = len(images) // cols + 1
    plt.figure(figsize=(14, max(1, 14 * rows // cols)))
    for position, (image, title) in enumerate(zip(images, titles), start=1):
        plt.subplot(rows, cols, position)
        plt.title(title, fontsize=9)
        plt.axis("off")
        plt.imshow(np.asarray(image).astype(np.uint8), cmap=cmap, norm=norm, interpolation=interpolation)
    plt.show()


def random_colors(N: int, bright: bool = True) -> list[tuple[float, float, float]]:
    """N visually distinct RGB colours (floats in [0, 1]) in random order: hues evenly spaced around the HSV circle
    at full saturation, value 1.0 (`bright`) or 0.7. The order comes from Python's `random` module."""
    value = 1.0 if bright else 0.7
    colors = [colorsys.hsv_to_rgb(k / N, 1.0, value) for k in range(N)]
    random.shuffle(colors)
    return colors


def apply_mask(image: np.ndarray, mask: np.ndarray, color: Color, alpha: float = 0.5) -> np.ndarray:
    """Blend `color` (RGB in [0, 1], or a matplotlib colour name) into `image` [H, W, >=3] where `mask` == 1, in
    place, and return `image`.

    A masked pixel becomes `pixel * (1 - alpha) + alpha * color * 255`, cast to the image's dtype (truncated for
    integer images); other pixels are untouched.
    """
    if isinstance(color, str):
        color = to_rgb(color)
    selected = np.asarray(mask) == 1
    for channel in range(3):
        plane = image[:, :, channel]
        plane[selected] = plane[selected] * (1 - alpha) + alpha * color[channel] * 255
    return image


def mask_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Outlines of a 2-D 0/1 mask as closed polylines of (x, y) points in image pixels.

    The mask is padded by one pixel first so that masks touching the image edge still close; the outline runs
    half-way between mask and background pixels (marching squares at level 0.5, as skimage's `find_contours`).
    """
    import contourpy  # matplotlib's contour engine (a dependency of matplotlib >= 3.6)

    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=np.float64)
    padded[1:-1, 1:-1] = np.asarray(mask) != 0
    if not padded.any():
        return []
    generator = contourpy.contour_generator(z=padded, line_type=contourpy.LineType.Separate)
    return [np.asarray(points) - 1 for points in generator.lines(0.5)]


def _add_outlines(ax, mask: np.ndarray, color) -> None:
    for points in mask_outlines(mask):
        ax.add_patch(patches.Polygon(points, facecolor="none", edgecolor=color))


def _is_empty(values) -> bool:
    """matterport's `not values` for lists, also right for NumPy arrays."""
    return values is None or len(values) == 0


def display_instances(
    image: np.ndarray,
    boxes: np.ndarray,
    masks: np.ndarray,
    class_ids: np.ndarray,
    class_names: Sequence[str],
    scores: np.ndarray | None = None,
    title: str = "",
    figsize: tuple[float, float] = (16, 16),
    ax=None,
    show_mask: bool = True,
    show_bbox: bool = True,
    colors: Sequence[Color] | None = None,
    captions: Sequence[str] | None = None,
) -> None:
    """Draw instances on an RGB uint8 image: masks blended in, dashed boxes, captions and mask outlines.

    boxes: [N, (y1, x1, y2, x2)] in image pixels; an all-zero box skips its instance.
    masks: [H, W, N]; class_ids: [N], indices into `class_names`; scores: [N] or None.
    Captions are "{class name} {score:.3f}" (the name alone without a score), unless `captions` gives them.
    With `ax=None` a figure of `figsize` inches is made and shown at the end; otherwise it draws on `ax`.
    Outlines are drawn even with `show_mask=False`.
    """
    count = boxes.shape[0]
    if not count:
        print(NO_INSTANCES)
    else:
        assert boxes.shape[0] == masks.shape[-1] == class_ids.shape[0], (
            f"{boxes.shape[0]} boxes, {masks.shape[-1]} masks and {class_ids.shape[0]} class ids"
        )
    show_at_end = ax is None
    if show_at_end:
        _, ax = plt.subplots(1, figsize=figsize)
    if _is_empty(colors):
        colors = random_colors(count)

    height, width = image.shape[:2]
    ax.set_ylim(height + 10, -10)  # a 10-pixel margin around the image
    ax.set_xlim(-10, width + 10)
    ax.axis("off")
    ax.set_title(title)

    shown = image.astype(np.uint32)  # a copy
    for i in range(count):
        color = colors[i]
        if not np.any(boxes[i]):
            continue  # no box: the instance was lost (e.g. cropped away)
        y1, x1, y2, x2 = boxes[i]
        if show_bbox:
            ax.add_patch(
                patches.Rectangle(
                    (x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=0.7, linestyle="dashed", edgecolor=color,
                    facecolor="none",
                )
            )
        if _is_empty(captions):
            label = class_names[class_ids[i]]
            score = scores[i] if scores is not None else None
            caption = f"{label} {score:.3f}" if score else label
        else:
            caption = captions[i]
        ax.text(x1, y1 + 8, caption, color="w", size=11, backgroundcolor="none")

        mask = masks[:, :, i]
        if show_mask:
            apply_mask(shown, mask, color)
        _add_outlines(ax, mask, color)
    ax.imshow(shown.astype(np.uint8))
    if show_at_end:
        plt.show()


def display_differences(
    image: np.ndarray,
    gt_box: np.ndarray,
    gt_class_id: np.ndarray,
    gt_mask: np.ndarray,
    pred_box: np.ndarray,
    pred_class_id: np.ndarray,
    pred_score: np.ndarray,
    pred_mask: np.ndarray,
    class_names: Sequence[str],
    title: str = "",
    ax=None,
    show_mask: bool = True,
    show_box: bool = True,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
) -> None:
    """Draw ground truth (green) and predictions (red) on one image with `display_instances`.

    Predictions are matched to ground truth by `mrcnn.utils.compute_matches` at the two thresholds; a prediction's
    caption is "{score:.2f} / {IoU:.2f}", the IoU with its match or, unmatched, its best IoU with any ground truth.
    """
    from mrcnn import utils

    gt_match, pred_match, overlaps = utils.compute_matches(
        gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
    )
    gt_count, pred_count = len(gt_match), len(pred_match)
    colors = [GT_COLOR] * gt_count + [PRED_COLOR] * pred_count
    class_ids = np.concatenate([gt_class_id, pred_class_id])
    scores = np.concatenate([np.zeros([gt_count]), pred_score])
    boxes = np.concatenate([gt_box, pred_box])
    masks = np.concatenate([gt_mask, pred_mask], axis=-1)
    captions = [""] * gt_count
    for i in range(pred_count):
        iou = overlaps[i, int(pred_match[i])] if pred_match[i] > -1 else overlaps[i].max()
        captions.append(f"{pred_score[i]:.2f} / {iou:.2f}")
    display_instances(
        image, boxes, masks, class_ids, class_names, scores, ax=ax, show_bbox=show_box, show_mask=show_mask,
        colors=colors, captions=captions, title=title or DIFFERENCES_TITLE,
    )


def draw_rois(
    image: np.ndarray,
    rois: np.ndarray,
    refined_rois: np.ndarray,
    mask: np.ndarray,
    class_ids: np.ndarray,
    class_names: Sequence[str],
    limit: int = 10,
) -> None:
    """Draw at most `limit` ROIs (picked at random with NumPy's global generator when there are more) in a new figure.

    rois, refined_rois: [N, (y1, x1, y2, x2)] in image pixels; mask: [N, h, w] mask-head outputs, one per ROI;
    class_ids: [N], 0 for background ROIs. A background ROI is a dashed grey box; a positive one is a dashed box, its
    refined box solid with a line joining their top-left corners, its class name, and its mask pasted into the ROI
    (`mrcnn.utils.unmold_mask`) and blended in. Prints the positive and negative counts.
    """
    from mrcnn import utils

    shown = image.copy()
    ids = np.arange(rois.shape[0], dtype=np.int32)
    if ids.shape[0] > limit:
        ids = np.random.choice(ids, limit, replace=False)

    _, ax = plt.subplots(1, figsize=(12, 12))
    if rois.shape[0] > limit:
        ax.set_title(f"Showing {len(ids)} random ROIs out of {rois.shape[0]}")
    else:
        ax.set_title(f"{len(ids)} ROIs")
    ax.set_ylim(image.shape[0] + 20, -20)
    ax.set_xlim(-50, image.shape[1] + 20)
    ax.axis("off")

    for roi_id in ids:
        color = np.random.rand(3)
        class_id = class_ids[roi_id]
        y1, x1, y2, x2 = rois[roi_id]
        ax.add_patch(
            patches.Rectangle(
                (x1, y1), x2 - x1, y2 - y1, linewidth=2, edgecolor=color if class_id else "gray",
                facecolor="none", linestyle="dashed",
            )
        )
        if not class_id:
            continue
        ry1, rx1, ry2, rx2 = refined_rois[roi_id]
        refined = patches.Rectangle((rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2, edgecolor=color, facecolor="none")
        ax.add_patch(refined)
        ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))
        ax.text(rx1, ry1 + 8, f"{class_names[class_id]}", color="w", size=11, backgroundcolor="none")
        full_mask = utils.unmold_mask(mask[roi_id], rois[roi_id][:4].astype(np.int32), image.shape)
        apply_mask(shown, full_mask, color)
    ax.imshow(shown)

    positive = int(np.count_nonzero(class_ids > 0))
    print("Positive ROIs: ", positive)
    print("Negative ROIs: ", int(np.count_nonzero(class_ids == 0)))
    print(f"Positive Ratio: {positive / max(1, class_ids.shape[0]):.2f}")


def draw_box(image: np.ndarray, box: Sequence[int], color: Sequence[int]) -> np.ndarray:
    """Draw a box's outline into `image` in place, 2 pixels wide, and return `image`.

    box: (y1, x1, y2, x2) int pixels; color: a value per channel (e.g. 3 ints for RGB uint8). As matterport's: the
    top and left edges start at y1 and x1, the bottom and right edges at y2 and x2 (rows y2, y2 + 1 and columns
    x2, x2 + 1), and the 2x2 corner past (y2, x2) stays undrawn. (matterport's docstring says 3 pixels; it draws 2.)
    """
    y1, x1, y2, x2 = (int(v) for v in box)
    image[y1 : y1 + 2, x1:x2] = color
    image[y2 : y2 + 2, x1:x2] = color
    image[y1:y2, x1 : x1 + 2] = color
    image[y1:y2, x2 : x2 + 2] = color
    return image


def display_top_masks(
    image: np.ndarray, mask: np.ndarray, class_ids: np.ndarray, class_names: Sequence[str], limit: int = 4
) -> None:
    """Show the image and, beside it, the masks of its `limit` classes with the largest total mask area, one panel
    per class (its instances numbered 1, 2, ...); "-" panels fill up when fewer classes have mask pixels.

    mask: [H, W, N]; class_ids: [N].
    """
    panels = [image]
    titles = [f"H x W={image.shape[0]}x{image.shape[1]}"]
    classes = np.unique(class_ids)
    areas = [np.sum(mask[:, :, np.where(class_ids == c)[0]]) for c in classes]
    by_area = sorted(zip(classes, areas), key=lambda pair: pair[1], reverse=True)
    top_classes = [c for c, area in by_area if area > 0]
    for rank in range(limit):
        class_id = top_classes[rank] if rank < len(top_classes) else -1
        instances = mask[:, :, np.where(class_ids == class_id)[0]]
        panels.append(np.sum(instances * np.arange(1, instances.shape[-1] + 1), -1))
        titles.append(class_names[class_id] if class_id != -1 else "-")
    display_images(panels, titles=titles, cols=limit + 1, cmap="Blues_r")


def plot_precision_recall(AP: float, precisions: Sequence[float], recalls: Sequence[float]) -> None:
    """Plot the precision-recall curve in a new figure titled with the AP at IoU 0.5 (both axes 0 to 1.1)."""
    _, ax = plt.subplots(1)
    ax.set_title(f"Precision-Recall Curve. AP@50 = {AP:.3f}")
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0, 1.1)
    ax.plot(recalls, precisions)


def plot_overlaps(
    gt_class_ids: np.ndarray,
    pred_class_ids: np.ndarray,
    pred_scores: np.ndarray,
    overlaps: np.ndarray,
    class_names: Sequence[str],
    threshold: float = 0.5,
) -> None:
    """Draw the IoU grid of predictions (rows) against ground truth (columns) in a new figure.

    Class id 0 (padding) is dropped from both id lists first. Each cell shows its IoU and, above `threshold`,
    "match" (same class) or "wrong". Rows are labelled "{class} ({score:.2f})", columns by class.
    overlaps: [predictions, ground truth].
    """
    gt_class_ids = gt_class_ids[gt_class_ids != 0]
    pred_class_ids = pred_class_ids[pred_class_ids != 0]

    plt.figure(figsize=(12, 10))
    plt.imshow(overlaps, interpolation="nearest", cmap=plt.cm.Blues)
    plt.yticks(
        np.arange(len(pred_class_ids)),
        [f"{class_names[int(c)]} ({pred_scores[i]:.2f})" for i, c in enumerate(pred_class_ids)],
    )
    plt.xticks(np.arange(len(gt_class_ids)), [class_names[int(c)] for c in gt_class_ids], rotation=90)

    half = overlaps.max() / 2.0 if overlaps.size else 0.0
    for i, j in itertools.product(range(overlaps.shape[0]), range(overlaps.shape[1])):
        verdict = ""
        if overlaps[i, j] > threshold:
            verdict = "match" if gt_class_ids[j] == pred_class_ids[i] else "wrong"
        color = "white" if overlaps[i, j] > half else "black" if overlaps[i, j] > 0 else "grey"
        plt.text(
            j, i, f"{overlaps[i, j]:.3f}\n{verdict}", horizontalalignment="center", verticalalignment="center",
            fontsize=9, color=color,
        )
    plt.tight_layout()
    plt.xlabel("Ground Truth")
    plt.ylabel("Predictions")


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray | None = None,
    refined_boxes: np.ndarray | None = None,
    masks: np.ndarray | None = None,
    captions: Sequence[str] | None = None,
    visibilities: Sequence[int] | None = None,
    title: str = "",
    ax=None,
) -> None:
    """Draw boxes, refined boxes, captions and masks on an image, with a margin of a tenth of its height.

    boxes: [N, (y1, x1, y2, x2)] in image pixels, dotted (an all-zero box skips its instance); refined_boxes: the
    same, solid, joined to `boxes` at the top-left corners; masks: [H, W, N]; captions: N strings, put on the
    refined box when there is one; visibilities: N values, 0 (grey, faint, no refined box), 1 (default) or 2 (solid).
    With `ax=None` a new 12x12-inch figure is made (and not shown).
    """
    assert boxes is not None or refined_boxes is not None
    count = boxes.shape[0] if boxes is not None else refined_boxes.shape[0]
    if ax is None:
        _, ax = plt.subplots(1, figsize=(12, 12))
    colors = random_colors(count)

    margin = image.shape[0] // 10
    ax.set_ylim(image.shape[0] + margin, -margin)
    ax.set_xlim(-margin, image.shape[1] + margin)
    ax.axis("off")
    ax.set_title(title)

    shown = image.astype(np.uint32)
    for i in range(count):
        visibility = visibilities[i] if visibilities is not None else 1
        if visibility not in VISIBILITY_STYLES:
            raise ValueError(f"draw_boxes: visibility of box {i} is {visibility!r}; it must be 0, 1 or 2")
        color, style, alpha = VISIBILITY_STYLES[visibility]
        color = color or colors[i]

        if boxes is not None:
            if not np.any(boxes[i]):
                continue
            y1, x1, y2, x2 = boxes[i]
            ax.add_patch(
                patches.Rectangle(
                    (x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=alpha, linestyle=style, edgecolor=color,
                    facecolor="none",
                )
            )
        if refined_boxes is not None:
            ry1, rx1, ry2, rx2 = refined_boxes[i].astype(np.int32)
            if visibility > 0:
                ax.add_patch(
                    patches.Rectangle((rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2, edgecolor=color, facecolor="none")
                )
                if boxes is not None:
                    ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))
            y1, x1 = ry1, rx1  # captions go on the refined box
        if captions is not None:
            ax.text(
                x1, y1, captions[i], size=11, verticalalignment="top", color="w", backgroundcolor="none",
                bbox={"facecolor": color, "alpha": 0.5, "pad": 2, "edgecolor": "none"},
            )
        if masks is not None:
            mask = masks[:, :, i]
            apply_mask(shown, mask, color)
            _add_outlines(ax, mask, color)
    ax.imshow(shown.astype(np.uint8))


def _notebook_display():
    """IPython's `display` of HTML when running inside IPython/Jupyter, else None."""
    try:
        import IPython
        from IPython.display import HTML, display
    except ImportError:
        return None
    if IPython.get_ipython() is None:
        return None
    return lambda markup: display(HTML(markup))


def display_table(table: Iterable[Iterable[Any]]) -> None:
    """Show rows of values as a table: HTML in a notebook, else printed as aligned plain text."""
    rows = [[str(value) for value in row] for row in table]
    show_html = _notebook_display()
    if show_html is not None:
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(value):40}</td>" for value in row) + "</tr>" for row in rows
        )
        show_html("<table>" + body + "</table>")
        return
    widths = [max(len(row[k]) for row in rows if k < len(row)) for k in range(max(map(len, rows), default=0))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def display_weight_stats(model) -> None:
    """Show a table of every weight of `model.keras_model` (name, shape, min, max, std), flagging a constant weight
    other than a bias ("*** dead?") and values beyond +-1000 ("*** Overflow?")."""
    keras_model = getattr(model, "keras_model", None)
    if keras_model is None or not hasattr(keras_model, "weights"):
        raise TypeError(
            f"display_weight_stats needs a model with a `keras_model` (a Keras model), got {type(model).__name__}"
        )
    table = [["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]]
    for weight in keras_model.weights:
        values = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)
        name = getattr(weight, "path", None) or weight.name
        alert = ""
        if values.size and values.min() == values.max() and not name.rsplit("/", 1)[-1].startswith("bias"):
            alert += "  *** dead?"
        if values.size and (abs(values.min()) > 1000 or abs(values.max()) > 1000):
            alert += "  *** Overflow?"
        low, high, spread = (values.min(), values.max(), values.std()) if values.size else (np.nan,) * 3
        table.append([name + alert, str(values.shape), f"{low:+9.4f}", f"{high:+10.4f}", f"{spread:+9.4f}"])
    display_table(table)
