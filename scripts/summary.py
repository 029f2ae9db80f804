import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402


from vidseg.evaluate import summary_columns  # noqa: E402
from vidseg.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA, read_parts, summary  # noqa: E402

# (no tables at all when every video failed at the probe: the summary is then empty)
detections = read_parts(snakemake.input.detections, DETECTIONS_SCHEMA).to_pandas()
frames = read_parts(snakemake.input.frames, FRAMES_SCHEMA).to_pandas()
tracks = read_parts(snakemake.input.tracks, TRACKS_SCHEMA).to_pandas()
table = summary(detections, frames, tracks)
reports = [json.loads(open(p).read()) for p in snakemake.input.evaluations]
if reports:
    table = table.merge(summary_columns(reports), on="video_id", how="left")
table.to_csv(snakemake.output[0], index=False)
log.info("summary: %d rows, %d evaluated videos", len(table), len(reports))
