"""The HTML report built from a hand-made run folder: overview numbers, video pages, failures, incremental rebuilds.

(tests/test_tracking_workflow.py opens a real run's report in a browser.)
"""

import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidseg.core.errors import VidsegError
from vidseg.core.sampling import evenly_spaced
from vidseg.evaluation.errors import KINDS, error_table
from vidseg.formats.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA, with_provenance
from vidseg.report import build as report
from vidseg.report import contact_sheet
from vidseg.report import data as report_data
from vidseg.report.build import build_report
from vidseg.report.contact_sheet import THUMBS, thumb_size
from vidseg.workflow.plan import PATHS
from vidseg.workflow.status import COLUMNS

FPS = 10
HOSTILE = "<script>alert(1)</script> is not a video"
# the errors of `cars`: a truck missed in frames 3-7, a person seen where there is none in frames 2, 3 and 9 (two runs),
# and object 1's track switching from 2 to 1 at frame 12
ERRORS = pd.DataFrame(
    [(f, "missed", "", -1, 7, "truck", -1) for f in range(3, 8)]
    + [(f, "false positive", "person", 3, -1, "", -1) for f in (2, 3, 9)]
    + [(12, "id switch", "car", 1, 1, "car", 2)],
    columns=["frame", "kind", "class_name", "track_id", "object_id", "object_class", "previous_track_id"])
ERRORS["instance"] = 0


def gray_video(path: Path, frames: int, size=(96, 64)) -> None:
    """A video whose frame n is uniformly gray (luma 16 + 10 n): a thumbnail's brightness names its frame."""
    w, h = size
    source = f"nullsrc=s={w}x{h}:r={FPS}:d={frames / FPS},geq=lum='16+N*10':cb=128:cr=128"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264",
                    "-qp", "0", "-pix_fmt", "yuv420p", str(path)], check=True)


def write_video_tables(root: Path, video: str, n_frames: int, detections: list[tuple], tracks: list[tuple]) -> None:
    """Tables of one video; `detections`: (frame, class_id, class_name, score, track_id); `tracks`: (track_id, class,
    first_frame, last_frame)."""
    times = [f / FPS for f in range(n_frames)]
    count = np.bincount([d[0] for d in detections], minlength=n_frames) if detections else np.zeros(n_frames, int)
    frames = pa.table({"video_id": [video] * n_frames, "frame": range(n_frames), "time_s": times,
                       "n_detections": count}, schema=FRAMES_SCHEMA)
    columns = {name: [] for name in DETECTIONS_SCHEMA.names}
    for i, (frame, class_id, class_name, score, track_id) in enumerate(detections):
        row = {"video_id": video, "frame": frame, "time_s": times[frame], "instance": i, "track_id": track_id,
               "class_id": class_id, "class_name": class_name, "score": score, "x_min": 1, "y_min": 1, "x_max": 9,
               "y_max": 9, "mask_rle": "PPYo0", "mask_area": 64, "width": 96, "height": 64}
        for name in columns:
            columns[name].append(row[name])
    provenance = {"model_name": "tiny", "vidseg_version": "0.1.0", "precision": "float32",
                  "detection_min_confidence": 0.5, "detected_down_to": 0.0}
    detections_table = with_provenance(pa.table(columns, schema=DETECTIONS_SCHEMA), provenance)
    columns = {name: [] for name in TRACKS_SCHEMA.names}
    for track_id, class_name, first, last in tracks:
        row = {"video_id": video, "track_id": track_id, "class_id": 1, "class_name": class_name, "class_share": 1.0,
               "first_frame": first, "last_frame": last, "first_time_s": times[first], "last_time_s": times[last],
               "duration_s": times[last] - times[first], "frames_seen": last - first + 1, "mean_score": 0.9,
               "mean_mask_area": 64.0, "colour": f"#{40 * track_id:02x}8000"}
        for name in columns:
            columns[name].append(row.get(name, 0))
    for kind, table in (("frames_table", frames), ("detections", detections_table),
                        ("tracks", pa.table(columns, schema=TRACKS_SCHEMA))):
        path = root / PATHS[kind].format(video=video)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    probe = {"ok": True, "path": f"videos/{video}.mp4", "width": 96, "height": 64, "fps": FPS,
             "duration_s": n_frames / FPS, "n_frames": n_frames, "audio_codec": None}
    (root / PATHS["probe"].format(video=video)).parent.mkdir(parents=True, exist_ok=True)
    (root / PATHS["probe"].format(video=video)).write_text(json.dumps(probe))
    gray_video(root / PATHS["annotated"].format(video=video), n_frames)


@pytest.fixture
def run(tmp_path):
    """A run folder: `cars` (tracked, evaluated), `quiet` (no detections), `broken` (failed at the probe)."""
    rng = np.random.default_rng(0)
    detections = [(f, c, name, float(rng.uniform(0.5, 1)), t) for f in range(20)
                  for c, name, t in ((1, "car", 1), (1, "car", 2 if f < 12 else -1), (2, "person", 3 if f > 4 else -1))]
    write_video_tables(tmp_path, "cars", 20, detections, [(1, "car", 0, 19), (2, "car", 0, 11), (3, "person", 5, 19)])
    write_video_tables(tmp_path, "quiet", 5, [], [])
    recall = [i / 100 for i in range(101)]
    curve = {"recall": recall, "precision_iou50": [1.0] * 101, "precision_iou75": [0.5] * 101}
    evaluation = {"ground_truth": "gt/cars.json", "min_confidence": 0.0, "bbox": {"AP": 0.5, "AP50": 0.75},
                  "segm": {"AP": 0.625, "AP50": 0.8}, "pr_curve": {"bbox": curve, "segm": curve},
                  "tracking": {"HOTA": 0.7, "IDF1": 0.8, "id_switches": 2, "objects": 2},
                  "table_min_confidence": 0.5, "kept_detections": 60, "scored_detections": 75,
                  "scored_histogram": [1] * 40,
                  "per_class": {"car": {"ground_truth": 40, "segm_AP": 0.7, "segm_AP50": 0.9, "segm_recall50": 0.8,
                                        "bbox_AP": 0.6, "bbox_AP50": 0.8},
                                "truck": {"ground_truth": 5, "segm_AP": 0.0, "segm_AP50": 0.0, "segm_recall50": 0.0,
                                          "bbox_AP": 0.0, "bbox_AP50": 0.0},
                                "person": {"ground_truth": 0, "segm_AP": None, "bbox_AP": None}},
                  "errors": {kind: int((ERRORS.kind == kind).sum()) for kind in KINDS},
                  "errors_per_class": {"truck": {"missed": 5}, "person": {"false positive": 3}}}
    error_rows = ERRORS.assign(time_s=ERRORS.frame / FPS, iou=np.nan, score=np.float32(0.6),
                               **{side: 1 for side in ("x_min", "y_min", "x_max", "y_max")})
    path = tmp_path / PATHS["errors"].format(video="cars")
    path.parent.mkdir(parents=True)
    pq.write_table(error_table("cars", error_rows), path)
    (tmp_path / PATHS["evaluation"].format(video="cars")).parent.mkdir(parents=True)
    (tmp_path / PATHS["evaluation"].format(video="cars")).write_text(json.dumps(evaluation))
    status = pd.DataFrame([["cars", "done", "ok", "", ""], ["quiet", "done", "ok", "", ""],
                           ["broken", "probe", "failed", HOSTILE, ""]], columns=COLUMNS)
    status.to_csv(tmp_path / PATHS["status"], sep="\t", index=False)
    return tmp_path


def checks(html: str) -> dict[str, str]:
    """The report's named figures (data-check) and their displayed text."""
    found = {}
    for match in re.finditer(r'data-check="([^"]+)"(?: data-value="[^"]*")?>([^<]*)<', html):
        found[match.group(1)] = match.group(2).replace(",", "")
    return found


def test_overview_numbers_are_those_of_the_tables(run):
    index, pages = build_report(run)
    assert index == run / PATHS["report"] and pages == 2
    html = index.read_text()
    shown = checks(html)
    detections = pd.read_parquet(run / "results/detections")
    tracks = pd.read_parquet(run / "results/tracks")
    assert int(shown["frames processed"]) == len(pd.read_parquet(run / "results/frames")) == 25
    assert int(shown["detections"]) == len(detections) == 60
    assert int(shown["tracks"]) == len(tracks) == 3
    assert shown["objects in the ground truth (1 video)"] == "2"  # tracks and objects named apart
    assert "holds the detections with score &ge; 0.5" in html and "detected down to 0 for COCOeval" in html
    assert (shown["videos"], shown["done"], shown["failed"], shown["not run"]) == ("3", "2", "1", "0")
    for name, count in detections.groupby("class_name").size().items():
        assert int(shown[f"detections:{name}"]) == count
    for name, count in tracks.groupby("class_name").size().items():
        assert int(shown[f"objects:{name}"]) == count
    # the failure and its reason, escaped; no page for the failed video
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is not a video" in html and "<script>alert" not in html
    assert not (run / PATHS["report_video"].format(video="broken")).exists()
    assert 'href="videos/cars.html"' in html and "not written in this run" in html  # no summary.csv here
    pd.DataFrame({"video_id": ["cars", "cars"], "class_name": ["car", "person"], "instances": [40, 20]}).to_csv(
        run / PATHS["summary"], index=False)
    html = build_report(run)[0].read_text()
    table = re.search(r'data-check="summary-table".*?</table>', html, re.S).group(0)
    assert table.count("<tr>") == 3 and 'data-sort="40"' in table and "summary.csv</a> (written 20" in html


def test_a_video_page_has_its_plots_contact_sheet_video_and_evaluation(run):
    build_report(run)
    page = (run / PATHS["report_video"].format(video="cars")).read_text()
    assets = run / PATHS["report_assets"].format(video="cars")
    for name in ("detections.png", "tracks.png", "scores.png", "pr_curve.png", "contact_sheet.png"):
        image = cv2.imread(str(assets / name))
        assert image is not None and image.shape[0] > 50 and image.std() > 5, name  # drawn, not blank
        assert f'src="cars/{name}"' in page
    assert '<video controls preload="auto" src="../../videos/cars.mp4"' in page
    assert 'href="../../detections/video_id=cars/part-0.parquet">detections (Parquet)' in page
    assert 'href="../../eval/cars.json"' in page and "COCO results" not in page  # no export in this run folder
    shown = checks(page)
    assert (shown["frames"], shown["detections"], shown["objects"]) == ("20", "60", "3")
    assert float(shown["segm:AP"]) == 0.625 and float(shown["tracking:HOTA"]) == 0.7 and shown["tracking:id_switches"] == "2"
    quiet = (run / PATHS["report_video"].format(video="quiet")).read_text()
    assert "pr_curve.png" not in quiet and checks(quiet)["detections"] == "0"


def test_a_video_page_lists_its_errors_classes_and_tracks_each_seeking_the_video(run):
    build_report(run)
    page = (run / PATHS["report_video"].format(video="cars")).read_text()
    shown = checks(page)
    assert (shown["errors:missed"], shown["errors:false positive"], shown["errors:id switch"]) == ("5", "3", "1")
    assert shown["ground-truth objects"] == "2" and shown["objects"] == "3"  # tracks and objects named apart
    rows = re.search(r'id="errors".*?</table>', page, re.S).group(0)
    runs = re.findall(r'<tr data-seek="([\d.]+)" data-kind="([^"]+)">', rows)
    # runs over consecutive frames: the misses one row, the false positives two (frames 2-3, then 9)
    assert runs == [("0.200000", "false positive"), ("0.300000", "missed"), ("0.900000", "false positive"),
                    ("1.200000", "id switch")]
    assert ">#2 \u2192 #1<" in rows and "truck (object 7)" in rows
    timeline = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)
    assert timeline.count("data-seek=") == 4 and 'data-seek="0.300000"' in timeline
    classes = re.search(r'data-check="class-table".*?</table>', page, re.S).group(0)
    assert [re.sub("<.*?>", "", c) for c in re.findall(r"<tr>(<td.*?)</tr>", classes)][1] == "person20103000"  # 20 detections, 1 track, no ground truth: no AP, 3 false positives
    assert ">truck<" in classes  # a class of the ground truth the model never named: its misses
    tracks = re.search(r'id="tracks".*?</table>', page, re.S).group(0)
    assert re.findall(r'<tr data-seek="([\d.]+)" data-class="(\w+)"', tracks) == [("0.000000", "car"), ("0.000000", "car"),
                                                                                 ("0.500000", "person")]
    assert 'data-time-axis="' in page and "tables keep" not in page  # the threshold is drawn in the histogram
    assert "COCOeval scores every detection down to score 0.0 (<b>75</b>)" in page and "the 15 below 0.5" in page


@pytest.mark.parametrize("select_up_to", [1000, 0], ids=["decoded whole", "seeked"])
def test_the_contact_sheet_shows_evenly_spaced_frames(run, monkeypatch, select_up_to):
    monkeypatch.setattr(contact_sheet, "SELECT_UP_TO", select_up_to)
    build_report(run)
    sheet = cv2.imread(str(run / PATHS["report_assets"].format(video="cars") / "contact_sheet.png"), cv2.IMREAD_GRAYSCALE)
    w, h = thumb_size(96, 64)
    positions = evenly_spaced(20, THUMBS)
    assert positions == [0, 3, 5, 8, 11, 14, 16, 19]
    assert sheet.shape == (2 * h + 4, 4 * w + 3 * 4)
    for i, frame in enumerate(positions):
        r, c = divmod(i, 4)
        top = sheet[r * (h + 4): r * (h + 4) + h // 2, c * (w + 4): c * (w + 4) + w]  # above the time label
        assert abs(float(np.median(top)) - frame * 10 * 255 / 219) < 6, (frame, np.median(top))


def test_pages_are_rebuilt_only_when_their_inputs_change(run, monkeypatch):
    build_report(run)
    cars, quiet = (run / PATHS["report_assets"].format(video=v) / "detections.png" for v in ("cars", "quiet"))
    before = cars.stat().st_mtime_ns, quiet.stat().st_mtime_ns
    build_report(run)
    assert (cars.stat().st_mtime_ns, quiet.stat().st_mtime_ns) == before
    write_video_tables(run, "quiet", 6, [(5, 2, "person", 0.9, -1)], [])
    build_report(run)
    assert cars.stat().st_mtime_ns == before[0] and quiet.stat().st_mtime_ns != before[1]
    assert checks((run / PATHS["report_video"].format(video="quiet")).read_text())["detections"] == "1"
    after = cars.stat().st_mtime_ns
    monkeypatch.setattr(report, "report_code", lambda: "edited")  # the report's code changed: every page
    build_report(run)
    assert cars.stat().st_mtime_ns != after


def test_the_code_digest_covers_the_modules_drawing_the_pages():
    from vidseg.core.provenance import _closure_of_module

    assert {"vidseg.report", "vidseg.report.build", "vidseg.report.data", "vidseg.report.plots",
            "vidseg.report.contact_sheet", "vidseg.media.render"} <= _closure_of_module("vidseg.report.build")


def test_the_tables_are_streamed_without_masks(run, monkeypatch):
    """Small batches give the same figures as one batch, and no read asks for mask_rle."""
    whole = report.read_video(run, "cars")
    requested = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, columns=None, **kwargs):
        requested.append(columns)
        return real(self, *args, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    monkeypatch.setattr(report_data, "BATCH_ROWS", 7)
    batched = report.read_video(run, "cars")
    assert requested and all(columns is not None and "mask_rle" not in columns for columns in requested)
    assert whole.detections == batched.detections == {"car": 40, "person": 20}
    for name in whole.per_frame:
        assert np.array_equal(whole.per_frame[name], batched.per_frame[name])
        assert np.array_equal(whole.scores[name], batched.scores[name])
    assert batched.per_frame["car"].tolist() == [2] * 20 and batched.tracked == 20 + 12 + 15
    assert batched.objects == {"car": 2, "person": 1}


def test_the_index_shows_a_poster_per_video_a_class_by_video_table_and_each_failures_log(run):
    (run / "logs/probe").mkdir(parents=True)
    (run / "logs/probe/broken.log").write_text("FAILED: not a video")
    html = build_report(run)[0].read_text()
    videos = re.search(r'data-check="video-list".*?</table>', html, re.S).group(0)
    assert videos.count('class="poster"') == 2 and 'src="videos/cars/poster.png"' in videos
    poster = cv2.imread(str(run / PATHS["report_assets"].format(video="cars") / "poster.png"))
    assert poster is not None and poster.shape[1] == thumb_size(96, 64)[0]
    chart = re.search(r'data-check="class-by-video".*?</table>', html, re.S).group(0)
    assert re.findall(r"<th>(\w+)</th>", chart) == ["video", "car", "person"]  # the most detected class first
    assert re.search(r'cars</a></td><td class="n" data-sort="40"', chart) and ">quiet</a></td><td class" in chart
    failures = re.search(r'data-check="failure-list".*?</table>', html, re.S).group(0)
    assert '<a href="../../logs/probe/broken.log">broken.log</a>' in failures


def test_a_page_shows_the_figures_the_plots_rule_drew_and_draws_them_only_without(run):
    """Where results/plots/<id> (the plots job's files) has the figures, the page shows those and its own folder keeps
    only its bookkeeping and the evaluation's PR curve; a redrawn figures record redraws the page."""
    from vidseg.report.figures import draw_figures
    from vidseg.workflow.plan import plot_paths

    build_report(run)  # no plots job yet: drawn by the report
    assets = run / PATHS["report_assets"].format(video="cars")
    assert (assets / "tracks.png").is_file()
    drawn = {kind: run / path for kind, path in plot_paths(PATHS["plots"].format(video="cars")).items()}
    draw_figures(report.read_video(run, "cars"), run / PATHS["annotated"].format(video="cars"), drawn)
    index = build_report(run)[0].read_text()
    page = (run / PATHS["report_video"].format(video="cars")).read_text()
    assert re.findall(r'src="([^"]+\.png)"', page) == [*(f"../../plots/cars/{name}.png" for name in
                                                        ("tracks", "detections", "scores", "contact_sheet")),
                                                      "cars/pr_curve.png"]
    assert sorted(p.name for p in assets.iterdir()) == ["key.json", "pr_curve.png"]
    assert 'src="../plots/cars/poster.png"' in index
    before = (run / PATHS["report_video"].format(video="cars")).stat().st_mtime_ns
    drawn["record"].write_text(drawn["record"].read_text().replace('"duration_s": 2.0', '"duration_s": 2.5'))
    build_report(run)
    assert (run / PATHS["report_video"].format(video="cars")).stat().st_mtime_ns != before


def test_a_tracks_table_from_before_track_colours_shows_the_colours_its_video_was_drawn_in(run):
    from vidseg.media.render import track_colour

    path = run / PATHS["tracks"].format(video="cars")
    pq.write_table(pq.read_table(path).drop_columns(["colour"]), path)
    build_report(run)
    page = (run / PATHS["report_video"].format(video="cars")).read_text()
    b, g, r = track_colour(2)
    assert f'style="background:#{r:02x}{g:02x}{b:02x}"></span>#2<' in page


def test_the_zip_to_share_holds_every_file_the_pages_link(run, tmp_path):
    """`--zip`: unpacked elsewhere, every link and image of every page resolves inside it, and nothing else came."""
    import zipfile

    from vidseg.report.build import main

    main(["--root", str(run), "--jobs", "1", "--zip", str(tmp_path / "share.zip")])
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "share.zip") as archive:
        archive.extractall(unpacked)
        names = archive.namelist()
    assert "results/videos/cars.mp4" in names and "results/eval/cars.json" in names
    assert not any("frames_tmp" in n or n.startswith("logs/") or n.endswith("key.json") for n in names)
    pages = sorted((unpacked / "results/report").rglob("*.html"))
    assert len(pages) == 3  # the index and two video pages
    for page in pages:
        for target in re.findall(r'(?:href|src)="([^"#]+)"', page.read_text()):
            if not target.startswith("data:"):
                assert (page.parent / urllib.parse.unquote(target)).resolve().is_file(), (page, target)


def test_a_report_needs_a_finished_run(tmp_path):
    with pytest.raises(VidsegError, match="status.tsv not found"):
        build_report(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "vidseg.report", "--root", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1 and "report: " in proc.stderr and "Traceback" not in proc.stderr


def test_a_page_that_cannot_be_built_costs_only_itself(run):
    build_report(run)
    (run / PATHS["detections"].format(video="quiet")).write_bytes(b"PAR1 not parquet")
    index, pages = build_report(run)
    html = index.read_text()
    assert pages == 1 and (run / PATHS["report_video"].format(video="cars")).is_file()
    errors = re.search(r'data-check="page-errors".*?</table>', html, re.S).group(0)
    assert "quiet" in errors and "Parquet" in errors
    assert int(checks(html)["detections"]) == 60  # the totals of the pages that were built
    assert not (run / PATHS["report_video"].format(video="quiet")).exists()  # no stale page of the video either
    assert not (run / PATHS["report_assets"].format(video="quiet")).exists()
