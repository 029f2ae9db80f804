"""Track colours: CIEDE2000 as scikit-image computes it, a palette spread out in it, and tracks seen together drawn
in colours at least MIN_DELTA_E apart, measured on the pixels of a crowded frame."""

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from vidseg.media import palette
from vidseg.media.palette import MIN_DELTA_E, PALETTE, assign_colours, bgr, ciede2000, hex_colour, to_lab
from vidseg.media.render import draw


def test_ciede2000_is_scikit_images_and_sharmas():
    from skimage.color import deltaE_ciede2000

    rng = np.random.default_rng(0)
    a, b = (rng.uniform([0, -100, -100], [100, 100, 100], (5000, 3)) for _ in range(2))
    assert np.abs(ciede2000(a, b) - deltaE_ciede2000(a, b)).max() < 1e-9
    grey = np.array([[50, 0, 0], [60, 0, 0]], float)  # zero chroma: hue undefined
    assert ciede2000(grey[0], grey[1]) == pytest.approx(deltaE_ciede2000(grey[0], grey[1]))
    # pairs from Sharma, Wu and Dalal's table of test data (2005)
    assert ciede2000(np.array([50, 2.6772, -79.7751]), np.array([50, 0, -82.7485])) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000(np.array([50, 2.5, 0]), np.array([73, 25, -18])) == pytest.approx(27.1492, abs=1e-4)


def test_the_palette_is_spread_out_and_light_enough_for_black_text():
    lab = to_lab(PALETTE)
    assert len(set(map(tuple, PALETTE))) == palette.PALETTE_SIZE and (lab[:, 0] >= 55).all()
    assert MIN_DELTA_E > 15  # clearly different colours (a just noticeable difference is about 1-2)
    assert bgr(hex_colour(3)) == tuple(int(v) for v in PALETTE[3][::-1])


def colour_distances(first, last, colours) -> list[float]:
    """CIEDE2000 between the colours of every two tracks alive at once."""
    lab = to_lab(PALETTE[colours])
    return [float(ciede2000(lab[i], lab[j])) for i in range(len(first)) for j in range(i)
            if first[i] <= last[j] and first[j] <= last[i]]


@pytest.mark.parametrize("tracks", [12, 16])
def test_tracks_alive_together_get_colours_far_apart(tracks):
    first, last = np.zeros(tracks, int), np.full(tracks, 99)
    assert min(colour_distances(first, last, assign_colours(first, last))) >= MIN_DELTA_E - 1e-9
    # a long video: tracks come and go, ten alive at a time, 200 in all; a colour comes back only for tracks apart
    first = np.arange(200) * 10
    last = first + 95
    assert min(colour_distances(first, last, assign_colours(first, last))) >= MIN_DELTA_E - 1e-9


def test_more_tracks_than_colours_still_spread_as_far_as_they_can():
    first, last = np.zeros(40, int), np.full(40, 9)
    used = np.bincount(assign_colours(first, last), minlength=16)
    assert used.max() - used.min() <= 1  # 40 tracks at once: each colour given 2 or 3 times


def test_a_crowded_frame_is_drawn_in_colours_told_apart():
    """Twelve tracks in one frame (the tracks table's colours): the pixels of their outlines, measured, are their
    colours and differ pairwise by at least MIN_DELTA_E."""
    h, w, n = 240, 480, 12
    colours = [hex_colour(i) for i in assign_colours(np.zeros(n, int), np.full(n, 5))]
    rows = []
    for i in range(n):
        x0, y0 = 10 + (i % 6) * 78, 40 + (i // 6) * 110
        mask = np.zeros((h, w), np.uint8)
        mask[y0:y0 + 60, x0:x0 + 60] = 1
        rle = mask_utils.encode(np.asfortranarray(mask))["counts"].decode()
        rows.append({"frame": 0, "track_id": i, "class_id": 1, "class_name": "box", "score": 0.9, "x_min": x0,
                     "y_min": y0, "x_max": x0 + 60, "y_max": y0 + 60, "mask_rle": rle, "colour": colours[i]})
    image = draw(np.full((h, w, 3), 128, np.uint8), pd.DataFrame(rows))
    drawn = []
    for row in rows:  # the box's outline, drawn over the mask in the track's colour
        patch = image[row["y_min"] + 10:row["y_max"] - 10, row["x_min"]]
        drawn.append(np.median(patch, axis=0)[::-1])  # RGB
    assert [bgr(c) for c in colours] == [tuple(int(v) for v in d[::-1]) for d in drawn]
    lab = to_lab(np.array(drawn))
    distances = ciede2000(lab[:, None], lab[None])[~np.eye(n, dtype=bool)]
    assert distances.min() >= MIN_DELTA_E - 1e-6, distances.min()
