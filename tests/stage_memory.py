"""Run one stage on one video in this process and print its peak memory (KiB) as JSON.

    python stage_memory.py segment|annotate|track|report WORKDIR

WORKDIR holds frames/, index.tsv, video.mp4, weights.h5 (+ model.json) and, for
annotate, unit/v.detections.parquet (segment writes the folder unit/, the tables of
the unit of the whole video "v": vidseg.inference.unit); for track, chunks/*.detections.parquet
and chunks/*.frames.parquet; for report, the track stage's out/. Printed: this
process's peak resident memory (VmHWM: getrusage's ru_maxrss would include the peak
of the process that forked it) and the largest of its children's (ffmpeg).
"""

import json
import resource
import sys
from pathlib import Path

stage, work = sys.argv[1], Path(sys.argv[2])
if stage == "segment":
    from vidseg.core.allocator import keep_freed_memory

    keep_freed_memory()  # as scripts/segment.py does
    from vidseg.inference.segment import load_model, segment_unit
    from vidseg.inference.unit import whole

    model, names = load_model(json.loads((work / "model.json").read_text()), work / "weights.h5")
    outcome = segment_unit(model, names, whole("v"), {"v": work / "frames"}, {"v": work / "index.tsv"}, "jpg",
                           work / "unit")
    if isinstance(outcome["v"], str):
        raise SystemExit(f"v failed: {outcome['v']}")
elif stage == "annotate":
    from vidseg.formats.tables import frame_groups
    from vidseg.inference.unit import TABLES, member_path
    from vidseg.media.annotate import annotate_video
    from vidseg.media.encoders import EncodeSettings
    from vidseg.media.frames import read_index
    from vidseg.media.probe import probe

    detections = member_path(work / "unit", "v", TABLES["detections"])
    annotate_video(work / "frames", read_index(work / "index.tsv"), frame_groups(detections), "jpg",
                   probe(work / "video.mp4"), work / "video.mp4", work / "out.mp4", EncodeSettings(preset="ultrafast"))
elif stage == "track":
    from vidseg.tracking.track import track_video

    track_video("v", sorted((work / "chunks").glob("*.detections.parquet")),
                sorted((work / "chunks").glob("*.frames.parquet")), 0.5, {}, work / "out/detections.parquet",
                work / "out/frames.parquet", work / "out/tracks.parquet")
elif stage == "report":  # a video page from the track stage's tables (out/), as results/ holds them
    from vidseg.report.build import build_video
    from vidseg.workflow.plan import PATHS

    for kind, name in (("detections", "detections"), ("frames_table", "frames"), ("tracks", "tracks")):
        table = work / "root" / PATHS[kind].format(video="v")
        table.parent.mkdir(parents=True, exist_ok=True)
        if not table.exists():
            table.symlink_to(work / "out" / f"{name}.parquet")
    build_video(work / "root", "v", {"video": "v", "stage": "done", "status": "ok", "reason": "", "note": ""}, "")
else:
    raise SystemExit(f"unknown stage {stage}")
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"stage": stage, "self_kib": own, "children_kib": children}))
