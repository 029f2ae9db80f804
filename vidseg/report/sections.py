"""The parts of a video's page that help find something: its errors against the ground truth, its classes, its tracks.

Every row and mark that has a time seeks the annotated video there when clicked
(`data-seek`, the page script in `vidseg.report.html`); tables sort by a click on
a column and filter by class, kind or score.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from vidseg.evaluation.errors import KINDS
from vidseg.report.html import Markup, cell, esc, number, table

KIND_COLOURS = {"false positive": "#d62728", "duplicate": "#e67e00", "wrong class": "#8e44ad", "missed": "#1f6fb4",
                "id switch": "#238b45"}  # the timeline's lanes; distinct in hue and for red-green colour blindness
MAX_ROWS = 2000  # rows of a table on the page (the Parquet tables have them all)


def episodes(errors: pd.DataFrame, frame_numbers: np.ndarray) -> pd.DataFrame:
    """Runs of one error over consecutive processed frames (same kind, detected class, object and track): `kind`,
    `class_name`, `object_class`, `object_id`, `track_id`, `previous_track_id`, `first_frame`, `last_frame`,
    `first_time_s`, `last_time_s`, `frames`, `score` (the highest), `iou` (the lowest); by first time."""
    columns = ["kind", "class_name", "object_class", "object_id", "track_id", "previous_track_id", "first_frame",
               "last_frame", "first_time_s", "last_time_s", "frames", "score", "iou"]
    if errors is None or not len(errors):
        return pd.DataFrame(columns=columns)
    keys = ["kind", "class_name", "object_class", "object_id", "track_id"]
    rows = errors.assign(position=np.searchsorted(frame_numbers, errors.frame.to_numpy()))
    rows = rows.sort_values([*keys, "position"], kind="stable")
    same = (rows[keys].shift() == rows[keys]).all(axis=1) & (rows.position.diff() == 1) & (rows.kind != "id switch")
    rows = rows.assign(episode=(~same).cumsum())
    out = rows.groupby("episode", sort=False).agg(
        **{key: (key, "first") for key in [*keys, "previous_track_id"]}, first_frame=("frame", "first"),
        last_frame=("frame", "last"), first_time_s=("time_s", "first"), last_time_s=("time_s", "last"),
        frames=("frame", "size"), score=("score", "max"), iou=("iou", "min"))
    return out.sort_values(["first_time_s", "kind"], kind="stable").reset_index(drop=True)[columns]


def policy(evaluation: Mapping[str, Any]) -> str:
    """What the tables keep, what the evaluation scores and what the errors are of, in one paragraph."""
    kept, scored = evaluation.get("kept_detections"), evaluation.get("scored_detections")
    threshold, lowest = evaluation.get("table_min_confidence"), evaluation.get("min_confidence")
    if kept is None or scored is None:
        return f'<p class="note">{esc(evaluation.get("note", ""))}</p>'
    return (f'<p data-check="policy">The tables and the annotated video keep detections with score &ge; {esc(threshold)} '
            f'(<b>{number(kept)}</b> of the ground truth\'s classes in its frames). COCOeval scores every detection down '
            f'to score {esc(lowest)} (<b>{number(scored)}</b>): the {number(max(0, scored - kept))} below {esc(threshold)} '
            f"count in AP and the precision-recall curve, never in the tables. The errors are those of the "
            f"{number(kept)} kept detections, matched to the ground truth at mask IoU 0.5.</p>")


def errors_section(evaluation: Mapping[str, Any], found: pd.DataFrame, duration: float) -> str:
    """Counts per kind, a clickable timeline (a lane per kind) and the table of error runs."""
    counts = evaluation.get("errors") or {}
    parts = ["<h3>Errors of the kept detections</h3>", '<div class="cards">' + "".join(
        f'<div class="card" style="border-color:{KIND_COLOURS[kind]}"><b data-check="errors:{esc(kind)}">'
        f'{number(counts.get(kind, 0))}</b>{esc(kind)} (frames)</div>' for kind in KINDS) + "</div>"]
    if not len(found):
        parts.append("<p>none: every object found, with its class, and every track kept</p>")
        return "\n".join(parts)
    parts.append("<p>Click a mark or a row to see its first frame in the video. A row is one error over "
                 "consecutive frames.</p>" + timeline(found, duration))
    shown = found.iloc[:MAX_ROWS]
    rows = []
    for e in shown.itertuples():
        detected = "" if e.kind == "missed" else f"{e.class_name}" + (f" #{e.track_id}" if e.track_id >= 0 else "")
        if e.kind == "id switch":
            detected = f"#{e.previous_track_id} \u2192 #{e.track_id}"
        obj = "" if e.kind == "false positive" else f"{e.object_class} (object {e.object_id})"
        rows.append(Markup(f'<tr data-seek="{e.first_time_s:.6f}" data-kind="{esc(e.kind)}">'
                           f'<td><span class="swatch" style="background:{KIND_COLOURS[e.kind]}"></span>{esc(e.kind)}</td>'
                           f'{cell(e.first_time_s, digits=2)}{cell(e.last_time_s, digits=2)}'
                           f'{cell(e.first_frame)}{cell(e.frames)}'
                           f'<td>{esc(detected)}</td><td>{esc(obj)}</td>{cell(e.score, digits=2)}{cell(e.iou, digits=2)}</tr>'))
    filter_by = _select("errors", "kind", "kind", [k for k in KINDS if (found.kind == k).any()])
    note = f"<p>the first {MAX_ROWS} of {len(found)} (all in results/errors)</p>" if len(found) > MAX_ROWS else ""
    parts.append(filter_by + note + _row_table("errors", ["kind", "from (s)", "to (s)", "first frame", "frames",
                                                          "detected as", "ground truth", "score", "IoU"], rows))
    return "\n".join(parts)


def timeline(found: pd.DataFrame, duration: float, width: int = 1000, lane: int = 18) -> str:
    """An SVG with a lane per kind of error and a mark per error run, each seeking the video to its start."""
    kinds = [k for k in KINDS if (found.kind == k).any()]
    span = max(duration, float(found.last_time_s.max()), 1e-3)
    label = 110
    scale = (width - label) / span
    marks = []
    for e in found.itertuples():
        y = kinds.index(e.kind) * lane
        x = label + e.first_time_s * scale
        w = max(3.0, (e.last_time_s - e.first_time_s) * scale)
        what = f"{e.kind}: {e.class_name or e.object_class} at {e.first_time_s:.2f}-{e.last_time_s:.2f} s ({e.frames} frames)"
        marks.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{lane - 6}" fill="{KIND_COLOURS[e.kind]}" '
                     f'data-seek="{e.first_time_s:.6f}"><title>{esc(what)}</title></rect>')
    labels = "".join(f'<text x="0" y="{i * lane + lane - 5}">{esc(k)}</text>' for i, k in enumerate(kinds))
    steps = np.round(np.linspace(0, span, 6), 1)
    ticks = "".join(f'<text x="{label + t * scale:.1f}" y="{len(kinds) * lane + 14}" '
                    f'text-anchor="{"end" if i == len(steps) - 1 else "middle"}">{t:g}</text>'
                    for i, t in enumerate(steps))
    height = len(kinds) * lane + 18
    return (f'<svg class="timeline" data-check="error-timeline" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="errors over time (s)"><rect x="{label}" y="0" width="{width - label}" '
            f'height="{len(kinds) * lane}" fill="#f7f7f7"/>{labels}{"".join(marks)}{ticks}</svg>')


def classes_table(detections: Mapping[str, int], tracks: Mapping[str, int], evaluation: Mapping[str, Any] | None) -> str:
    """Per class: what the tables hold, and where there is a ground truth the class's own AP, recall and errors."""
    per_class = (evaluation or {}).get("per_class") or {}
    errors = (evaluation or {}).get("errors_per_class") or {}
    names = sorted(set(detections) | set(per_class) | set(errors))
    headers = ["class", "detections", "tracks"]
    if per_class:
        headers += ["ground-truth instances", "mask AP", "mask AP50", "mask recall (IoU 0.5)", "box AP",
                    "false positives", "duplicates", "wrong class", "missed"]
    rows = []
    for name in names:
        row = [name, (detections.get(name, 0), f"detections:{name}"), (tracks.get(name, 0), f"objects:{name}")]
        if per_class:
            own, counted = per_class.get(name, {}), errors.get(name, {})
            row += [own.get("ground_truth", 0), *((own.get(key), f"{key}:{name}") for key in
                                                   ("segm_AP", "segm_AP50", "segm_recall50", "bbox_AP")),
                    *(counted.get(kind, 0) for kind in KINDS[:4])]
        rows.append(row)
    note = ("<p>AP and recall per class (COCOeval, its own detections and objects only); empty: the ground truth has "
            "no object of that class. Errors as above.</p>" if per_class else "")
    return note + table(headers, rows, check="class-table")


def tracks_section(tracks: Mapping[str, np.ndarray]) -> str:
    """The confirmed tracks, sortable, filterable by class and mean score; a row seeks the video to its first sight."""
    ids = tracks.get("track_id", np.array([], np.int64))
    if not len(ids):
        return "<p>no confirmed tracks</p>"
    order = np.lexsort((ids, tracks["first_time_s"]))[:MAX_ROWS]
    rows = []
    for i in order:
        name = str(tracks["class_name"][i])
        rows.append(Markup(
            f'<tr data-seek="{tracks["first_time_s"][i]:.6f}" data-class="{esc(name)}" '
            f'data-score="{float(tracks["mean_score"][i]):.4f}"><td data-sort="{int(ids[i])}">'
            f'<span class="swatch" style="background:{esc(tracks["colour"][i])}"></span>#{int(ids[i])}</td>'
            f'<td>{esc(name)}</td>'
            f'{cell(tracks["class_share"][i], digits=2)}{cell(tracks["first_time_s"][i], digits=2)}'
            f'{cell(tracks["last_time_s"][i], digits=2)}'
            f'{cell(int(tracks["frames_seen"][i]))}{cell(tracks["mean_score"][i], digits=3)}</tr>'))
    classes = sorted(set(map(str, tracks["class_name"])))
    controls = (_select("tracks", "class", "class", classes) +
                '<label>mean score &ge; <input type="number" min="0" max="1" step="0.05" value="0" '
                'data-filter="tracks" data-key="score" data-min="1"></label>')
    note = f"<p>the first {len(order)} of {len(ids)} tracks (all in results/tracks)</p>" if len(order) < len(ids) else ""
    return ('<p>Click a column to sort, a row to see the track\'s first frame. "class share": the share of its '
            "detections that have its class (a track keeps its main class).</p>" + controls + note +
            _row_table("tracks", ["track", "class", "class share", "first seen (s)", "last seen (s)", "frames seen",
                                  "mean score"], rows))


def _select(target: str, key: str, label: str, values: list[str]) -> str:
    options = '<option value="">all</option>' + "".join(f'<option>{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)} <select data-filter="{target}" data-key="{key}">{options}</select></label> '


def _row_table(name: str, headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (f'<div class="scroll"><table class="sortable rows" id="{name}" data-check="{name}-table"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
