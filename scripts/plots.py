import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.core.errors import VidsegError  # noqa: E402
from vidseg.report.data import read_files  # noqa: E402
from vidseg.report.figures import draw_figures  # noqa: E402

# One video's figures from its declared inputs (local paths, or storage's copies of them) to its declared outputs
inputs, video = snakemake.input, snakemake.wildcards.video
paths = {"frames_table": inputs.frames, "detections": inputs.detections, "tracks": inputs.tracks,
         "probe": inputs.probe, "evaluation": inputs.evaluation or None}
record = draw_figures(read_files(video, paths), inputs.annotated, dict(snakemake.output.items()))
if record["sheet_note"]:
    raise VidsegError(f"{video}: no contact sheet from {inputs.annotated}: {record['sheet_note']}")
log.info("%s: figures drawn", video)
