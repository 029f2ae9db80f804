"""A video's figures: its three plots, contact sheet and poster, and a record of what was drawn.

The workflow's `plots` rule draws them per video into results/plots/<id>/, each file a
declared output (so Snakemake schedules, stores and reports them: `snakemake --report`);
the HTML report's page shows them, and draws them into its own folder only for a video
the rule has not drawn (a run stopped before, a failed job). Which file holds which
figure is the run plan's (`vidseg.workflow.plan.PLOT_FILES`); here a figure is a kind,
one of its keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError

# The record (kind "record"): each time plot's axis (plots.time_axis, by kind), the contact sheet's note ('' or why
# there is none), the video's length


def duration_of(data) -> float:
    """The video's length (s): the probe's, or its last processed frame's time if that is later."""
    duration = float(data.probe.get("duration_s") or 0) if data.probe else 0.0
    return max(duration, float(data.times[-1]) if data.n_frames else 0.0)


def draw_figures(data, annotated: str | Path | None, paths: Mapping[str, str | Path]) -> dict[str, Any]:
    """Draw `data`'s (vidseg.report.data.VideoData) figures to `paths` (a path per kind of `plan.PLOT_FILES`), the
    contact sheet and poster from the `annotated` video; write and return the record."""
    from vidseg.report import plots
    from vidseg.report.data import SCORE_BINS

    paths = {kind: Path(path) for kind, path in paths.items()}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    duration = duration_of(data)
    evaluation = data.evaluation or {}
    axes = {"detections": plots.detections_over_time(paths["detections"], data.times, data.per_frame,
                                                     data.class_ids, duration),
            "tracks": plots.tracks_timeline(paths["tracks"], data.tracks, duration)}
    threshold = evaluation.get("table_min_confidence", (data.provenance or {}).get("detection_min_confidence"))
    plots.score_histogram(paths["scores"], SCORE_BINS, data.scores, data.class_ids, threshold,
                          evaluation.get("scored_histogram"))
    record = {"axes": axes, "sheet_note": _contact_sheet(data, annotated, paths["contact_sheet"], paths["poster"]),
              "duration_s": duration}
    with atomic_path(paths["record"], suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(record))
    return record


def _contact_sheet(data, annotated: str | Path | None, sheet: Path, poster: Path) -> str:
    """Write the contact sheet and poster from the annotated video; '' or why there are none."""
    from vidseg.report.contact_sheet import contact_sheet

    for path in (sheet, poster):
        path.unlink(missing_ok=True)
    if annotated is None or not Path(annotated).is_file():
        return "no annotated video (see the status above)"
    if not data.n_frames or not data.probe:
        return "no frames"
    try:
        contact_sheet(annotated, data.times, (data.probe["width"], data.probe["height"]), sheet, poster=poster)
    except VidsegError as err:
        return str(err)
    return ""
