"""vidseg.media.rle: compressed COCO RLE decoded inside a box equals pycocotools' full decode, cropped."""

import numpy as np
from pycocotools import mask as mask_utils

from vidseg.media.rle import decode_box, run_lengths


def test_box_decoding_equals_pycocotools_on_random_masks():
    rng = np.random.default_rng(0)
    checked = 0
    for case in range(400):
        height, width = (int(v) for v in rng.integers(1, 90, 2))
        if case % 2:  # a blob: long runs, large counts (multi-character, negative differences)
            mask = np.zeros((height, width), np.uint8)
            y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
            mask[y0:y0 + int(rng.integers(1, 60)), x0:x0 + int(rng.integers(1, 60))] = 1
        else:  # noise: many short runs
            mask = (rng.random((height, width)) < rng.random()).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(mask))
        full = mask_utils.decode(rle).astype(bool)
        runs = run_lengths(rle["counts"])
        assert runs.sum() == height * width and (runs[1:] > 0).all()
        x, y, w, h = (int(v) for v in mask_utils.toBbox(rle))
        if w:
            np.testing.assert_array_equal(decode_box(rle["counts"], height, x, y, w, h), full[y:y + h, x:x + w])
            checked += 1
        np.testing.assert_array_equal(decode_box(rle["counts"], height, 0, 0, width, height), full)
    assert checked > 300


def test_large_frames():
    mask = np.zeros((720, 1280), np.uint8)
    yy, xx = np.ogrid[:720, :1280]
    mask[((xx - 600) / 90) ** 2 + ((yy - 300) / 70) ** 2 <= 1] = 1
    mask[700:, 1270:] = 1  # a corner piece far from the rest
    rle = mask_utils.encode(np.asfortranarray(mask))
    x, y, w, h = (int(v) for v in mask_utils.toBbox(rle))
    np.testing.assert_array_equal(decode_box(rle["counts"], 720, x, y, w, h), mask[y:y + h, x:x + w].astype(bool))
    np.testing.assert_array_equal(decode_box(rle["counts"], 720, 590, 290, 30, 20), mask[290:310, 590:620].astype(bool))
