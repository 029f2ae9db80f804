"""A video's figures: its plots, contact sheet and poster, drawn into one folder with `figures.json` beside them.

The workflow's `plots` rule draws them per video into results/plots/<id>/ (declared,
so Snakemake schedules, stores and reports them: `snakemake --report`); the HTML
report's page shows that folder's images, and draws them into its own folder only
for a video the rule has not drawn (a run stopped before, a failed job).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError

FIGURES_FILE = "figures.json"  # what was drawn: each time plot's axis (plots.time_axis), the contact sheet's note
POSTER = "poster.png"  # the video's middle contact-sheet frame, in the report's index


def duration_of(data) -> float:
    """The video's length (s): the probe's, or its last processed frame's time if that is later."""
    duration = float(data.probe.get("duration_s") or 0) if data.probe else 0.0
    return max(duration, float(data.times[-1]) if data.n_frames else 0.0)


def draw_figures(data, annotated: str | Path | None, out: str | Path) -> dict[str, Any]:
    """Draw `data`'s (vidseg.report.data.VideoData) figures into the folder `out`, the contact sheet and poster from
    the `annotated` video; write and return the figures record (`FIGURES_FILE`)."""
    from vidseg.report import plots
    from vidseg.report.data import SCORE_BINS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    duration = duration_of(data)
    evaluation = data.evaluation or {}
    axes = {"detections.png": plots.detections_over_time(out / "detections.png", data.times, data.per_frame,
                                                         data.class_ids, duration),
            "tracks.png": plots.tracks_timeline(out / "tracks.png", data.tracks, duration)}
    threshold = evaluation.get("table_min_confidence", (data.provenance or {}).get("detection_min_confidence"))
    plots.score_histogram(out / "scores.png", SCORE_BINS, data.scores, data.class_ids, threshold,
                          evaluation.get("scored_histogram"))
    (out / "pr_curve.png").unlink(missing_ok=True)
    if evaluation.get("pr_curve"):
        plots.pr_curves(out / "pr_curve.png", evaluation["pr_curve"])
    record = {"axes": axes, "sheet_note": _contact_sheet(data, annotated, out), "duration_s": duration}
    with atomic_path(out / FIGURES_FILE, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(record))
    return record


def _contact_sheet(data, annotated: str | Path | None, out: Path) -> str:
    """Write the contact sheet and poster from the annotated video; '' or why there are none."""
    from vidseg.report.contact_sheet import contact_sheet

    for name in ("contact_sheet.png", POSTER):
        (out / name).unlink(missing_ok=True)
    if annotated is None or not Path(annotated).is_file():
        return "no annotated video (see the status above)"
    if not data.n_frames or not data.probe:
        return "no frames"
    try:
        contact_sheet(annotated, data.times, (data.probe["width"], data.probe["height"]), out / "contact_sheet.png",
                      poster=out / POSTER)
    except VidsegError as err:
        return str(err)
    return ""
