import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402


from vidseg.evaluate import summary_columns  # noqa: E402
from vidseg.packs import checked_tables  # noqa: E402
from vidseg.tables import DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA, read_parts, summary  # noqa: E402

# Per video its tables (a packed video's in its pack job's folder). A video its pack job failed has none: the
# summary then fails with the reason, as when any other video's job fails. No tables at all when every video
# failed at the probe: the summary is then empty.
params = snakemake.params
detections = read_parts(checked_tables(params.detections), DETECTIONS_SCHEMA).to_pandas()
frames = read_parts(checked_tables(params.frames), FRAMES_SCHEMA).to_pandas()
tracks = read_parts(checked_tables(params.tracks), TRACKS_SCHEMA).to_pandas()
table = summary(detections, frames, tracks)
reports = [json.loads(open(p).read()) for p in snakemake.input.evaluations]
if reports:
    table = table.merge(summary_columns(reports), on="video_id", how="left")
table.to_csv(snakemake.output[0], index=False)
log.info("summary: %d rows, %d evaluated videos", len(table), len(reports))
