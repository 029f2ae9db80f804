"""The HTML report built from a hand-made run folder: overview numbers, video pages, failures, incremental rebuilds.

(tests/test_tracking_workflow.py opens a real run's report in a browser.)
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidseg.core.errors import VidsegError
from vidseg.formats.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA, with_provenance
from vidseg.report import build as report
from vidseg.report import contact_sheet
from vidseg.report import data as report_data
from vidseg.report.build import build_report
from vidseg.report.contact_sheet import pick_frames, thumb_size
from vidseg.workflow.plan import PATHS
from vidseg.workflow.status import COLUMNS

FPS = 10
HOSTILE = "<script>alert(1)</script> is not a video"


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
    provenance = {"model_name": "tiny", "vidseg_version": "0.1.0", "precision": "float32"}
    detections_table = with_provenance(pa.table(columns, schema=DETECTIONS_SCHEMA), provenance)
    columns = {name: [] for name in TRACKS_SCHEMA.names}
    for track_id, class_name, first, last in tracks:
        row = {"video_id": video, "track_id": track_id, "class_id": 1, "class_name": class_name, "class_share": 1.0,
               "first_frame": first, "last_frame": last, "first_time_s": times[first], "last_time_s": times[last],
               "duration_s": times[last] - times[first], "frames_seen": last - first + 1, "mean_score": 0.9,
               "mean_mask_area": 64.0}
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
                  "tracking": {"HOTA": 0.7, "IDF1": 0.8, "id_switches": 2}}
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
    assert int(shown["distinct objects"]) == len(tracks) == 3
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


@pytest.mark.parametrize("select_up_to", [1000, 0], ids=["decoded whole", "seeked"])
def test_the_contact_sheet_shows_evenly_spaced_frames(run, monkeypatch, select_up_to):
    monkeypatch.setattr(contact_sheet, "SELECT_UP_TO", select_up_to)
    build_report(run)
    sheet = cv2.imread(str(run / PATHS["report_assets"].format(video="cars") / "contact_sheet.png"), cv2.IMREAD_GRAYSCALE)
    w, h = thumb_size(96, 64)
    positions = pick_frames(20)
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
    whole = report_data.read_video(run, "cars")
    requested = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, columns=None, **kwargs):
        requested.append(columns)
        return real(self, *args, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    monkeypatch.setattr(report_data, "BATCH_ROWS", 7)
    batched = report_data.read_video(run, "cars")
    assert requested and all(columns is not None and "mask_rle" not in columns for columns in requested)
    assert whole.detections == batched.detections == {"car": 40, "person": 20}
    for name in whole.per_frame:
        assert np.array_equal(whole.per_frame[name], batched.per_frame[name])
        assert np.array_equal(whole.scores[name], batched.scores[name])
    assert batched.per_frame["car"].tolist() == [2] * 20 and batched.tracked == 20 + 12 + 15
    assert batched.objects == {"car": 2, "person": 1}


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
