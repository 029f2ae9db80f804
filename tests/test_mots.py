"""MOTS export (vidseg.formats.mots): masks made disjoint, and TrackEval's own MOTS readers score the file."""

import contextlib
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import trackeval
from pycocotools import mask as mask_utils

from vidseg.core.errors import VidsegError
from vidseg.formats import mots
from vidseg.formats.mots import KITTI_MOTS_CLASSES, disjoint_masks, write_mots
from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, DETECTIONS_SCHEMA


H, W = 40, 60
FRAMES = 10


def square(x: int, y: int = 10, size: int = 16) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8, order="F")
    mask[y:y + size, x:x + size] = 1
    return mask


def rle(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask))


def objects(frame: int) -> list[tuple[int, int, str, float, np.ndarray]]:
    """(track id, class id, class name, score, mask): two people crossing (overlapping in frames 6-9, the left
    one scoring higher), a dog outside any mapping, a duplicate of person 1 without a track, and in frame 2 a
    tracked ghost lying wholly under person 1."""
    rows = [(1, 1, "person", 0.9, square(4 + 2 * frame)), (2, 1, "person", 0.8, square(40 - 2 * frame, y=16)),
            (3, 17, "dog", 0.95, square(0, y=30, size=8)), (-1, 1, "person", 0.5, square(4 + 2 * frame))]
    if frame == 2:
        rows.append((4, 1, "person", 0.3, square(10, y=12, size=4)))
    return rows


def detections(path, ids=lambda frame, track_id: track_id):
    """A tracked detections table (vidseg.formats.tables.DETECTIONS_SCHEMA) of `objects`, track ids through `ids`."""
    columns = {name: [] for name in DETECTIONS_SCHEMA.names}
    for frame in range(FRAMES):
        for i, (track_id, class_id, name, score, mask) in enumerate(objects(frame)):
            ys, xs = np.nonzero(mask)
            values = {"video_id": "v", "frame": frame, "time_s": frame / 10, "instance": i,
                      "track_id": ids(frame, track_id) if track_id > 0 else track_id, "class_id": class_id,
                      "class_name": name, "score": score, "x_min": xs.min(), "y_min": ys.min(), "x_max": xs.max() + 1,
                      "y_max": ys.max() + 1, "mask_rle": rle(mask)["counts"].decode(), "mask_area": int(mask.sum()),
                      "width": W, "height": H}
            for key, column in columns.items():
                column.append(values[key])
    pq.write_table(pa.table(columns, schema=DETECTIONS_SCHEMA), path)
    return path


def read_mots(path) -> list[tuple[int, int, int, np.ndarray]]:
    out = []
    for line in path.read_text().splitlines():
        frame, track_id, class_id, h, w, counts = line.split(" ")
        mask = mask_utils.decode({"size": [int(h), int(w)], "counts": counts.encode()})
        out.append((int(frame), int(track_id), int(class_id), mask))
    return out


def test_disjoint_masks_give_contested_pixels_to_the_higher_score():
    low, high, inside = square(4), square(12), square(14, y=12, size=4)
    out = disjoint_masks([rle(low), rle(high), rle(inside), rle(square(40))], [0.5, 0.9, 0.4, 0.7])
    assert out[2] is None  # wholly under a higher one
    assert (mask_utils.decode(out[1]) == high).all()
    assert (mask_utils.decode(out[0]) == (low & ~high)).all()
    assert out[3]["counts"] == rle(square(40))["counts"]
    assert disjoint_masks([], []) == []


def test_the_file_has_disjoint_masks_frame_ids_and_mapped_classes(tmp_path, monkeypatch):
    table = detections(tmp_path / "detections.parquet")
    assert write_mots(table, tmp_path / "v.txt", KITTI_MOTS_CLASSES) == 2 * FRAMES
    lines = read_mots(tmp_path / "v.txt")
    assert [(f, i, c) for f, i, c, _ in lines] == [(f, i, 2) for f in range(FRAMES) for i in (1, 2)]
    for frame in range(FRAMES):
        (_, _, _, first), (_, _, _, second) = [line for line in lines if line[0] == frame]
        assert not (first & second).any()
        assert (first == square(4 + 2 * frame)).all()  # the higher score keeps every pixel
        assert (second == (square(40 - 2 * frame, y=16) & ~square(4 + 2 * frame))).all()
    assert (lines[13][3] != square(40 - 2 * 6, y=16)).any()  # frame 6 was contested
    monkeypatch.setattr(mots, "BATCH_ROWS", 1)  # streamed a row at a time: the same file
    write_mots(table, tmp_path / "again.txt", KITTI_MOTS_CLASSES)
    assert (tmp_path / "again.txt").read_text() == (tmp_path / "v.txt").read_text()


def test_without_a_mapping_vidseg_class_ids_and_frame_base_one(tmp_path):
    write_mots(detections(tmp_path / "d.parquet"), tmp_path / "v.txt", frame_base=1)
    lines = read_mots(tmp_path / "v.txt")
    assert {(f, i, c) for f, i, c, _ in lines if f == 1} == {(1, 1, 1), (1, 2, 1), (1, 3, 17)}
    assert min(f for f, *_ in lines) == 1 and max(f for f, *_ in lines) == FRAMES
    assert 4 not in {i for _, i, *_ in lines}  # the ghost under person 1 was left without pixels


def test_a_table_without_track_ids_is_refused(tmp_path):
    pq.write_table(CHUNK_DETECTIONS_SCHEMA.empty_table(), tmp_path / "chunk.parquet")
    with pytest.raises(VidsegError, match="track_id"):
        write_mots(tmp_path / "chunk.parquet", tmp_path / "v.txt")
    pq.write_table(DETECTIONS_SCHEMA.empty_table(), tmp_path / "empty.parquet")
    assert write_mots(tmp_path / "empty.parquet", tmp_path / "v.txt") == 0 and (tmp_path / "v.txt").read_text() == ""


# TrackEval's layouts: (dataset class, frame base, ground truth path, tracker path) relative to a root folder.
LAYOUTS = {
    "KittiMOTS": (0, "gt/label_02/seq.txt", "trackers/{tracker}/data/seq.txt"),
    "MOTSChallenge": (1, "gt/seq/gt/gt.txt", "trackers/{tracker}/data/seq.txt"),
}


def trackeval_hota(root, dataset_name: str, trackers: dict, frames: int = FRAMES) -> dict[str, float]:
    """HOTA (mean over its IoU thresholds) per tracker, as TrackEval's Evaluator reads the MOTS files in `root`."""
    config = {"GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trackers"),
              "OUTPUT_FOLDER": str(root / "out"), "TRACKERS_TO_EVAL": list(trackers),
              "CLASSES_TO_EVAL": ["pedestrian"], "SEQ_INFO": {"seq": frames}, "PRINT_CONFIG": False}
    if dataset_name == "MOTSChallenge":
        config["SKIP_SPLIT_FOL"] = True
    dataset = getattr(trackeval.datasets, dataset_name)(config)
    evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                                     "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                                     "PLOT_CURVES": False, "LOG_ON_ERROR": str(root / "error.log")})
    with contextlib.redirect_stdout(io.StringIO()):
        results, _ = evaluator.evaluate([dataset], [trackeval.metrics.HOTA()])
    return {t: float(np.mean(results[dataset_name][t]["seq"]["pedestrian"]["HOTA"]["HOTA"])) for t in trackers}


@pytest.mark.parametrize("dataset_name", sorted(LAYOUTS))
def test_trackeval_scores_the_file_one_and_less_for_swapped_ids(tmp_path, dataset_name):
    frame_base, gt, tracker = LAYOUTS[dataset_name]
    truth = detections(tmp_path / "truth.parquet")
    swapped = detections(tmp_path / "swapped.parquet", lambda f, i: {1: 2, 2: 1}.get(i, i) if f >= 5 else i)
    write_mots(truth, tmp_path / gt, KITTI_MOTS_CLASSES, frame_base)
    write_mots(truth, tmp_path / tracker.format(tracker="same"), KITTI_MOTS_CLASSES, frame_base)
    write_mots(swapped, tmp_path / tracker.format(tracker="swapped"), KITTI_MOTS_CLASSES, frame_base)
    hota = trackeval_hota(tmp_path, dataset_name, {"same": None, "swapped": None})
    assert hota["same"] == pytest.approx(1.0, abs=1e-9)
    # detection all found (DetA 1), each id right for half of each object's frames: AssA 1/3
    # (vidseg.evaluation.track_eval)
    assert hota["swapped"] == pytest.approx((1 / 3) ** 0.5)


def test_trackeval_refuses_the_overlapping_masks_the_export_removes(tmp_path):
    _, gt, tracker = LAYOUTS["KittiMOTS"]
    lines = [f"{f} {i} 2 {H} {W} {rle(mask)['counts'].decode()}"
             for f in range(FRAMES) for i, _, _, _, mask in objects(f)[:2]]
    for path in (tmp_path / gt, tmp_path / tracker.format(tracker="raw")):
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(lines) + "\n")
    with pytest.raises(trackeval.utils.TrackEvalException, match="overlapping masks"):
        trackeval_hota(tmp_path, "KittiMOTS", {"raw": None})
