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
import html
import json
import logging
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

import pandas as pd

from vidseg import __version__
from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError
from vidseg.workflow.plan import LOGS, PATHS

KEY_FILE = "key.json"
PLOTS = {  # file -> caption
    "detections.png": "Detections per frame of each class over time",
    "tracks.png": "Confirmed tracks (distinct objects) from first to last sight",
    "scores.png": "Score distribution of the kept detections",
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0} th,td{padding:.25em .6em;border-bottom:1px solid #eee}
th{text-align:left;background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv td.n{text-align:left} table.sortable th{cursor:pointer} table.sortable th:hover{background:#e6e6e6}
.cards{display:flex;flex-wrap:wrap;gap:1em} .card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}
.card b{display:block;font-size:1.5em} .failed{color:#b00} .note{color:#846300}
figure{margin:1em 0} figcaption{font-size:.9em;color:#555} img{max-width:100%}
video{width:720px;max-width:100%;background:#000}
.scroll{overflow-x:auto}
"""
# Sorting a table by the clicked column (numbers by their data-sort value): a table widget, not charting.
SORT_SCRIPT = """
for (const th of document.querySelectorAll("table.sortable th")) {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0], col = th.cellIndex;
    const up = th.dataset.dir !== "up"; th.dataset.dir = up ? "up" : "down";
    const key = row => { const cell = row.cells[col]; return cell.dataset.sort ?? cell.textContent; };
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      const order = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
      return up ? order : -order;
    });
    for (const row of rows) body.appendChild(row);
  });
}
"""


# ---- small HTML helpers --------------------------------------------------------------------------------------

def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any, digits: int = 3) -> str:
    """A cell's text: integers with thousands separators, other numbers with `digits` decimals, '' for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cell(value: Any, check: str | None = None) -> str:
    """A table cell; numbers align right and sort by value; `check` names it for tests (data-check)."""
    attrs = f' data-check="{esc(check)}"' if check else ""
    if value is None:
        return f"<td{attrs}></td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        sort = "" if value != value else f' data-sort="{value}"'
        return f'<td class="n"{sort}{attrs}>{esc(number(value))}</td>'
    if isinstance(value, Markup):
        return f"<td{attrs}>{value}</td>"
    return f"<td{attrs}>{esc(value)}</td>"


class Markup(str):
    """HTML that `cell` inserts as it is (links)."""


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{esc(href)}">{esc(text)}</a>')


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[Any]], sortable: bool = True,
          check: str | None = None) -> str:
    """An HTML table (`headers` None: a key-value table); cells are `cell` values, or (value, check-name) pairs."""
    head = "" if headers is None else "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(*c) if isinstance(c, tuple) else cell(c) for c in row) + "</tr>"
                   for row in rows)
    classes = " ".join(name for name, on in (("sortable", sortable), ("kv", headers is None)) if on)
    attrs = (f' class="{classes}"' if classes else "") + (f' data-check="{esc(check)}"' if check else "")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<div class="scroll"><table{attrs}>{thead}<tbody>{body}</tbody></table></div>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><style>{STYLE}</style></head>\n<body>\n{body}\n'
            f'<script>{SORT_SCRIPT}</script>\n</body></html>\n')


def write_text(path: Path, text: str) -> None:
    with atomic_path(path, suffix=".html") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def href(from_file: str, to_file: str) -> str:
    """A relative URL from one report file to another file of the results (both relative to the run's root)."""
    return quote(os.path.relpath(to_file, os.path.dirname(from_file)).replace(os.sep, "/"), safe="/=")


# ---- one video ---------------------------------------------------------------------------------------------

# A video's files the page is made from or links to, with their labels.
FILES = {"detections": "detections (Parquet)", "frames_table": "frames (Parquet)", "tracks": "tracks (Parquet)",
         "annotated": "annotated video (MP4)", "coco_export": "COCO results (JSON)", "mots_export": "MOTS tracks (txt)",
         "evaluation": "evaluation (JSON)", "probe": "probe (JSON)"}


def input_key(root: Path, video: str, status: Mapping[str, str], code: str) -> dict:
    """What a video's page is made from: its files' sizes and times, its status row, the report code."""
    stamps = {}
    for kind in FILES:
        try:
            info = (root / PATHS[kind].format(video=video)).stat()
        except FileNotFoundError:
            stamps[kind] = None
        else:
            stamps[kind] = [info.st_size, info.st_mtime_ns]
    return {"inputs": stamps, "status": dict(status), "code": code}


def build_video(root: Path, video: str, status: Mapping[str, str], code: str) -> dict:
    """Write a video's page and its images unless they are up to date; return its numbers for the overview."""
    assets = root / PATHS["report_assets"].format(video=video)
    key_path = assets / KEY_FILE
    key = input_key(root, video, status, code)
    if key_path.is_file() and (root / PATHS["report_video"].format(video=video)).is_file():
        cached = json.loads(key_path.read_text())
        if cached.get("key") == key:
            return cached["numbers"]
    from vidseg.report import plots as report_plots
    from vidseg.report.data import SCORE_BINS, read_video

    data = read_video(root, video)
    assets.mkdir(parents=True, exist_ok=True)
    duration = float(data.probe.get("duration_s") or 0) if data.probe else 0.0
    duration = max(duration, float(data.times[-1]) if data.n_frames else 0.0)
    report_plots.detections_over_time(assets / "detections.png", data.times, data.per_frame, data.class_ids, duration)
    report_plots.tracks_timeline(assets / "tracks.png", data.tracks, duration)
    report_plots.score_histogram(assets / "scores.png", SCORE_BINS, data.scores, data.class_ids)
    evaluation = data.evaluation or {}
    if evaluation.get("pr_curve"):
        report_plots.pr_curves(assets / "pr_curve.png", evaluation["pr_curve"])
    sheet_note = _contact_sheet(root, video, data, assets / "contact_sheet.png")
    numbers = {
        "frames": data.n_frames, "detections": sum(data.detections.values()), "tracked": data.tracked,
        "objects": sum(data.objects.values()), "duration_s": duration,
        "detections_per_class": data.detections, "objects_per_class": data.objects,
        "mask_AP": (evaluation.get("segm") or {}).get("AP"), "HOTA": (evaluation.get("tracking") or {}).get("HOTA"),
        "provenance": data.provenance,
    }
    files = [kind for kind, stamp in key["inputs"].items() if stamp is not None]  # the files that exist
    write_text(root / PATHS["report_video"].format(video=video),
               video_page(video, status, data, numbers, sheet_note, files))
    with atomic_path(key_path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps({"key": key, "numbers": numbers}))
    return numbers


def _contact_sheet(root: Path, video: str, data, out: Path) -> str:
    """Write the contact sheet from the annotated video; '' or why there is none."""
    from vidseg.report.contact_sheet import contact_sheet

    out.unlink(missing_ok=True)
    annotated = root / PATHS["annotated"].format(video=video)
    if not annotated.is_file():
        return "no annotated video (see the status above)"
    if not data.n_frames or not data.probe:
        return "no frames"
    try:
        contact_sheet(annotated, data.times, (data.probe["width"], data.probe["height"]), out)
    except VidsegError as err:
        return str(err)
    return ""


def video_page(video: str, status: Mapping[str, str], data, numbers: dict, sheet_note: str,
               files: Sequence[str] = ()) -> str:
    """A video's page; `files`: the kinds (PATHS keys, FILES) of its files that exist, linked at the top."""
    page_path = PATHS["report_video"].format(video=video)
    assets = quote(Path(PATHS["report_assets"].format(video=video)).name)
    parts = [f'<p><a href="{href(page_path, PATHS["report"])}">&larr; all videos</a></p>', f"<h1>{esc(video)}</h1>"]
    parts.append(_status_line(status))
    probe = data.probe or {}
    facts = [("source", probe.get("path", "")), ("size", f"{probe.get('width')} x {probe.get('height')}"),
             ("frame rate", number(probe.get("fps"), 3) + (" (variable)" if probe.get("variable_frame_rate") else "")),
             ("duration (s)", number(probe.get("duration_s"), 2)), ("audio", probe.get("audio_codec") or "none"),
             ("frames processed", (numbers["frames"], "frames")), ("detections", (numbers["detections"], "detections")),
             ("in a track", numbers["tracked"]), ("distinct objects (tracks)", (numbers["objects"], "objects"))]
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
        parts.append(f'<video controls preload="auto" src="{src}" data-check="video"></video>'
                     f'<p><a href="{src}">download the MP4</a></p>')
    parts.append("<h2>Contact sheet</h2>")
    parts.append(f"<p>{esc(sheet_note)}</p>" if sheet_note else
                 _figure(f"{assets}/contact_sheet.png", "Annotated frames at evenly spaced times"))
    parts.append("<h2>Detections</h2>")
    parts += [_figure(f"{assets}/{name}", caption) for name, caption in PLOTS.items()]
    per_class = [(name, (count, f"detections:{name}"), (numbers["objects_per_class"].get(name, 0), f"objects:{name}"))
                 for name, count in sorted(data.detections.items())]
    parts.append(table(["class", "detections", "distinct objects"], per_class))
    if data.evaluation:
        parts.append(_evaluation(data.evaluation, assets))
    parts.append("<h2>Provenance</h2>" + _provenance_table(data.provenance))
    return page(f"{video} - vidseg report", "\n".join(parts))


def _figure(src: str, caption: str) -> str:
    return f'<figure><img src="{src}" alt="{esc(caption)}" loading="eager"><figcaption>{esc(caption)}</figcaption></figure>'


def _status_line(status: Mapping[str, str]) -> str:
    line = (f'<p>status: <b>{esc(status.get("status", "?"))}</b>'
            + ("" if status.get("status") == "ok" else f' at {esc(status.get("stage", ""))}')
            + (f' <span class="failed">{esc(status["reason"])}</span>' if status.get("reason") else "") + "</p>")
    if status.get("note"):
        line += f'<p class="note">note: {esc(status["note"])}</p>'
    return line


def _evaluation(evaluation: dict, assets: str) -> str:
    parts = [f"<h2>Evaluation against {esc(evaluation.get('ground_truth', 'the ground truth'))}</h2>",
             f"<p>COCOeval (pycocotools) over detections with score &ge; {esc(evaluation.get('min_confidence'))}; "
             f"-1: no object of that size.</p>"]
    kinds = [k for k in ("bbox", "segm") if isinstance(evaluation.get(k), dict)]
    names = list(dict.fromkeys(name for k in kinds for name in evaluation[k]))  # COCOeval's figures, in its order
    rows = [(name, *[(evaluation[k].get(name), f"{k}:{name}") for k in kinds]) for name in names]
    parts.append(table(["figure", *[{"bbox": "boxes", "segm": "masks"}[k] for k in kinds]], rows, sortable=False))
    if evaluation.get("pr_curve"):
        parts.append(_figure(f"{assets}/pr_curve.png", "Precision-recall (COCOeval, mean over classes)"))
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
               errors: Mapping[str, str] | None = None) -> str:
    """The dataset page; `errors`: videos whose page could not be built, and why."""
    errors = errors or {}
    report = PATHS["report"]
    counts = status["status"].value_counts()
    totals = {key: sum(n[key] for n in numbers.values()) for key in ("frames", "detections", "objects")}
    cards = [("videos", len(status)), ("done", int(counts.get("ok", 0))), ("failed", int(counts.get("failed", 0))),
             ("not run", int(counts.get("not run", 0))), ("frames processed", totals["frames"]),
             ("detections", totals["detections"]), ("distinct objects", totals["objects"])]
    parts = ["<h1>vidseg report</h1>", f"<p>{esc(len(numbers))} of {esc(len(status))} videos have tables; built {esc(built)} "
             f"by vidseg {esc(__version__)}. Tables: <code>results/detections</code>, <code>results/frames</code>, "
             f"<code>results/tracks</code> (Parquet); status: <a href=\"{href(report, PATHS['status'])}\">status.tsv</a>.</p>"]
    parts.append('<div class="cards">' + "".join(
        f'<div class="card"><b data-check="{esc(name)}" data-value="{value}">{number(value)}</b>{esc(name)}</div>'
        for name, value in cards) + "</div>")

    parts.append("<h2>Classes</h2>")
    per_class: dict[str, list[int]] = {}
    for n in numbers.values():
        for name, count in n["detections_per_class"].items():
            per_class.setdefault(name, [0, 0, 0])[0] += count
            per_class[name][2] += 1
        for name, count in n["objects_per_class"].items():
            per_class.setdefault(name, [0, 0, 0])[1] += count
    rows = [(name, (d, f"detections:{name}"), (o, f"objects:{name}"), v) for name, (d, o, v) in sorted(per_class.items())]
    parts.append(table(["class", "detections", "distinct objects", "videos with it"], rows, check="class-list")
                 if rows else "<p>no detections</p>")

    bad = status[status["status"] != "ok"]
    if len(bad):
        parts.append(f'<h2 class="failed">Failed or not run ({len(bad)})</h2>')
        parts.append(table(["video", "stage", "status", "reason"],
                           [(row.video, row.stage, row.status, row.reason) for row in bad.itertuples()],
                           check="failure-list"))
    if errors:
        parts.append(f'<h2 class="failed">Pages that could not be built ({len(errors)}; see {esc(LOGS["report"])})</h2>')
        parts.append(table(["video", "error"], sorted(errors.items()), check="page-errors"))

    parts.append("<h2>Videos</h2><p>Click a column to sort; a video's name opens its page.</p>")
    rows = []
    for row in status.itertuples():
        n = numbers.get(row.video)
        name = link(href(report, PATHS["report_video"].format(video=row.video)), row.video) if n else row.video
        figures = ("",) * 6 if n is None else (n["frames"], n["detections"], n["objects"], n["duration_s"],
                                                n["mask_AP"], n["HOTA"])
        rows.append((name, row.status, row.stage if row.status != "ok" else "", *figures, row.note))
    parts.append(table(["video", "status", "stage", "frames", "detections", "objects", "duration (s)", "mask AP", "HOTA",
                        "note"], rows, check="video-list"))

    written = f" (written {summary.attrs['written']})" if summary is not None and "written" in summary.attrs else ""
    parts.append(f'<h2>Summary table</h2><p><a href="{href(report, PATHS["summary"])}">summary.csv</a>{esc(written)}: '
                 "per video and class.</p>")
    if summary is None:
        parts.append("<p>not written in this run (it needs every video that passed the probe; see the failures)</p>")
    else:
        rows = [tuple(_plain(v) for v in record) for record in summary.itertuples(index=False)]
        parts.append(table(list(summary.columns), rows, check="summary-table"))

    parts.append("<h2>Provenance</h2>" + _provenances(numbers))
    return page("vidseg report", "\n".join(parts))


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
    from vidseg.report.data import has_tables

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
    built = _utc(time.time())
    index = root / PATHS["report"]
    write_text(index, index_page(status, numbers, summary, built, errors))
    return index, len(numbers)


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
    args = parser.parse_args(argv)
    if args.log:
        from vidseg.core.logs import log_to

        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        log = log_to(args.log)
    start = time.perf_counter()
    try:
        index, pages = build_report(args.root, args.jobs)
    except VidsegError as err:
        if args.log:
            raise  # log_to's hook writes the FAILED: line
        raise SystemExit(f"report: {err}") from None
    line = f"report: {index} ({pages} video pages, {time.perf_counter() - start:.1f} s)"
    if args.log:
        log.info(line)
    print(line)


if __name__ == "__main__":
    main()
