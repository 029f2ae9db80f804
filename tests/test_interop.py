"""One frame of the detections table as supervision's Detections (vidseg.formats.interop), drawn by its annotators."""

import numpy as np
import pandas as pd
import pytest
import supervision as sv

from test_mots import H, W, detections, objects
from vidseg.core.errors import VidsegError
from vidseg.formats.interop import supervision_detections


def test_a_frame_becomes_supervision_detections_that_its_annotators_draw(tmp_path):
    table = pd.read_parquet(detections(tmp_path / "v.parquet"))
    rows = table[table.frame == 6]
    found = supervision_detections(rows)
    assert isinstance(found, sv.Detections) and len(found) == len(objects(6)) == len(rows)
    np.testing.assert_array_equal(found.xyxy, rows[["x_min", "y_min", "x_max", "y_max"]].to_numpy(np.float32))
    for mask, (_, _, _, _, want) in zip(found.mask, objects(6)):
        np.testing.assert_array_equal(mask, want.astype(bool))
    np.testing.assert_array_equal(found.tracker_id, [1, 2, 3, -1])
    np.testing.assert_array_equal(found.class_id, [1, 1, 17, 1])
    assert list(found.data["class_name"]) == ["person", "person", "dog", "person"]
    assert found.confidence == pytest.approx([0.9, 0.8, 0.95, 0.5])
    # supervision's own tools take it: a mask annotator colours exactly the masks' pixels
    image = np.zeros((H, W, 3), np.uint8)
    drawn = sv.MaskAnnotator(opacity=1.0).annotate(image.copy(), found)
    np.testing.assert_array_equal(drawn.any(axis=2), found.mask.any(axis=0))
    assert len(found[found.tracker_id > 0]) == 3  # supervision's filtering works on it


def test_an_empty_frame_and_several_frames(tmp_path):
    table = pd.read_parquet(detections(tmp_path / "v.parquet"))
    assert len(supervision_detections(table.iloc[:0])) == 0
    with pytest.raises(VidsegError, match="one frame"):
        supervision_detections(table)
