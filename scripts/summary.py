import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.evaluation.evaluate import merge_summary, video_columns  # noqa: E402
from vidseg.formats.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA, read_parts, summary  # noqa: E402

# The tables of every video that passed the probe (none when every video failed there: an empty summary)
inputs = snakemake.input
detections = read_parts(inputs.detections, DETECTIONS_SCHEMA).to_pandas()
frames = read_parts(inputs.frames, FRAMES_SCHEMA).to_pandas()
tracks = read_parts(inputs.tracks, TRACKS_SCHEMA).to_pandas()
table = summary(detections, frames, tracks)
reports = [json.loads(open(p).read()) for p in inputs.evaluations]
merge_summary(table, reports).to_csv(snakemake.output.summary, index=False)
video_columns(reports).to_csv(snakemake.output.evaluation, index=False)
log.info("summary: %d rows, %d evaluated videos", len(table), len(reports))
