"""Tracking end to end: the bundled demo model on a demo video, segmented in chunks of 15 frames and of 1800."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from flow import REPO, SNAKEMAKE, snakemake
from media import stream_info
from vidseg.formats.tables import TRACKS_SCHEMA
from vidseg.workflow.plan import PATHS, plot_paths

FRAMES = 30
CHUNK = 15  # the chunked run's: two segment jobs, frames 0-14 and 15-29


def demo_config(chunk_size: int) -> dict:
    return {"videos": "demo", "weights": str(REPO / "models" / "shapes.h5"),
            "demo": {"videos": 1, "frames": FRAMES, "seed": 7}, "segment": {"chunk_size": chunk_size},
            "encode": {"preset": "ultrafast"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same demo video run in chunks of CHUNK frames (2 segment jobs), then redone as a user's video in a pack (it
    is shorter than a chunk), beside a broken one (its report is opened in a browser)."""
    chunked = tmp_path_factory.mktemp("chunked")
    (chunked / "config.yaml").write_text(yaml.safe_dump(demo_config(CHUNK)))
    snakemake(chunked)
    whole = tmp_path_factory.mktemp("whole")
    (whole / "videos").mkdir()
    (whole / "truth").mkdir()
    shutil.copy(chunked / "resources/demo/demo_0.mp4", whole / "videos")  # the same video and ground truth
    shutil.copy(chunked / "resources/demo/demo_0.json", whole / "truth")
    (whole / "videos/broken.mp4").write_text("not a video")
    # the MOTS export with every demo class as TrackEval's "pedestrian" (its MOTS readers know no other classes)
    config = {**demo_config(1800), "videos": "videos", "ground_truth": "truth",
              "export": {"mots_classes": {"circle": 2, "square": 2, "triangle": 2}}}
    (whole / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(whole)
    return chunked, whole


def test_chunk_size_does_not_change_the_tracks(runs):
    chunked, whole = runs
    assert len(list((chunked / "results/units").glob("demo_0.*/demo_0.detections.parquet"))) == 2  # 2 chunks
    assert len(list((whole / "results/units").glob("*/demo_0.detections.parquet"))) == 1  # shorter than a chunk
    a = pd.read_parquet(chunked / "results/tracks")
    b = pd.read_parquet(whole / "results/tracks")
    assert list(a.columns) == TRACKS_SCHEMA.names and len(a) >= 2
    assert a.equals(b)  # bit for bit, means included
    assert ((a.first_frame < CHUNK) & (a.last_frame >= CHUNK)).any()  # a track runs on across the chunk boundary
    import duckdb

    rows = duckdb.sql(f"select count(*), sum(frames_seen) from '{chunked}/results/tracks/*/*.parquet'").fetchall()[0]
    assert rows == (len(a), a.frames_seen.sum())
    keys = ["frame", "instance", "track_id", "class_id", "x_min", "y_min", "x_max", "y_max", "mask_rle"]
    pd.testing.assert_frame_equal(pd.read_parquet(chunked / "results/detections")[keys],
                                  pd.read_parquet(whole / "results/detections")[keys])


def test_vidseg_as_a_snakemake_module_gives_the_same_outputs(runs, tmp_path):
    """The README's module example, run in a folder that is not this repository, with its own config (under a
    `vidseg:` key, `weights: demo`): the same tables and evaluation as the repository's own run, status and report."""
    chunked, _ = runs
    readme = (REPO / "README.md").read_text()
    snakefile = re.search(r"```snakemake\n(configfile.*?module vidseg:.*?)```", readme, re.S).group(1)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Snakefile").write_text(snakefile.replace("/path/to/vidseg/Snakefile", str(REPO / "Snakefile")))
    config = {**demo_config(1800), "weights": "demo"}
    (project / "config.yaml").write_text(yaml.safe_dump({"vidseg": config}))
    proc = subprocess.run([SNAKEMAKE, "--cores", "2", "--resources", "gpu=1"], cwd=project, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    keys = ["frame", "instance", "track_id", "class_id", "x_min", "y_min", "x_max", "y_max", "mask_rle"]
    pd.testing.assert_frame_equal(pd.read_parquet(project / "results/detections")[keys],
                                  pd.read_parquet(chunked / "results/detections")[keys])
    assert pd.read_parquet(project / "results/tracks").equals(pd.read_parquet(chunked / "results/tracks"))
    ours, theirs = (json.loads((root / "results/eval/demo_0.json").read_text()) for root in (project, chunked))
    assert ours["segm"] == theirs["segm"] and ours["tracking"]["HOTA"] == theirs["tracking"]["HOTA"]
    status = pd.read_csv(project / "results/status.tsv", sep="\t")
    assert list(status.stage) == ["done"] and list(status.status) == ["ok"]
    assert "demo_0" in (project / "results/report/index.html").read_text()


def test_the_mots_export_is_read_and_scored_by_trackeval(runs, tmp_path):
    """The run's MOTS file holds every tracked detection (masks made disjoint); TrackEval's own KITTI MOTS reader
    scores it against the ground truth written the same way, and gets the HOTA of the run's evaluation (vidseg's
    own TrackEval call on the tables, before overlaps were removed) to within 0.01."""
    from test_mots import LAYOUTS, read_mots, trackeval_hota
    from vidseg.evaluation.track_eval import ground_truth_tracks
    from vidseg.formats.mots import disjoint_masks, mots_line

    _, whole = runs
    lines = read_mots(whole / "results/exports/mots/demo_0.txt")
    tracked = pd.read_parquet(whole / "results/detections/video_id=demo_0").query("track_id != -1")
    assert 0 < len(lines) <= len(tracked)
    assert {(f, i) for f, i, _, _ in lines} <= set(zip(tracked.frame, tracked.track_id))
    assert {c for _, _, c, _ in lines} == {2}
    for frame in {f for f, _, _, _ in lines}:
        masks = np.stack([m for f, _, _, m in lines if f == frame]).astype(int)
        assert masks.sum(axis=0).max() <= 1  # disjoint
    _, gt, tracker = LAYOUTS["KittiMOTS"]
    truth = ground_truth_tracks(whole / "truth/demo_0.json")
    lines = []
    for frame, (ids, rles) in sorted(truth.items()):
        for i, rle in zip(ids, disjoint_masks(rles, [1.0] * len(rles))):
            if rle is not None:
                lines.append(mots_line(frame, i, 2, rle))
    (tmp_path / gt).parent.mkdir(parents=True)
    (tmp_path / gt).write_text("".join(lines))
    (tmp_path / tracker.format(tracker="vidseg")).parent.mkdir(parents=True)
    shutil.copy(whole / "results/exports/mots/demo_0.txt", tmp_path / tracker.format(tracker="vidseg"))
    hota = trackeval_hota(tmp_path, "KittiMOTS", {"vidseg": None}, frames=FRAMES)["vidseg"]
    evaluated = json.loads((whole / "results/eval/demo_0.json").read_text())["tracking"]["HOTA"]
    assert 0.5 < hota and hota == pytest.approx(evaluated, abs=0.01)


def test_tracking_is_scored_and_summarised(runs):
    chunked, _ = runs
    report = json.loads((chunked / "results/eval/demo_0.json").read_text())
    tracking = report["tracking"]
    assert {"HOTA", "DetA", "AssA", "LocA", "IDF1", "MOTA", "id_switches", "id_switches_per_100_frames"} <= set(tracking)
    assert tracking["frames"] == FRAMES and tracking["objects"] >= 2
    assert 0.5 < tracking["HOTA"] <= 1 and 0.5 < tracking["IDF1"] <= 1  # the demo model tracks its shapes
    videos = pd.read_csv(chunked / "results/evaluation.csv")
    assert videos.track_HOTA.iloc[0] == pytest.approx(tracking["HOTA"])
    errors = pd.read_parquet(chunked / "results/errors")
    assert videos.track_id_switches.iloc[0] == tracking["id_switches"] == (errors.kind == "id switch").sum()
    summary = pd.read_csv(chunked / "results/summary.csv")
    assert "track_HOTA" not in summary.columns and summary.tracks.sum() == len(pd.read_parquet(chunked / "results/tracks"))
    for row in summary.itertuples():  # each class row carries its own class's figures
        own = report["per_class"].get(row.class_name, {})
        assert row.gt_instances == own.get("ground_truth", 0)
        assert (np.isnan(row.segm_AP) if own.get("segm_AP") is None else row.segm_AP == pytest.approx(own["segm_AP"]))
        assert row.missed == (errors[errors.kind == "missed"].object_class == row.class_name).sum()
    assert "tracking: HOTA" in (chunked / "logs/evaluate/demo_0.log").read_text()


def test_the_coco_export_scores_as_the_evaluation(runs):
    """results/exports/coco/<id>.json loads with loadRes against the ground truth and COCOeval gives the AP of the
    eval JSON, for the demo video and for the same video given as a user's with a ground truth folder."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    for root, truth in ((runs[0], "resources/demo/demo_0.json"), (runs[1], "truth/demo_0.json")):
        report = json.loads((root / PATHS["evaluation"].format(video="demo_0")).read_text())
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(root / truth))
            results = gt.loadRes(str(root / PATHS["coco_export"].format(video="demo_0")))
            assert len(results.dataset["annotations"]) == report["detections"] > 0
            for kind in ("bbox", "segm"):
                ev = COCOeval(gt, results, kind)
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                assert ev.stats[0] == pytest.approx(report[kind]["AP"], abs=1e-12), (root, kind)
                assert ev.stats[1] == pytest.approx(report[kind]["AP50"], abs=1e-12), (root, kind)


def test_annotated_frames_show_track_ids(runs):
    """Where a track is, the annotated frame carries its colour (the label's filled box) and not the source's."""
    from vidseg.media.palette import bgr

    chunked, _ = runs
    colours = pd.read_parquet(chunked / "results/tracks").set_index("track_id").colour
    detections = pd.read_parquet(chunked / "results/detections")
    tracked = detections[(detections.track_id >= 1) & (detections.y_min >= 20)]
    row = tracked.iloc[len(tracked) // 2]
    capture = cv2.VideoCapture(str(chunked / "results/videos/demo_0.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, int(row.frame))
    ok, image = capture.read()
    assert ok
    # the label "#<id> <class> <score>" sits on a box filled with the track's colour, just above the detection's box
    label = image[row.y_min - 6:row.y_min - 1, row.x_min + 1:row.x_min + 20].reshape(-1, 3).astype(int)

    def share(colour) -> float:  # of the label's pixels near `colour` (H.264 shifts colours; the text is black)
        return float((np.abs(label - np.array(colour)).max(axis=1) < 45).mean())

    other = next(c for c in colours if c != colours[row.track_id])  # tracks alive together have other colours
    assert share(bgr(colours[row.track_id])) > 0.25 and share(bgr(other)) < 0.05


def test_the_ground_truth_video_is_the_annotated_one_with_the_objects_outlined(runs):
    """Decoded, a frame of results/truth_videos is the annotated video's frame with the ground truth's outlines drawn
    on it (draw_outlines), up to the codec's noise, and elsewhere the same picture."""
    from vidseg.formats.coco import read_ground_truth, truth_outlines
    from vidseg.media.render import draw_outlines

    chunked, _ = runs
    outlines = truth_outlines(read_ground_truth(chunked / "resources/demo/demo_0.json"))
    annotated, outlined = (chunked / PATHS[kind].format(video="demo_0") for kind in ("annotated", "truth_video"))
    assert [s["nb_read_frames"] for s in stream_info(outlined) if s["codec_type"] == "video"] == \
        [s["nb_read_frames"] for s in stream_info(annotated) if s["codec_type"] == "video"]

    def frame(path, number):
        capture = cv2.VideoCapture(str(path))
        capture.set(cv2.CAP_PROP_POS_FRAMES, number)
        ok, image = capture.read()
        assert ok
        return image

    for number in (5, 20):
        plain, drawn = frame(annotated, number), frame(outlined, number).astype(int)
        assert outlines(number)
        expected = draw_outlines(plain.copy(), outlines(number)).astype(int)
        plain = plain.astype(int)
        outline = (expected != plain).any(axis=2)
        assert outline.sum() > 500
        assert np.abs(drawn - expected)[outline].mean() < 10 < 60 < np.abs(drawn - plain)[outline].mean()
        assert np.abs(drawn - plain)[~outline].mean() < 3


def test_snakemakes_own_report_carries_the_results(runs, tmp_path):
    """`snakemake --report report.zip` after the run: the annotated videos (the run's files), the dataset tables, the
    evaluation and the video's plots, under their categories and captions."""
    import zipfile

    _, whole = runs
    out = tmp_path / "report.zip"
    snakemake(whole, "--report", str(out))
    with zipfile.ZipFile(out) as archive:
        files = {Path(name).name: name for name in archive.namelist()}
        assert {"demo_0.mp4", "summary.csv", "evaluation.csv", "demo_0.json", "report.html", "detections.png",
                "tracks.png", "scores.png", "contact_sheet.png"} <= set(files)
        plots = plot_paths(PATHS["plots"].format(video="demo_0"))
        assert archive.read(files["tracks.png"]) == (whole / plots["tracks"]).read_bytes()
        videos = {archive.read(name) for name in archive.namelist() if Path(name).name == "demo_0.mp4"}
        assert videos == {(whole / PATHS[kind].format(video="demo_0")).read_bytes() for kind in ("annotated", "truth_video")}
        assert archive.read(files["summary.csv"]) == (whole / PATHS["summary"]).read_bytes()
        page = archive.read(files["report.html"]).decode()
    for text in ("Annotated videos", "Dataset", "Evaluation", "Plots", "in its track's colour", "per evaluated video"):
        assert text in page, text


def test_the_report_opens_in_a_browser(runs, tmp_path_factory):
    """The run's report in headless Chromium: no console errors, figures equal to the tables, a failed video with its
    reason, a sortable summary, every plot drawn, and the annotated video playing."""
    from browser import chromium

    _, whole = runs
    index = whole / PATHS["report"]
    assert index.is_file()
    detections = pd.read_parquet(whole / "results/detections")
    tracks = pd.read_parquet(whole / "results/tracks")
    status = pd.read_csv(whole / "results/status.tsv", sep="\t", keep_default_na=False).set_index("video")
    assert status.loc["broken", "status"] == "failed" and status.loc["demo_0", "status"] == "ok"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(index.as_uri())
        shot = tmp_path_factory.mktemp("report") / "overview.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"overview screenshot: {shot}")

        def shown(name: str) -> int:
            return int(page.locator(f'[data-check="{name}"]').first.inner_text().replace(",", ""))

        assert shown("frames processed") == len(pd.read_parquet(whole / "results/frames")) == FRAMES
        assert shown("detections") == len(detections) and shown("tracks") == len(tracks) >= 2
        assert (shown("videos"), shown("done"), shown("failed")) == (2, 1, 1)
        for name, count in detections.groupby("class_name").size().items():
            assert shown(f"detections:{name}") == count
        for name, count in tracks.groupby("class_name").size().items():
            assert shown(f"objects:{name}") == count
        failure = page.locator('[data-check="failure-list"] tbody tr').first.inner_text()
        assert "broken" in failure and status.loc["broken", "reason"] in failure

        summary = page.locator('[data-check="summary-table"]')
        column = [h.strip() for h in summary.locator("th").all_inner_texts()].index("instances")

        def instances() -> list[int]:
            return [int(t.replace(",", "")) for t in summary.locator(f"tbody td:nth-child({column + 1})").all_inner_texts()]

        assert len(instances()) >= 2
        summary.locator("th").nth(column).click()
        assert instances() == sorted(instances())
        summary.locator("th").nth(column).click()
        assert instances() == sorted(instances(), reverse=True)

        page.click('[data-check="video-list"] a:text("demo_0")')
        page.wait_for_load_state("load")
        images = page.evaluate("() => [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        assert {src.split("/")[-1] for src, _, _ in images} >= {"contact_sheet.png", "detections.png", "tracks.png",
                                                                  "scores.png", "pr_curve.png"}
        assert all(complete and width > 100 for _, complete, width in images), images
        assert shown("detections") == len(detections) and shown("objects") == len(tracks)
        from urllib.parse import unquote, urlparse

        links = page.eval_on_selector_all("a[href]", "elements => elements.map(e => e.href)")
        assert len(links) >= 8 and all(Path(unquote(urlparse(url).path)).is_file() for url in links), links
        page.evaluate("() => document.querySelector('video').play()")
        page.wait_for_function("() => document.querySelector('video').currentTime > 0.3", timeout=15000)
        assert page.evaluate("() => document.querySelector('video').readyState") >= 2
        check_finding_things(page, whole, tracks)
        for url in (index.as_uri(), page.url):  # a phone's width: the page itself never scrolls sideways
            page.set_viewport_size({"width": 390, "height": 800})
            page.goto(url)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, url
        assert errors == []


def check_finding_things(page, run, tracks) -> None:
    """On a video's page: the errors equal the errors table and each row, mark and track seeks the video to its
    time; the filters keep the rows asked for."""
    errors = pd.read_parquet(run / "results/errors")
    assert len(errors), "the demo model makes mistakes on this video: the errors table has rows"
    for kind in errors.kind.unique():
        assert int(page.locator(f'[data-check="errors:{kind}"]').inner_text()) == (errors.kind == kind).sum()

    def at(seconds: float) -> None:  # the video shows the frame of `seconds` (half a frame in, fps 10)
        page.wait_for_function(f"() => Math.abs(document.querySelector('video').currentTime - {seconds + 0.05}) < 1e-3",
                               timeout=5000)

    rows = page.locator("#errors tbody tr")
    last = rows.last
    time = float(last.get_attribute("data-seek"))
    assert time in set(errors.time_s.round(6))
    last.click()
    at(time)
    mark = page.locator("svg.timeline rect[data-seek]").first
    mark.click()
    at(float(mark.get_attribute("data-seek")))
    kind = errors.kind.iloc[-1]
    page.select_option('select[data-filter="errors"]', kind)
    shown = [r for r in page.locator("#errors tbody tr").all() if r.is_visible()]
    assert shown and all(r.get_attribute("data-kind") == kind for r in shown)

    track_rows = page.locator("#tracks tbody tr")
    assert track_rows.count() == len(tracks)
    latest = tracks.sort_values("first_time_s").iloc[-1]
    page.locator(f'#tracks tbody tr:has-text("#{latest.track_id}")').first.click()
    at(latest.first_time_s)
    name = tracks.class_name.iloc[0]
    page.select_option('select[data-filter="tracks"]', name)
    assert sum(r.is_visible() for r in track_rows.all()) == (tracks.class_name == name).sum()
    page.select_option('select[data-filter="tracks"]', "")
    page.fill('input[data-filter="tracks"]', "0.99")
    page.dispatch_event('input[data-filter="tracks"]', "input")
    assert sum(r.is_visible() for r in track_rows.all()) == (tracks.mean_score >= 0.99).sum()
    toggle = page.locator("input[data-video-src]")  # the same moment with the ground truth's outlines, and back
    time = page.evaluate("() => document.querySelector('video').currentTime")
    for checked, folder in ((True, "truth_videos"), (False, "/videos/")):
        toggle.set_checked(checked)
        page.wait_for_function(f"() => {{ const v = document.querySelector('video'); return v.currentSrc.includes("
                               f"'{folder}') && v.readyState >= 1 && Math.abs(v.currentTime - {time}) < 1e-3; }}",
                               timeout=10000)
    plot = page.locator('img[src$="tracks.png"]')
    left, right, end = map(float, plot.get_attribute("data-time-axis").split(","))
    box = plot.bounding_box()
    plot.click(position={"x": box["width"] * (left + (right - left) * 0.5), "y": box["height"] / 2})
    page.wait_for_function(f"() => Math.abs(document.querySelector('video').currentTime - {end / 2 + 0.05}) < "
                           f"{end / box['width'] * 2}")  # within two pixels of the middle of the time axis
