"""The report's plots, drawn with matplotlib (Agg) into small PNG files.

matplotlib, not Altair/Vega-Lite: PNGs need no JavaScript library in the page
(Vega's would have to be downloaded or vendored), render the same in every
browser and cost tens of KB each, which keeps a 100-video report small.
Colours are the annotated video's (`vidseg.media.render`): a class or a track looks
the same in the plots as in the video.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vidseg.media.render import class_colour  # noqa: E402

WIDTH_IN, DPI = 7.2, 90  # 648 px wide
MAX_POINTS = 400  # time bins of the detections plot
MAX_CLASSES = 10  # classes drawn in one plot, the most detected first (a COCO model can find 80)
MAX_TRACK_LABELS = 30  # more tracks than this: no per-track tick labels


def top_in(title: bool) -> tuple[float, float, float, float]:
    """Margins of a plot with or without a title line."""
    return (0.8, 1.5, 0.5, 0.35 if title else 0.15)


def rgb(bgr: tuple[int, int, int]) -> tuple[float, float, float]:
    return bgr[2] / 255, bgr[1] / 255, bgr[0] / 255


def _figure(height_in: float, margins_in: tuple[float, float, float, float] = (0.8, 1.5, 0.5, 0.2), columns: int = 1):
    """A figure with fixed margins (left, right, bottom, top, inches): one draw to save it, where a tight bounding
    box would cost a second (drawing is most of a page's time)."""
    fig, axes = plt.subplots(1, columns, figsize=(WIDTH_IN, height_in), squeeze=False, sharey=columns > 1)
    left, right, bottom, top = margins_in
    fig.subplots_adjust(left=left / WIDTH_IN, right=1 - right / WIDTH_IN, bottom=bottom / height_in,
                        top=1 - top / height_in, wspace=0.08)
    return fig, axes[0] if columns > 1 else axes[0][0]


def _legend(ax) -> None:
    """The legend outside the plot, right of it."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)


def most_detected(per_class: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The MAX_CLASSES classes with the most detections, most first (ties by name)."""
    return sorted(per_class.items(), key=lambda item: (-item[1].sum(), item[0]))[:MAX_CLASSES]


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def time_axis(ax, duration: float) -> tuple[float, float, float]:
    """Put time 0-`duration` on the x axis; returns (left, right, end): the plot area's edges as fractions of the
    image's width and the time at its right edge, which let a click on the image seek the video (data-time-axis)."""
    end = max(duration, 1e-3)
    ax.set_xlim(0, end)
    box = ax.get_position()
    return round(box.x0, 4), round(box.x1, 4), end


def detections_over_time(path: Path, times: np.ndarray, per_frame: dict[str, np.ndarray], class_ids: dict[str, int],
                         duration: float) -> tuple[float, float, float]:
    """Detections per frame of each class against time (up to `duration`, s); long videos are averaged over
    MAX_POINTS time bins. Returns its `time_axis`."""
    notes = [f"mean over bins of {len(times) / MAX_POINTS:.1f} frames"] if len(times) > MAX_POINTS else []
    notes += [f"the {MAX_CLASSES} most detected of {len(per_frame)} classes"] if len(per_frame) > MAX_CLASSES else []
    fig, ax = _figure(2.4, top_in(bool(notes)))
    edges = np.linspace(0, len(times), min(len(times), MAX_POINTS) + 1).astype(int)
    starts = np.append(times[edges[:-1]], max(duration, times[-1])) if len(times) else times
    for name, counts in most_detected(per_frame):
        if not len(times):
            break
        means = np.add.reduceat(counts.astype(float), edges[:-1]) / np.diff(edges)
        ax.step(starts, np.append(means, means[-1]), where="post", label=name,
                color=rgb(class_colour(class_ids[name])), linewidth=1.4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("detections per frame")
    if notes:
        ax.set_title("; ".join(notes), fontsize=9)
    if per_frame:
        _legend(ax)
    else:
        ax.text(0.5, 0.5, "no detections", transform=ax.transAxes, ha="center", va="center")
    ax.grid(alpha=0.3)
    axis = time_axis(ax, max(duration, times[-1] if len(times) else 0.0))
    _save(fig, path)
    return axis


def tracks_timeline(path: Path, tracks: dict[str, np.ndarray], duration: float) -> tuple[float, float, float]:
    """One horizontal bar per confirmed track, from first to last sight, in the track's video colour. Returns its
    `time_axis`."""
    ids = tracks.get("track_id", np.array([], dtype=np.int64))
    order = np.lexsort((ids, tracks["first_time_s"])) if len(ids) else np.array([], dtype=int)
    height = float(np.clip(0.8 + 0.18 * len(ids), 1.4, 9.0))
    margins = (1.4, 0.3, 0.5, 0.1)
    fig, ax = _figure(height, margins)
    if len(ids):  # one line collection, not an artist per track: thousands of tracks stay cheap
        start, end = tracks["first_time_s"][order], tracks["last_time_s"][order]
        row_points = (height - margins[2] - margins[3]) * 72 / len(ids)
        ax.hlines(np.arange(len(order)), start, np.maximum(end, start + duration / 400),
                  linewidth=max(0.7 * row_points, 0.6), colors=[tracks["colour"][i] for i in order],
                  capstyle="butt")
        ax.set_ylim(len(ids) - 0.5, -0.5)
    if 0 < len(ids) <= MAX_TRACK_LABELS:
        ax.set_yticks(range(len(order)), [f"#{ids[i]} {tracks['class_name'][i]}" for i in order], fontsize=8)
    else:
        ax.set_ylabel("track (by first sight)")
    if not len(ids):
        ax.text(0.5, 0.5, "no confirmed tracks", transform=ax.transAxes, ha="center", va="center")
    axis = time_axis(ax, duration)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)
    return axis


def score_histogram(path: Path, edges: np.ndarray, scores: dict[str, np.ndarray], class_ids: dict[str, int],
                    threshold: float | None = None, scored: np.ndarray | None = None) -> None:
    """Detection scores per class, stacked, with the tables' `threshold` marked; `scored` (counts of every detection
    the evaluation scored, in the same bins) adds those below the threshold in grey."""
    fig, ax = _figure(2.2, top_in(len(scores) > MAX_CLASSES))
    if len(scores) > MAX_CLASSES:
        ax.set_title(f"the {MAX_CLASSES} most detected of {len(scores)} classes", fontsize=9)
    bottom = np.zeros(len(edges) - 1)
    if scored is not None and threshold is not None:
        below = np.where(edges[1:] <= threshold + 1e-9, np.asarray(scored, float), 0.0)
        if below.any():
            ax.bar(edges[:-1], below, width=np.diff(edges), align="edge", color="#bbbbbb", edgecolor="white",
                   linewidth=0.3, label="scored, not kept")
    for name, counts in most_detected(scores):
        ax.bar(edges[:-1], counts, width=np.diff(edges), bottom=bottom, align="edge", label=name,
               color=rgb(class_colour(class_ids[name])), edgecolor="white", linewidth=0.3)
        bottom += counts
    if threshold is not None:
        ax.axvline(threshold, color="#222", linestyle="--", linewidth=1, label=f"tables keep \u2265 {threshold:g}")
    if bottom.max(initial=0) > 20 * max(1.0, bottom[bottom > 0].min(initial=1.0)) or \
            (scored is not None and np.count_nonzero(scored)):  # a few low scores stay visible beside a tall bar
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, None)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("score")
    ax.set_ylabel("detections")
    if scores or threshold is not None:
        _legend(ax)
    if not scores:
        ax.text(0.5, 0.5, "no detections", transform=ax.transAxes, ha="center", va="center")
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def pr_curves(path: Path, curves: dict[str, dict[str, list]]) -> None:
    """COCOeval's precision-recall curves (mean over classes) for boxes and masks at IoU 0.5 and 0.75."""
    fig, axes = _figure(2.6, (0.8, 1.5, 0.5, 0.3), columns=len(curves))
    axes = np.atleast_1d(axes)
    for ax, (kind, curve) in zip(axes, sorted(curves.items())):
        for key, label, style in (("precision_iou50", "IoU 0.5", "-"), ("precision_iou75", "IoU 0.75", "--")):
            ax.plot(curve["recall"], curve[key], style, label=label, linewidth=1.4)
        ax.set_title({"bbox": "boxes", "segm": "masks"}.get(kind, kind), fontsize=10)
        ax.set_xlabel("recall")
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision")
    _legend(axes[-1])
    _save(fig, path)
