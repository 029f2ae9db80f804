"""Track ids across frames: ByteTrack-style association of each frame's detections with the live tracks.

Why written here rather than taken from a tracking library: the permissive ones
do not fit this stack or this data. roboflow `trackers` (Apache-2.0) needs
`supervision`, which installs `opencv-python` beside the `opencv-python-headless`
this project uses (two wheels writing one `cv2` folder; the GUI one needs libGL on
servers) and PyAV; `norfair` (BSD) requires NumPy < 2, below what TensorFlow 2.21
here runs on. Neither associates on masks without replacing its matching step,
and masks are what this workflow has: association on mask IoU scores higher than
on boxes on the demo videos (README, "Tracking"). What is not ours: the optimal
assignment is SciPy's `linear_sum_assignment`, mask IoU is pycocotools' on the
compressed RLEs the tables hold (no mask is decoded).

The method (after Zhang et al., "ByteTrack", 2022, without its Kalman filter; the
keys are `TrackSettings`' fields):
0. a detection whose mask overlaps a higher-scoring one of its frame by IoU >=
   `duplicate_iou` is the same object found twice (often as another class): it
   takes no part and gets no id;
1. confirmed tracks are matched to the detections scoring >= `new_track_score`,
   by maximum total similarity, pairs below `match_iou` not counting; those still
   unmatched, to the lower-scoring detections (an object whose score dips keeps its
   track); tentative tracks then to the confident detections left;
2. confident detections left over start tentative tracks. A tentative track is
   confirmed after `min_hits` consecutive frames and gets the next track id (1, 2,
   ...), also for its earlier detections; one that misses a frame first is dropped
   and its detections keep `UNTRACKED` (-1). Tracks started in the first frame
   with detections are confirmed at once (a one-frame video gets one-frame tracks);
3. a confirmed track lives on `max_lost` frames without a detection, then ends.

Similarity, `association: mask` (the default): mask IoU with the track's last mask
when the track was seen in the previous frame. For a track unseen since (its
mask may have moved on), box IoU of its last box moved on at its last velocity
with the detection's box, both grown by `lost_buffer` times their size on each
side (buffered IoU, Yang et al. 2023: objects coming back from behind another).
`association: box` uses the moved-on box for every track. With `class_aware`,
detections never match a track of another class.

Track ids are a function of each frame's detections as a set, not of their order
or of a score's last bits: the same detections of a run on another thread count,
CPU or chunking must get the same ids. Each frame's detections are taken in one
canonical order (box, class, mask: exact values, not the score), which decides
every tie (in the assignment, and which new track gets the lower id); for step 0,
scores equal to `SCORE_DECIMALS` decimals count as tied and that order decides
which detection is the original (a confident model's scores crowd at 1.0, where
float32 steps are 6e-8: 1.0 and 0.99999994 are one step apart). What stays
sensitive is a score exactly on a threshold (`new_track_score`, the table's
`min_score`) or, for a duplicate, exactly half-way between two 4-decimal values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from vidseg.core.errors import ConfigError, settings_from_config
from vidseg.formats.track_ids import UNTRACKED

SCORE_DECIMALS = 4  # scores equal to this many decimals are tied when ranked (duplicates, step 0)

ASSOCIATIONS = ("mask", "box")


@dataclass(frozen=True)
class TrackSettings:
    """The `track:` config keys (config/README.md)."""

    association: str = "mask"
    match_iou: float = 0.2
    new_track_score: float = 0.9
    min_hits: int = 2
    max_lost: int = 30
    duplicate_iou: float = 0.5
    lost_buffer: float = 1.0
    class_aware: bool = False

    def __post_init__(self) -> None:
        if self.association not in ASSOCIATIONS:
            raise ConfigError(f"config key 'track.association': {self.association!r} is not one of {ASSOCIATIONS}")
        if not 0 < self.match_iou <= 1:
            raise ConfigError(f"config key 'track.match_iou': {self.match_iou} is not in (0, 1]")
        if not 0 < self.duplicate_iou <= 1:
            raise ConfigError(f"config key 'track.duplicate_iou': {self.duplicate_iou} is not in (0, 1]")
        if not 0 <= self.new_track_score <= 1:
            raise ConfigError(f"config key 'track.new_track_score': {self.new_track_score} is not in [0, 1]")
        for key, least in (("min_hits", 1), ("max_lost", 0), ("lost_buffer", 0)):
            if getattr(self, key) < least:
                raise ConfigError(f"config key 'track.{key}': {getattr(self, key)} is below {least}")

    @classmethod
    def from_config(cls, settings: Mapping[str, Any] | None) -> "TrackSettings":
        return settings_from_config(cls, settings, "track")


@dataclass
class _Track:
    box: np.ndarray  # x_min, y_min, x_max, y_max of its last detection (float64)
    velocity: np.ndarray  # box change per frame, smoothed
    rle: dict  # its last mask
    class_id: int
    last_frame: int
    hits: int = 1
    track_id: int = UNTRACKED  # set when confirmed
    pending: list[int] = field(default_factory=list)  # detection ordinals seen while tentative

    def predicted_box(self, frame: int) -> np.ndarray:
        return self.box + self.velocity * (frame - self.last_frame)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, 4) with every box in `b` (m, 4), both x_min, y_min, x_max, y_max (exclusive)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _grown(boxes: np.ndarray, ratio: float) -> np.ndarray:
    """Boxes grown on each side by `ratio` times their width and height."""
    size = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    return boxes + ratio * size * np.array([-1, -1, 1, 1])


def _duplicates(boxes: np.ndarray, scores: np.ndarray, rles: list[dict], threshold: float) -> np.ndarray:
    """Which detections cover a higher-scoring one of the frame by mask IoU >= threshold (whatever their classes)."""
    n = len(boxes)
    duplicate = np.zeros(n, bool)
    if n < 2 or threshold >= 1:
        return duplicate
    iou = np.asarray(mask_utils.iou(rles, rles, [0] * n)).reshape(n, n)
    # by score to SCORE_DECIMALS decimals, ties in the given (canonical) order
    order = np.argsort(-np.round(scores, SCORE_DECIMALS), kind="stable")
    for rank, i in enumerate(order):
        if not duplicate[i]:
            later = order[rank + 1:]
            duplicate[later[iou[i, later] >= threshold]] = True
    return duplicate


def canonical_order(boxes: np.ndarray, class_ids: np.ndarray, rles: Sequence[dict]) -> np.ndarray:
    """The order of a frame's detections by box (x_min, y_min, x_max, y_max), then class, then mask: exact values
    that do not change with the order the detections came in or with their scores' last bits."""
    masks = [rle["counts"] for rle in rles]
    return np.array(sorted(range(len(masks)), key=lambda i: (*boxes[i].tolist(), int(class_ids[i]), masks[i])),
                    dtype=np.int64)


def _match(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Row-column pairs of the assignment with the largest total similarity, keeping pairs >= threshold."""
    if similarity.size == 0:
        return []
    from scipy.optimize import linear_sum_assignment  # here: the run plan imports this module at DAG time (0.3 s)

    # pairs under the threshold must not take part: a negative weight keeps them from displacing real matches
    weights = np.where(similarity >= threshold, similarity, -1.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if similarity[r, c] >= threshold]


class Tracker:
    """Assigns track ids to one video's detections, frame after frame (see the module docstring).

    Call `update` once per frame that has detections, in frame order (frames
    without any need no call: the gap counts); `ids` then holds every detection's
    track id, by the ordinal its detection had in the stream (0, 1, ... over all
    `update` calls). An id can still change from `UNTRACKED` while its track is
    tentative, so read `ids` after the last frame.
    """

    def __init__(self, settings: TrackSettings = TrackSettings()):
        self.settings = settings
        self.tracks: list[_Track] = []
        self._ids: list[int] = []
        self._next_id = 1
        self._frame = -1
        self._first_count = -1  # detections in the first frame: tracks they start are confirmed at once

    @property
    def ids(self) -> np.ndarray:
        return np.asarray(self._ids, np.int64)

    @property
    def n_tracks(self) -> int:
        return self._next_id - 1

    def _similarity(self, tracks: list[_Track], frame: int, boxes: np.ndarray, rles: list[dict],
                    class_ids: np.ndarray) -> np.ndarray:
        sim = np.zeros((len(tracks), len(boxes)))
        if not tracks or not len(boxes):
            return sim
        predicted = np.stack([t.predicted_box(frame) for t in tracks])
        sim[:] = box_iou(predicted, boxes)
        lost = [i for i, t in enumerate(tracks) if t.last_frame < frame - 1]
        if lost and self.settings.lost_buffer > 0:  # buffered IoU: both boxes grown, for objects back from hiding
            sim[lost] = box_iou(_grown(predicted[lost], self.settings.lost_buffer),
                                _grown(boxes, self.settings.lost_buffer))
        if self.settings.association == "mask":
            recent = [i for i, t in enumerate(tracks) if t.last_frame == frame - 1]
            if recent:
                sim[recent] = np.asarray(mask_utils.iou(rles, [tracks[i].rle for i in recent],
                                                        [0] * len(recent))).reshape(len(boxes), len(recent)).T
        if self.settings.class_aware:
            track_classes = np.array([t.class_id for t in tracks])
            sim[track_classes[:, None] != class_ids[None, :]] = 0.0
        return sim

    def update(self, frame: int, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
               rles: Sequence[dict]) -> np.ndarray:
        """Track ids for one frame's detections (`UNTRACKED` for now: tentative tracks are labelled once confirmed).

        `boxes` (n, 4): x_min, y_min, x_max, y_max; `rles`: pycocotools RLE dicts
        (`{"size": [h, w], "counts": ...}`).
        """
        if frame <= self._frame:
            raise ValueError(f"frames must come in increasing order (frame {frame} after {self._frame})")
        s = self.settings
        self._expire(frame)
        self._frame = frame
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        first = len(self._ids)
        self._ids.extend([UNTRACKED] * len(boxes))
        # from here on detection d is the d-th in canonical order; its ordinal in the stream is first + order[d]
        order = canonical_order(boxes, np.asarray(class_ids), list(rles))
        ordinals = first + order
        boxes = boxes[order]
        scores = np.asarray(scores, np.float64).reshape(-1)[order]
        class_ids = np.asarray(class_ids, np.int64).reshape(-1)[order]
        rles = [rles[i] for i in order]
        if self._first_count < 0:
            self._first_count = len(boxes)
        sim = self._similarity(self.tracks, frame, boxes, rles, class_ids)
        usable = ~_duplicates(boxes, scores, rles, s.duplicate_iou)
        high = np.flatnonzero(usable & (scores >= s.new_track_score))
        low = np.flatnonzero(usable & (scores < s.new_track_score))
        confirmed = [t for t, track in enumerate(self.tracks) if track.track_id != UNTRACKED]
        tentative = [t for t, track in enumerate(self.tracks) if track.track_id == UNTRACKED]
        matched: dict[int, int] = {}  # track index -> detection index
        # confirmed tracks first take the confident detections, then the others; tentative ones take what is left
        for tracks, detections in ((confirmed, high), (confirmed, low), (tentative, high)):
            tracks = [t for t in tracks if t not in matched]
            detections = np.array([d for d in detections if d not in matched.values()], int)
            for t, d in _match(sim[np.ix_(tracks, detections)], s.match_iou):
                matched[tracks[t]] = int(detections[d])
        for t, d in matched.items():
            self._extend(self.tracks[t], frame, boxes[d], rles[d], int(ordinals[d]))
        taken = set(matched.values())
        # tentative tracks not seen in this frame are dropped
        self.tracks = [t for t in self.tracks if t.track_id != UNTRACKED or t.last_frame == frame]
        for d in high:
            if d not in taken:  # (duplicates are in neither high nor low: they never start a track)
                track = _Track(box=boxes[d].copy(), velocity=np.zeros(4), rle=rles[d], class_id=int(class_ids[d]),
                               last_frame=frame, pending=[int(ordinals[d])])
                self.tracks.append(track)
                self._confirm_if_ready(track)
        return np.asarray(self._ids[first:], np.int64)

    def _extend(self, track: _Track, frame: int, box: np.ndarray, rle: dict, ordinal: int) -> None:
        gap = frame - track.last_frame
        step = (box - track.box) / gap
        track.velocity = step if track.hits == 1 else 0.5 * track.velocity + 0.5 * step
        track.box, track.rle, track.last_frame = box.copy(), rle, frame
        track.hits += 1
        if track.track_id == UNTRACKED:
            track.pending.append(ordinal)
            self._confirm_if_ready(track)
        else:
            self._ids[ordinal] = track.track_id

    def _confirm_if_ready(self, track: _Track) -> None:
        if track.track_id != UNTRACKED:
            return
        if track.hits >= self.settings.min_hits or track.pending[0] < self._first_count:
            track.track_id = self._next_id
            self._next_id += 1
            for ordinal in track.pending:
                self._ids[ordinal] = track.track_id
            track.pending = []

    def _expire(self, frame: int) -> None:
        """Drop tracks unseen for more than `max_lost` frames (tentative ones: unseen in the previous frame)."""
        keep = []
        for t in self.tracks:
            limit = self.settings.max_lost if t.track_id != UNTRACKED else 0
            if frame - t.last_frame - 1 <= limit:
                keep.append(t)
        self.tracks = keep
