"""mrcnn.visualize: matterport's drawing helpers draw what matterport's draw (Agg backend, nothing shown)."""

import colorsys
import inspect
import sys
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import patches  # noqa: E402

from mrcnn import visualize  # noqa: E402

CLASS_NAMES = ["BG", "cat", "dog", "bird"]
H, W = 60, 80
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def shows(monkeypatch):
    """Counts plt.show() calls (a no-op under Agg anyway)."""
    calls = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: calls.append(1))
    return calls


def scene():
    """A 60x80 grey-gradient image with a cat (a block inside) and a dog (touching the left and bottom edges)."""
    image = np.tile(np.linspace(20, 200, W, dtype=np.uint8), (H, 1))[:, :, None].repeat(3, axis=2).copy()
    masks = np.zeros((H, W, 2), bool)
    masks[10:20, 30:50, 0] = True
    masks[45:60, 0:15, 1] = True
    boxes = np.array([[10, 30, 20, 50], [45, 0, 60, 15]], np.int32)
    class_ids = np.array([1, 2], np.int32)
    scores = np.array([0.98765, 0.5], np.float32)
    return image, boxes, masks, class_ids, scores


def blended(image, masks, colors, alpha=0.5):
    """matterport's blend, computed here independently: uint32 copy, truncating float blend per mask, then uint8."""
    out = image.astype(np.uint32)
    for i, color in enumerate(colors):
        m = masks[:, :, i]
        out[m] = (out[m] * (1 - alpha) + alpha * 255 * np.asarray(color[:3])).astype(np.uint32)
    return out.astype(np.uint8)


def rectangles(ax):
    return [p for p in ax.patches if isinstance(p, patches.Rectangle)]


def polygons(ax):
    return [p for p in ax.patches if isinstance(p, patches.Polygon)]


# matterport's parameters and defaults, function by function (notebooks call these by keyword).
MATTERPORT_SIGNATURES = {
    "random_colors": "N, bright=True",
    "apply_mask": "image, mask, color, alpha=0.5",
    "display_images": "images, titles=None, cols=4, cmap=None, norm=None, interpolation=None",
    "display_instances": "image, boxes, masks, class_ids, class_names, scores=None, title='', figsize=(16, 16), "
    "ax=None, show_mask=True, show_bbox=True, colors=None, captions=None",
    "display_differences": "image, gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask, "
    "class_names, title='', ax=None, show_mask=True, show_box=True, iou_threshold=0.5, score_threshold=0.5",
    "draw_rois": "image, rois, refined_rois, mask, class_ids, class_names, limit=10",
    "draw_box": "image, box, color",
    "display_top_masks": "image, mask, class_ids, class_names, limit=4",
    "plot_precision_recall": "AP, precisions, recalls",
    "plot_overlaps": "gt_class_ids, pred_class_ids, pred_scores, overlaps, class_names, threshold=0.5",
    "draw_boxes": "image, boxes=None, refined_boxes=None, masks=None, captions=None, visibilities=None, title='', "
    "ax=None",
    "display_table": "table",
    "display_weight_stats": "model",
}


def test_signatures_match_matterport():
    for name, expected in MATTERPORT_SIGNATURES.items():
        parameters = inspect.signature(getattr(visualize, name)).parameters.values()
        written = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters)
        assert written == expected, name


def test_random_colors_are_distinct_evenly_spaced_hues():
    colors = visualize.random_colors(7)
    assert len(colors) == 7 and len(set(colors)) == 7
    assert all(len(c) == 3 and all(0.0 <= v <= 1.0 for v in c) for c in colors)
    hsv = [colorsys.rgb_to_hsv(*c) for c in colors]
    assert sorted(round(h * 7) for h, _, _ in hsv) == list(range(7))
    assert all(s == 1.0 and v == 1.0 for _, s, v in hsv)
    assert {max(c) for c in visualize.random_colors(5, bright=False)} == {0.7}
    assert visualize.random_colors(0) == []


def test_apply_mask_blends_masked_pixels_in_place():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    original = image.copy()
    mask = rng.random((6, 7)) < 0.4
    color = (0.25, 0.5, 1.0)  # binary fractions: the blend is exact before truncation
    out = visualize.apply_mask(image, mask.astype(np.uint8), color, alpha=0.25)
    assert out is image
    expected = original.copy()
    for c in range(3):
        expected[:, :, c][mask] = np.floor(original[:, :, c][mask] * 0.75 + 0.25 * 255 * color[c])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[~mask], original[~mask])
    # float image: the exact blend; a boolean mask selects the same pixels
    flt = original.astype(np.float64)
    visualize.apply_mask(flt, mask, color)
    np.testing.assert_allclose(flt[mask], original[mask] * 0.5 + 0.5 * 255 * np.array(color))
    np.testing.assert_array_equal(flt[~mask], original[~mask])


def test_display_instances_draws_on_given_axes(shows):
    image, boxes, masks, class_ids, scores = scene()
    before = image.copy()
    fig, ax = plt.subplots()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores, title="pets", ax=ax,
                                colors=[RED, BLUE])
    assert shows == [] and plt.get_fignums() == [fig.number]
    np.testing.assert_array_equal(image, before)  # the caller's image is not drawn on

    assert len(ax.images) == 1
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(shown, blended(image, masks, [RED, BLUE]))
    assert not (shown[masks.any(axis=2)] == image[masks.any(axis=2)]).all()
    np.testing.assert_array_equal(shown[~masks.any(axis=2)], image[~masks.any(axis=2)])

    rects = rectangles(ax)
    assert [(r.get_xy(), r.get_width(), r.get_height()) for r in rects] == [((30, 10), 20, 10), ((0, 45), 15, 15)]
    assert all(r.get_linestyle() == "dashed" and r.get_facecolor()[3] == 0 for r in rects)
    assert [tuple(r.get_edgecolor()) for r in rects] == [(1, 0, 0, 0.7), (0, 0, 1, 0.7)]

    assert [(t.get_text(), t.get_position()) for t in ax.texts] == [("cat 0.988", (30, 18)), ("dog 0.500", (0, 53))]

    outlines = polygons(ax)
    assert len(outlines) == 2
    for outline, (y1, x1, y2, x2) in zip(outlines, boxes):
        xy = outline.get_xy()
        np.testing.assert_allclose(xy.min(axis=0), [x1 - 0.5, y1 - 0.5])  # half-way to the background pixels
        np.testing.assert_allclose(xy.max(axis=0), [x2 - 0.5, y2 - 0.5])
    assert outlines[1].get_xy()[:, 0].min() == -0.5  # the edge mask closes outside the image (one-pixel padding)

    assert ax.get_ylim() == (H + 10, -10) and ax.get_xlim() == (-10, W + 10)
    assert not ax.axison and ax.get_title() == "pets"


def test_display_instances_without_axes_makes_a_figure_and_shows_it(shows):
    image, boxes, masks, class_ids, scores = scene()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores)
    assert shows == [1]
    fig = plt.gcf()
    assert tuple(fig.get_size_inches()) == (16, 16)
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(rectangles(ax)) == 2 and len(polygons(ax)) == 2
    # random colours: each mask blended with a distinct fully saturated colour
    shown = ax.images[0].get_array()
    assert tuple(shown[15, 40]) != tuple(shown[50, 5])


def test_display_instances_options(shows):
    image, boxes, masks, class_ids, scores = scene()
    _, ax = plt.subplots()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, ax=ax, colors=[RED, BLUE])
    assert [t.get_text() for t in ax.texts] == ["cat", "dog"]

    _, ax = plt.subplots()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores, ax=ax, captions=["a", "b"])
    assert [t.get_text() for t in ax.texts] == ["a", "b"]

    _, ax = plt.subplots()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores, ax=ax, show_mask=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), image)
    assert len(polygons(ax)) == 2 and len(rectangles(ax)) == 2  # outlines stay

    _, ax = plt.subplots()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores, ax=ax, show_bbox=False)
    assert rectangles(ax) == [] and len(ax.texts) == 2 and len(polygons(ax)) == 2

    # an all-zero box skips its instance entirely
    _, ax = plt.subplots()
    lost = boxes.copy()
    lost[0] = 0
    visualize.display_instances(image, lost, masks, class_ids, CLASS_NAMES, scores, ax=ax, colors=[RED, BLUE])
    assert [t.get_text() for t in ax.texts] == ["dog 0.500"] and len(polygons(ax)) == 1
    np.testing.assert_array_equal(ax.images[0].get_array()[15, 40], image[15, 40])
    assert shows == []


def test_display_instances_with_no_instances_still_shows_the_image(shows, capsys):
    image = scene()[0]
    visualize.display_instances(
        image, np.zeros((0, 4), np.int32), np.zeros((H, W, 0), bool), np.zeros(0, np.int32), CLASS_NAMES
    )
    assert "*** No instances to display *** " in capsys.readouterr().out
    ax = plt.gcf().axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), image)
    assert len(ax.patches) == 0 and len(ax.texts) == 0 and shows == [1]


def test_display_instances_rejects_mismatched_lengths():
    image, boxes, masks, class_ids, scores = scene()
    _, ax = plt.subplots()
    with pytest.raises(AssertionError):
        visualize.display_instances(image, boxes, masks[:, :, :1], class_ids, CLASS_NAMES, scores, ax=ax)
    with pytest.raises(AssertionError):
        visualize.display_instances(image, boxes, masks, class_ids[:1], CLASS_NAMES, scores, ax=ax)


def test_display_instances_renders_to_png(tmp_path):
    image, boxes, masks, class_ids, scores = scene()
    fig, ax = plt.subplots(figsize=(4, 3))
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, scores, ax=ax, colors=[RED, BLUE])
    path = tmp_path / "instances.png"
    fig.savefig(path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = plt.imread(path)
    assert png.shape[:2] == (150, 200)
    rgb = png[:, :, :3]
    assert rgb.std() > 0.05
    reddish = (rgb[:, :, 0] > rgb[:, :, 1] + 0.2) & (rgb[:, :, 0] > rgb[:, :, 2] + 0.2)
    bluish = (rgb[:, :, 2] > rgb[:, :, 0] + 0.2) & (rgb[:, :, 2] > rgb[:, :, 1] + 0.2)
    assert reddish.sum() > 20 and bluish.sum() > 20  # both masks show in their colours


def test_mask_outlines_match_skimage_find_contours():
    measure = pytest.importorskip("skimage.measure")
    rng = np.random.default_rng(1)
    for _ in range(30):
        mask = rng.random((12, 14)) < rng.uniform(0.1, 0.7)
        padded = np.pad(mask.astype(np.uint8), 1)
        expected = [np.fliplr(v) - 1 for v in measure.find_contours(padded, 0.5)]
        got = visualize.mask_outlines(mask)
        assert len(got) == len(expected)
        assert all((line[0] == line[-1]).all() for line in got)  # closed
        as_sets = lambda lines: sorted(sorted(set(map(tuple, np.round(v, 6)))) for v in lines)  # noqa: E731
        assert as_sets(got) == as_sets(expected)  # the same polygons (each may start at another vertex)
    assert visualize.mask_outlines(np.zeros((4, 4), bool)) == []


def test_display_images_grid(shows):
    images = [np.full((5, 6, 3), v, np.uint8) for v in (0, 100, 200)]
    visualize.display_images(images, titles=["a", "b", "c"], cols=2)
    fig = plt.gcf()
    assert shows == [1] and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes] == [(2, 2)] * 3
    assert [int(ax.images[0].get_array()[0, 0, 0]) for ax in fig.axes] == [0, 100, 200]
    assert all(not ax.axison for ax in fig.axes)


def test_display_top_masks_orders_classes_by_area(shows):
    image = scene()[0]
    masks = np.zeros((H, W, 3), bool)
    masks[0:5, 0:5, 0] = True  # cat, 25 px
    masks[10:30, 10:30, 1] = True  # dog, 400 px
    masks[40:45, 40:50, 2] = True  # another cat, 50 px: cats 75 px in all
    visualize.display_top_masks(image, masks, np.array([1, 2, 1]), CLASS_NAMES, limit=3)
    fig = plt.gcf()
    assert shows == [1] and len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["H x W=60x80", "dog", "cat", "-"]
    cat_panel = fig.axes[2].images[0].get_array()
    assert cat_panel[2, 2] == 1 and cat_panel[42, 45] == 2 and cat_panel[20, 20] == 0
    assert not fig.axes[3].images[0].get_array().any()


def test_plot_precision_recall():
    visualize.plot_precision_recall(0.75, [1.0, 0.8, 0.5], [0.1, 0.5, 0.9])
    ax = plt.gcf().axes[0]
    assert ax.get_title() == "Precision-Recall Curve. AP@50 = 0.750"
    assert len(ax.lines) == 1
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0.1, 0.5, 0.9])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1.0, 0.8, 0.5])
    assert ax.get_xlim() == (0, 1.1) and ax.get_ylim() == (0, 1.1)


def test_plot_overlaps_labels_each_cell():
    overlaps = np.array([[0.9, 0.0, 0.2], [0.1, 0.6, 0.0]])
    visualize.plot_overlaps(
        np.array([1, 2, 3, 0]), np.array([1, 1, 0]), np.array([0.95, 0.7, 0.0]), overlaps, CLASS_NAMES
    )
    ax = plt.gcf().axes[0]
    assert len(ax.images) == 1
    assert [t.get_text() for t in ax.texts] == [
        "0.900\nmatch", "0.000\n", "0.200\n", "0.100\n", "0.600\nwrong", "0.000\n"
    ]
    assert [t.get_color() for t in ax.texts] == ["white", "grey", "black", "black", "white", "grey"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat (0.95)", "cat (0.70)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    assert ax.get_xlabel() == "Ground Truth" and ax.get_ylabel() == "Predictions"


def test_draw_boxes_visibilities_refined_boxes_captions_masks():
    image, boxes, masks, _, _ = scene()
    three_boxes = np.concatenate([boxes, [[30, 60, 40, 70]]])
    refined = three_boxes + 2
    three_masks = np.concatenate([masks, np.zeros((H, W, 1), bool)], axis=2)
    three_masks[32:38, 62:68, 2] = True
    _, ax = plt.subplots()
    visualize.draw_boxes(image, boxes=three_boxes, refined_boxes=refined, masks=three_masks,
                         captions=["x", "y", "z"], visibilities=[0, 1, 2], title="boxes", ax=ax)
    rects = rectangles(ax)
    # box 0 (hidden): its dotted grey box only; boxes 1 and 2: box + refined box
    assert [(r.get_xy(), r.get_linestyle()) for r in rects] == [
        ((30, 10), "dotted"), ((0, 45), "dotted"), ((2, 47), "solid"), ((60, 30), "solid"), ((62, 32), "solid")
    ]
    assert tuple(rects[0].get_edgecolor()) == matplotlib.colors.to_rgba("gray", 0.5)
    assert len(ax.lines) == 2
    assert [(t.get_text(), t.get_position()) for t in ax.texts] == [("x", (32, 12)), ("y", (2, 47)), ("z", (62, 32))]
    assert len(polygons(ax)) == 3
    shown = ax.images[0].get_array()
    assert all(tuple(shown[y, x]) != tuple(image[y, x]) for y, x in [(15, 40), (50, 5), (35, 65)])
    np.testing.assert_array_equal(shown[~three_masks.any(axis=2)], image[~three_masks.any(axis=2)])
    margin = H // 10
    assert ax.get_ylim() == (H + margin, -margin) and ax.get_title() == "boxes" and not ax.axison

    _, ax = plt.subplots()
    visualize.draw_boxes(image, refined_boxes=refined)  # refined boxes alone, on a new figure
    assert len(rectangles(plt.gcf().axes[-1])) == 3
    with pytest.raises(ValueError, match="visibility"):
        visualize.draw_boxes(image, boxes=three_boxes, visibilities=[1, 3, 1], ax=ax)


def test_draw_box_pixels():
    image = np.zeros((12, 12, 3), np.uint8)
    out = visualize.draw_box(image, (2, 3, 8, 9), (255, 0, 0))
    assert out is image
    expected = np.zeros((12, 12), bool)
    expected[2:4, 3:9] = expected[8:10, 3:9] = True  # top and bottom edges, 2 px
    expected[2:8, 3:5] = expected[2:8, 9:11] = True  # left and right edges, 2 px
    np.testing.assert_array_equal(image[:, :, 0] == 255, expected)
    assert not image[:, :, 1:].any()


def test_display_table_prints_plain_text_without_ipython(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # as if not installed
    visualize.display_table([["NAME", "SHAPE"], ["conv1/kernel", "(7, 7, 3, 64)"], [1, 2.5]])
    assert capsys.readouterr().out.splitlines() == [
        "NAME          SHAPE",
        "conv1/kernel  (7, 7, 3, 64)",
        "1             2.5",
    ]


def test_display_table_shows_html_inside_ipython(monkeypatch, capsys):
    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()
    display = types.ModuleType("IPython.display")
    display.HTML = lambda markup: ("html", markup)
    display.display = shown.append
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    visualize.display_table([["a<b", 1], ["c", 2]])
    assert capsys.readouterr().out == ""
    assert len(shown) == 1 and shown[0][0] == "html"
    markup = shown[0][1]
    assert markup.startswith("<table><tr><td>a&lt;b") and markup.count("<tr>") == 2 and markup.count("<td>") == 4


def test_display_weight_stats(capsys, monkeypatch):
    import keras

    monkeypatch.setitem(sys.modules, "IPython", None)
    layers = [keras.Input((4,)), keras.layers.Dense(3, name="fc1"), keras.layers.Dense(2, name="fc2")]
    network = keras.Sequential(layers)
    network.get_layer("fc1").kernel.assign(np.full((4, 3), 0.25, np.float32))  # constant: dead?
    network.get_layer("fc2").bias.assign(np.array([5000.0, 1.0], np.float32))  # overflow
    model = types.SimpleNamespace(keras_model=network)
    visualize.display_weight_stats(model)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["WEIGHT", "NAME", "SHAPE", "MIN", "MAX", "STD"]
    assert len(out) == 1 + 4
    rows = {line.split()[0]: line for line in out[1:]}
    fc1_kernel = next(line for name, line in rows.items() if name.endswith("fc1/kernel"))
    assert "*** dead?" in fc1_kernel and "(4, 3)" in fc1_kernel and "+0.2500" in fc1_kernel
    fc1_bias = next(line for name, line in rows.items() if name.endswith("fc1/bias"))
    assert "***" not in fc1_bias  # zero biases are not flagged
    fc2_bias = next(line for name, line in rows.items() if name.endswith("fc2/bias"))
    assert "*** Overflow?" in fc2_bias and "+5000.0000" in fc2_bias

    with pytest.raises(TypeError, match="keras_model"):
        visualize.display_weight_stats(object())


def two_instances_each():
    """Ground truth cat and dog; predictions: a cat on the cat (IoU 0.8) and a bird where nothing is."""
    image = scene()[0]
    gt_masks = np.zeros((H, W, 2), bool)
    gt_masks[10:20, 10:20, 0] = True
    gt_masks[30:40, 50:70, 1] = True
    pred_masks = np.zeros((H, W, 2), bool)
    pred_masks[10:20, 10:18, 0] = True  # 80 of the cat's 100 px
    pred_masks[45:55, 30:40, 1] = True
    gt_boxes = np.array([[10, 10, 20, 20], [30, 50, 40, 70]], np.int32)
    pred_boxes = np.array([[10, 10, 20, 18], [45, 30, 55, 40]], np.int32)
    return image, gt_boxes, np.array([1, 2]), gt_masks, pred_boxes, np.array([1, 3]), np.array([0.9, 0.6]), pred_masks


def test_display_differences(shows):
    image, gt_boxes, gt_ids, gt_masks, pred_boxes, pred_ids, pred_scores, pred_masks = two_instances_each()
    _, ax = plt.subplots()
    visualize.display_differences(image, gt_boxes, gt_ids, gt_masks, pred_boxes, pred_ids, pred_scores, pred_masks,
                                  CLASS_NAMES, ax=ax)
    assert ax.get_title() == "Ground Truth and Detections\n GT=green, pred=red, captions: score/IoU"
    assert [t.get_text() for t in ax.texts] == ["", "", "0.90 / 0.80", "0.60 / 0.00"]
    assert [tuple(r.get_edgecolor()) for r in rectangles(ax)] == [(0, 1, 0, 0.7)] * 2 + [(1, 0, 0, 0.7)] * 2
    assert len(polygons(ax)) == 4 and shows == []


def test_draw_rois(shows, capsys):
    image = scene()[0]
    rois = np.array([[10, 10, 30, 30], [0, 0, 20, 20], [40, 40, 60, 70]], np.int32)
    refined = rois + 1
    roi_masks = np.zeros((3, 28, 28), np.float32)
    roi_masks[0] = 1.0  # the whole ROI
    class_ids = np.array([1, 0, 2])
    np.random.seed(0)
    visualize.draw_rois(image, rois, refined, roi_masks, class_ids, CLASS_NAMES)
    ax = plt.gcf().axes[0]
    assert ax.get_title() == "3 ROIs"
    assert len(rectangles(ax)) == 3 + 2 and len(ax.lines) == 2
    assert sorted(t.get_text() for t in ax.texts) == ["cat", "dog"]
    shown = ax.images[0].get_array()
    assert (shown[10:30, 10:30] != image[10:30, 10:30]).any(axis=2).all()  # the cat ROI's mask is blended in
    np.testing.assert_array_equal(shown[35:, :35], image[35:, :35])
    out = capsys.readouterr().out
    assert "Positive ROIs:  2" in out and "Negative ROIs:  1" in out and "Positive Ratio: 0.67" in out
