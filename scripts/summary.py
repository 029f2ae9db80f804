from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

import pandas as pd  # noqa: E402

from vidseg.evaluate import summary_columns  # noqa: E402
from vidseg.tables import summary  # noqa: E402

detections = pd.concat([pd.read_parquet(p) for p in snakemake.input.detections], ignore_index=True)
frames = pd.concat([pd.read_parquet(p) for p in snakemake.input.frames], ignore_index=True)
table = summary(detections, frames)
reports = [json.loads(open(p).read()) for p in snakemake.input.evaluations]
if reports:
    table = table.merge(summary_columns(reports), on="video_id", how="left")
table.to_csv(snakemake.output[0], index=False)
log.info("summary: %d rows, %d evaluated videos", len(table), len(reports))
