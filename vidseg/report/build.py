"""The run's HTML report: `results/report/index.html` for the dataset, one page per video beside it.

Built at the end of every run (the Snakefile's onsuccess/onerror, right after
`results/status.tsv`) from whatever the run left, so a failed video shows up with
its reason instead of stopping the report; `python -m vidseg.report` rebuilds it (`main`).
A video's page (plots, contact sheet, annotated video, evaluation) is rebuilt only
when one of its inputs or the report code changed; the pages are built in
parallel processes. The annotated videos are linked, not copied (keep
`results/` together to move the report); everything else is in the report folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import pandas as pd

from vidseg import __version__
from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError
from vidseg.report.html import Markup, esc, href, link, number, page, table, write_text
from vidseg.workflow.plan import LOGS, PATHS, PLOT_FILES, plot_paths

KEY_FILE = "key.json"
PR_CURVE = "pr_curve.png"  # the report's own figure (the evaluation's), in its folder for the video
PLOTS = {  # kind (PLOT_FILES) -> caption
    "detections": "Detections per frame of each class over time",
    "tracks": "Confirmed tracks from first to last sight, in their colours in the video",
    "scores": "Scores of the kept detections; below the dashed line, in grey, the detections the evaluation "
                  "scored that the tables do not keep",
}
# ---- one video ---------------------------------------------------------------------------------------------

# A video's files the page is made from or links to, with their labels.
FILES = {"detections": "detections (Parquet)", "frames_table": "frames (Parquet)", "tracks": "tracks (Parquet)",
         "errors": "errors (Parquet)", "annotated": "annotated video (MP4)",
         "truth_video": "annotated video with the ground truth (MP4)", "coco_export": "COCO results (JSON)", "mots_export": "MOTS tracks (txt)",
         "evaluation": "evaluation (JSON)", "probe": "probe (JSON)"}


def input_key(root: Path, video: str, status: Mapping[str, str], code: str) -> dict:
    """What a video's page is made from: its files' sizes and times (and the plots rule's figures record), its status
    row, the report code."""
    stamps = {}
    for kind in [*FILES, "figures"]:
        path = plot_paths(PATHS["plots"])["record"] if kind == "figures" else PATHS[kind]
        try:
            info = (root / path.format(video=video)).stat()
        except FileNotFoundError:
            stamps[kind] = None
        else:
            stamps[kind] = [info.st_size, info.st_mtime_ns]
    return {"inputs": stamps, "status": dict(status), "code": code}


def has_tables(root: Path, video: str) -> bool:
    return all((root / PATHS[kind].format(video=video)).is_file() for kind in ("detections", "frames_table"))


def read_video(root: Path, video: str):
    """A video's report figures (vidseg.report.data.VideoData) from the run's files under `root`."""
    from vidseg.report.data import READ, read_files

    return read_files(video, {kind: root / PATHS[kind].format(video=video) for kind in READ})


def build_video(root: Path, video: str, status: Mapping[str, str], code: str) -> dict:
    """Write a video's page unless it is up to date, with its figures (those the plots rule drew, else drawn here);
    return its numbers for the overview."""
    assets = root / PATHS["report_assets"].format(video=video)
    key_path = assets / KEY_FILE
    key = input_key(root, video, status, code)
    if key_path.is_file() and (root / PATHS["report_video"].format(video=video)).is_file():
        cached = json.loads(key_path.read_text())
        if cached.get("key") == key:
            return cached["numbers"]
    from vidseg.report.figures import draw_figures

    data = read_video(root, video)
    assets.mkdir(parents=True, exist_ok=True)
    drawn = root / PATHS["plots"].format(video=video)
    if key["inputs"]["figures"] is not None:  # the plots rule's
        folder, figures = drawn, json.loads((drawn / PLOT_FILES["record"]).read_text())
        for stale in assets.iterdir():  # figures this report drew before the rule did
            if stale.name not in (KEY_FILE, PR_CURVE):
                stale.unlink()
    else:
        folder, figures = assets, draw_figures(data, root / PATHS["annotated"].format(video=video), plot_paths(str(assets)))
    evaluation = data.evaluation or {}
    (assets / PR_CURVE).unlink(missing_ok=True)
    if evaluation.get("pr_curve"):
        from vidseg.report.plots import pr_curves

        pr_curves(assets / PR_CURVE, evaluation["pr_curve"])
    sheet_note = figures["sheet_note"]
    numbers = {
        "frames": data.n_frames, "detections": sum(data.detections.values()), "tracked": data.tracked,
        "objects": sum(data.objects.values()), "duration_s": figures["duration_s"],
        "ground_truth_objects": (evaluation.get("tracking") or {}).get("objects"),
        "errors": sum(evaluation["errors"].values()) if evaluation.get("errors") else None,
        "poster": None if sheet_note else str((folder / PLOT_FILES["poster"]).relative_to(root)),
        "detections_per_class": data.detections, "objects_per_class": data.objects,
        "mask_AP": (evaluation.get("segm") or {}).get("AP"), "HOTA": (evaluation.get("tracking") or {}).get("HOTA"),
        "provenance": data.provenance,
    }
    files = [kind for kind, stamp in key["inputs"].items() if stamp is not None and kind in FILES]  # those that exist
    page_path = PATHS["report_video"].format(video=video)
    write_text(root / page_path, video_page(video, status, data, numbers, sheet_note, files, figures["axes"],
                                            href(page_path, str(folder.relative_to(root)))))
    with atomic_path(key_path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps({"key": key, "numbers": numbers}))
    return numbers


def video_page(video: str, status: Mapping[str, str], data, numbers: dict, sheet_note: str,
               files: Sequence[str] = (), axes: Mapping[str, Sequence[float]] | None = None,
               assets: str | None = None) -> str:
    """A video's page; `files`: the kinds (PATHS keys, FILES) of its files that exist, linked at the top; `axes`: the
    time axis of each plot with one (plots.time_axis), which makes a click on it seek the video; `assets`: the URL of
    its figures' folder, relative to the page."""
    from vidseg.report import sections

    axes = axes or {}
    page_path = PATHS["report_video"].format(video=video)
    assets = assets or quote(Path(PATHS["report_assets"].format(video=video)).name)
    parts = [f'<p><a href="{href(page_path, PATHS["report"])}">&larr; all videos</a></p>', f"<h1>{esc(video)}</h1>"]
    parts.append(_status_line(status))
    probe = data.probe or {}
    facts = [("source", probe.get("path", "")), ("size", f"{probe.get('width')} x {probe.get('height')}"),
             ("frame rate", number(probe.get("fps"), 3) + (" (variable)" if probe.get("variable_frame_rate") else "")),
             ("duration (s)", number(probe.get("duration_s"), 2)), ("audio", probe.get("audio_codec") or "none"),
             ("frames processed", (numbers["frames"], "frames")), ("detections", (numbers["detections"], "detections")),
             ("detections in a track", numbers["tracked"]), ("tracks (confirmed)", (numbers["objects"], "objects"))]
    if numbers.get("ground_truth_objects") is not None:
        facts.append(("objects in the ground truth", (numbers["ground_truth_objects"], "ground-truth objects")))
    parts.append(table(None, facts, sortable=False))
    if files:
        parts.append("<p>files: " + ", ".join(
            f'<a href="{href(page_path, PATHS[kind].format(video=video))}">{esc(FILES[kind])}</a>' for kind in files)
            + "</p>")
    parts.append("<h2>Annotated video</h2>")
    if sheet_note.startswith("no annotated video"):
        parts.append(f"<p>{esc(sheet_note)}</p>")
    else:
        src = href(page_path, PATHS["annotated"].format(video=video))
        fps = float(probe.get("fps") or 25.0)
        parts.append(f'<video controls preload="auto" src="{src}" data-src="{src}" data-check="video" '
                     f'data-fps="{fps:g}"></video>')
        if "truth_video" in files:
            truth = href(page_path, PATHS["truth_video"].format(video=video))
            parts.append(f'<p><label><input type="checkbox" data-video-src="{truth}"> show the ground truth\'s '
                         f"outlines (white, labelled GT) over the detections</label></p>")
        parts.append(f'<p><a href="{src}">download the MP4</a></p>')
    evaluation = data.evaluation
    if evaluation:
        parts.append(f"<h2>Errors against {esc(evaluation.get('ground_truth', 'the ground truth'))}</h2>")
        parts.append(sections.policy(evaluation))
        if data.errors is not None:
            found = sections.episodes(data.errors, data.frame_numbers)
            parts.append(sections.errors_section(evaluation, found, numbers["duration_s"]))
        else:
            parts.append("<p>no errors table (results/errors) for this video: rerun its evaluate job</p>")
    parts.append("<h2>Classes</h2>")
    parts.append(sections.classes_table(data.detections, numbers["objects_per_class"], evaluation))
    parts.append("<h2>Tracks</h2>")
    parts.append(_figure(f"{assets}/{PLOT_FILES['tracks']}", PLOTS["tracks"], axes.get("tracks")))
    parts.append(sections.tracks_section(data.tracks))
    parts.append("<h2>Detections</h2>")
    parts += [_figure(f"{assets}/{PLOT_FILES[kind]}", PLOTS[kind], axes.get(kind)) for kind in ("detections", "scores")]
    parts.append("<h2>Contact sheet</h2>")
    parts.append(f"<p>{esc(sheet_note)}</p>" if sheet_note else
                 _figure(f"{assets}/{PLOT_FILES['contact_sheet']}", "Annotated frames at evenly spaced times"))
    if evaluation:
        parts.append(_evaluation(evaluation, quote(Path(PATHS["report_assets"].format(video=video)).name)))
    parts.append("<h2>Provenance</h2>" + _provenance_table(data.provenance))
    return page(f"{video} - vidseg report", "\n".join(parts))


def _figure(src: str, caption: str, axis: Sequence[float] | None = None) -> str:
    """An image and its caption; with a time `axis` (plots.time_axis), a click on it seeks the video."""
    seek = "" if axis is None else f' data-time-axis="{",".join(f"{v:g}" for v in axis)}"'
    caption += "" if axis is None else " (click to see that moment in the video)"
    return (f'<figure><img src="{src}" alt="{esc(caption)}" loading="eager"{seek}>'
            f'<figcaption>{esc(caption)}</figcaption></figure>')


def _status_line(status: Mapping[str, str]) -> str:
    line = (f'<p>status: <b>{esc(status.get("status", "?"))}</b>'
            + ("" if status.get("status") == "ok" else f' at {esc(status.get("stage", ""))}')
            + (f' <span class="failed">{esc(status["reason"])}</span>' if status.get("reason") else "") + "</p>")
    if status.get("note"):
        line += f'<p class="note">note: {esc(status["note"])}</p>'
    return line


def _evaluation(evaluation: dict, own: str) -> str:
    """COCOeval's and TrackEval's figures; `own`: the URL of the report's own folder for the video (its PR curve)."""
    parts = [f"<h2>Evaluation against {esc(evaluation.get('ground_truth', 'the ground truth'))}</h2>",
             f"<p>COCOeval (pycocotools) over detections with score &ge; {esc(evaluation.get('min_confidence'))}; "
             f"-1: no object of that size.</p>"]
    kinds = [k for k in ("bbox", "segm") if isinstance(evaluation.get(k), dict)]
    names = list(dict.fromkeys(name for k in kinds for name in evaluation[k]))  # COCOeval's figures, in its order
    rows = [(name, *[(evaluation[k].get(name), f"{k}:{name}") for k in kinds]) for name in names]
    parts.append(table(["figure", *[{"bbox": "boxes", "segm": "masks"}[k] for k in kinds]], rows, sortable=False))
    if evaluation.get("pr_curve"):
        parts.append(_figure(f"{own}/{PR_CURVE}", "Precision-recall (COCOeval, mean over classes)"))
    tracking = evaluation.get("tracking")
    parts.append("<h3>Tracking (TrackEval)</h3>")
    if tracking:
        rows = [(name, (value, f"tracking:{name}")) for name, value in tracking.items()]  # counts are JSON integers
        parts.append(table(["figure", "value"], rows, sortable=False))
    else:
        parts.append(f"<p>{esc(evaluation.get('tracking_note') or 'not scored')}</p>")
    return "\n".join(parts)


def _provenance_table(record: Mapping[str, Any] | None) -> str:
    if not record:
        return "<p>the tables record no provenance</p>"
    rows = [(key, json.dumps(value) if isinstance(value, (list, dict)) else value) for key, value in sorted(record.items())]
    return table(None, rows, sortable=False)


# ---- the dataset --------------------------------------------------------------------------------------------

def read_status(root: Path) -> pd.DataFrame:
    path = root / PATHS["status"]
    if not path.is_file():
        raise VidsegError(f"{path} not found: the report is built from a finished run (run the workflow first)")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def index_page(status: pd.DataFrame, numbers: Mapping[str, dict], summary: pd.DataFrame | None, built: str,
               errors: Mapping[str, str] | None = None, logs: Mapping[str, Sequence[str]] | None = None) -> str:
    """The dataset page; `errors`: videos whose page could not be built, and why; `logs`: the logs of the failed
    stage of a video that did not finish (paths relative to the run's folder)."""
    errors = errors or {}
    report = PATHS["report"]
    counts = status["status"].value_counts()
    totals = {key: sum(n[key] for n in numbers.values()) for key in ("frames", "detections", "objects")}
    cards = [("videos", len(status)), ("done", int(counts.get("ok", 0))), ("failed", int(counts.get("failed", 0))),
             ("not run", int(counts.get("not run", 0))), ("frames processed", totals["frames"]),
             ("detections", totals["detections"]), ("tracks", totals["objects"])]
    truth = [n["ground_truth_objects"] for n in numbers.values() if n.get("ground_truth_objects") is not None]
    if truth:  # named apart from the tracks: a split track is two tracks of one object
        cards.append((f"objects in the ground truth ({len(truth)} video{'s' if len(truth) > 1 else ''})", sum(truth)))
    parts = ["<h1>vidseg report</h1>", f"<p>{esc(len(numbers))} of {esc(len(status))} videos have tables; built {esc(built)} "
             f"by vidseg {esc(__version__)}. Tables: <code>results/detections</code>, <code>results/frames</code>, "
             f"<code>results/tracks</code> (Parquet); status: <a href=\"{href(report, PATHS['status'])}\">status.tsv</a>.</p>"]
    parts.append('<div class="cards">' + "".join(
        f'<div class="card"><b data-check="{esc(name)}" data-value="{value}">{number(value)}</b>{esc(name)}</div>'
        for name, value in cards) + "</div>")
    parts.append(_confidence_policy(numbers))

    parts.append("<h2>Classes</h2>")
    per_class: dict[str, list[int]] = {}
    for n in numbers.values():
        for name, count in n["detections_per_class"].items():
            per_class.setdefault(name, [0, 0, 0])[0] += count
            per_class[name][2] += 1
        for name, count in n["objects_per_class"].items():
            per_class.setdefault(name, [0, 0, 0])[1] += count
    rows = [(name, (d, f"detections:{name}"), (o, f"objects:{name}"), v) for name, (d, o, v) in sorted(per_class.items())]
    parts.append(table(["class", "detections", "tracks", "videos with it"], rows, check="class-list")
                 if rows else "<p>no detections</p>")

    bad = status[status["status"] != "ok"]
    if len(bad):
        logs = logs or {}
        parts.append(f'<h2 class="failed">Failed or not run ({len(bad)})</h2>')
        parts.append(table(["video", "stage", "status", "reason", "log"],
                           [(row.video, row.stage, row.status, row.reason,
                             Markup(", ".join(link(href(report, log), Path(log).name) for log in logs.get(row.video, ()))))
                            for row in bad.itertuples()], check="failure-list"))
    if errors:
        parts.append(f'<h2 class="failed">Pages that could not be built ({len(errors)}; see {esc(LOGS["report"])})</h2>')
        parts.append(table(["video", "error"], sorted(errors.items()), check="page-errors"))

    parts.append("<h2>Videos</h2><p>Click a column to sort; a video's name opens its page.</p>")
    rows = []
    for row in status.itertuples():
        n = numbers.get(row.video)
        page_href = href(report, PATHS["report_video"].format(video=row.video))
        name = link(page_href, row.video) if n else row.video
        poster = "" if not (n and n.get("poster")) else Markup(
            f'<a href="{esc(page_href)}"><img class="poster" alt="" loading="lazy" src="'
            f'{esc(href(report, n["poster"]))}"></a>')
        figures = ("",) * 7 if n is None else (n["frames"], n["detections"], n["objects"], n["duration_s"],
                                                n["mask_AP"], n["HOTA"], n.get("errors"))
        rows.append((poster, name, row.status, row.stage if row.status != "ok" else "", *figures, row.note))
    parts.append(table(["", "video", "status", "stage", "frames", "detections", "tracks", "duration (s)", "mask AP",
                        "HOTA", "errors (frames)", "note"], rows, check="video-list"))
    parts.append(class_by_video(numbers, report))

    written = f" (written {summary.attrs['written']})" if summary is not None and "written" in summary.attrs else ""
    if summary is None:
        parts.append("<h2>Summary table</h2><p>summary.csv (per video and class) was not written in this run (it "
                     "needs every video that passed the probe; see the failures)</p>")
    else:
        videos = (f'; a video\'s overall and tracking figures are in <a href="{href(report, PATHS["evaluation_summary"])}">'
                  "evaluation.csv</a>" if summary.attrs.get("evaluation_table") else "")
        parts.append(f'<h2>Summary table</h2><p><a href="{href(report, PATHS["summary"])}">summary.csv</a>{esc(written)}: '
                     f"per video and class, each row with its own class's figures only{videos}.</p>")
        rows = [tuple(_plain(v) for v in record) for record in summary.itertuples(index=False)]
        parts.append(table(list(summary.columns), rows, check="summary-table"))

    parts.append("<h2>Provenance</h2>" + _provenances(numbers))
    return page("vidseg report", "\n".join(parts))


def _confidence_policy(numbers: Mapping[str, dict]) -> str:
    """One line: what score the tables keep (the tables' provenance) and what the evaluation scores besides."""
    kept = sorted({n["provenance"].get("detection_min_confidence") for n in numbers.values()
                   if n.get("provenance") and n["provenance"].get("detection_min_confidence") is not None})
    scored = sorted({n["provenance"].get("detected_down_to") for n in numbers.values()
                     if n.get("provenance") and n["provenance"].get("detected_down_to") is not None} - set(kept))
    if not kept:
        return ""
    line = (f"Every table, count and annotated video here holds the detections with score &ge; "
            f"{esc(' or '.join(f'{k:g}' for k in kept))} (the model's DETECTION_MIN_CONFIDENCE).")
    if scored:
        line += (f" Videos with a ground truth were also detected down to {esc(' or '.join(f'{k:g}' for k in scored))}"
                 " for COCOeval, whose AP counts those lower scores too; each page says how many.")
    return f'<p class="note" data-check="confidence-policy">{line}</p>'


MAX_CHART_CLASSES = 20  # classes (the most detected) in the index's class x video table


def class_by_video(numbers: Mapping[str, dict], report: str) -> str:
    """Detections of each class (columns, the most detected first) in each video (rows), shaded by count."""
    totals: dict[str, int] = {}
    for n in numbers.values():
        for name, count in n["detections_per_class"].items():
            totals[name] = totals.get(name, 0) + count
    classes = sorted(totals, key=lambda name: (-totals[name], name))[:MAX_CHART_CLASSES]
    if not classes:
        return ""
    top = max(count for n in numbers.values() for count in n["detections_per_class"].values()) or 1
    rows = []
    for video, n in sorted(numbers.items()):
        cells = "".join(
            f'<td class="n" data-sort="{c}" style="background:rgba(31,111,180,{0.08 + 0.6 * c / top:.2f})">{number(c)}</td>'
            if (c := n["detections_per_class"].get(name, 0)) else '<td class="n" data-sort="0"></td>' for name in classes)
        rows.append(Markup(f'<tr><td>{link(href(report, PATHS["report_video"].format(video=video)), video)}</td>'
                           f"{cells}</tr>"))
    note = f" (the {MAX_CHART_CLASSES} most detected of {len(totals)})" if len(totals) > len(classes) else ""
    head = "".join(f"<th>{esc(name)}</th>" for name in ["video", *classes])
    return (f"<h2>Classes by video</h2><p>Detections of each class{note} in each video; darker: more.</p>"
            f'<div class="scroll"><table class="sortable" data-check="class-by-video"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return "" if isinstance(value, float) and value != value else value


def _provenances(numbers: Mapping[str, dict]) -> str:
    groups: dict[str, list[str]] = {}
    for video, n in numbers.items():
        groups.setdefault(json.dumps(n["provenance"], sort_keys=True), []).append(video)
    if not groups:
        return "<p>no tables</p>"
    parts = []
    for record, videos in groups.items():
        if len(groups) > 1:
            parts.append(f"<p>{esc(len(videos))} videos: {esc(', '.join(videos[:20]))}{' ...' if len(videos) > 20 else ''}</p>")
        parts.append(_provenance_table(json.loads(record)))
    return "\n".join(parts)


def report_code() -> str:
    """A digest of the report's code (this module and what it imports): a change rebuilds every page."""
    from vidseg.core.provenance import module_digest

    return module_digest(__name__ if __name__ != "__main__" else "vidseg.report.build")


def build_report(root: str | Path = ".", jobs: int = 1) -> tuple[Path, int]:
    """Write the report of the run in `root`; returns the index path and the number of video pages."""
    root = Path(root)
    status = read_status(root)
    rows = {row["video"]: row for row in status.to_dict("records") if has_tables(root, row["video"])}
    code = report_code()
    workers = min(max(1, jobs), len(rows))
    if workers > 1 and len(rows) >= 4:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {video: pool.submit(page_or_error, root, video, row, code) for video, row in rows.items()}
            results = {video: future.result() for video, future in futures.items()}
    else:
        results = {video: page_or_error(root, video, row, code) for video, row in rows.items()}
    numbers = {video: n for video, n in results.items() if not isinstance(n, str)}
    errors = {video: n for video, n in results.items() if isinstance(n, str)}
    remove_stale_pages(root, set(numbers))
    summary_path = root / PATHS["summary"]
    summary = pd.read_csv(summary_path) if summary_path.is_file() else None
    if summary is not None:  # the file can be older than this run's tables (a failed video stops the summary job)
        summary.attrs["written"] = _utc(summary_path.stat().st_mtime)
        summary.attrs["evaluation_table"] = (root / PATHS["evaluation_summary"]).is_file()
    built = _utc(time.time())
    index = root / PATHS["report"]
    write_text(index, index_page(status, numbers, summary, built, errors, failure_logs(root, status)))
    return index, len(numbers)


def failure_logs(root: Path, status: pd.DataFrame) -> dict[str, list[str]]:
    """Per video that did not finish, the logs of the stage it stopped at that exist (a segment job's log is its
    unit's: the plan job's file of units names a video's units)."""
    units = None
    out = {}
    for row in status[status["status"] != "ok"].itertuples():
        pattern = LOGS.get(row.stage)
        if pattern is None:
            continue
        if "{video}" in pattern:
            paths = [pattern.format(video=row.video)]
        else:
            if units is None:
                from vidseg.workflow.units import read_plan

                plan_file = root / PATHS["units"]
                units = read_plan(plan_file) if plan_file.is_file() else False
            paths = [pattern.format(unit=u) for u in units.units_of(row.video)] if units else []
        out[row.video] = [p for p in paths if (root / p).is_file()]
    return out


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def remove_stale_pages(root: Path, videos: set[str]) -> None:
    """Delete the pages (and images) of videos that no longer have one: removed from the dataset, or failed now."""
    pages = root / Path(PATHS["report_video"]).parent
    for page_file in pages.glob("*.html") if pages.is_dir() else ():
        if page_file.stem not in videos:
            page_file.unlink()
            shutil.rmtree(root / PATHS["report_assets"].format(video=page_file.stem), ignore_errors=True)


def page_or_error(root: Path, video: str, status: Mapping[str, str], code: str) -> dict | str:
    """`build_video`, or why it failed (one video's unreadable table costs only its page; the log has the traceback)."""
    try:
        return build_video(root, video, status, code)
    except Exception as err:  # noqa: BLE001 - any failure of one page is reported in the index, not raised
        logging.getLogger("vidseg").exception("report page of %s failed", video)
        return f"{type(err).__name__}: {err}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vidseg.report", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="the run's working directory (holds results/); default: .")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the video pages")
    parser.add_argument("--log", help="send logging (and a FAILED: line on error) to this file")
    parser.add_argument("--zip", help="also write the report and every file its pages link to (videos, tables) "
                                      "into this zip, to share: unpacked, results/report/index.html works as here")
    args = parser.parse_args(argv)
    if args.log:
        from vidseg.core.logs import log_to

        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        log = log_to(args.log)
    start = time.perf_counter()
    try:
        index, pages = build_report(args.root, args.jobs)
        if args.zip:
            from vidseg.report.bundle import bundle

            files = bundle(args.root, args.zip, skip=(KEY_FILE,))
    except VidsegError as err:
        if args.log:
            raise  # log_to's hook writes the FAILED: line
        raise SystemExit(f"report: {err}") from None
    line = f"report: {index} ({pages} video pages, {time.perf_counter() - start:.1f} s)"
    if args.zip:
        line += f"; {args.zip}: {files} files"
    if args.log:
        log.info(line)
    print(line)


if __name__ == "__main__":
    main()
