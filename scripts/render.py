from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.frames import read_index  # noqa: E402
from vidseg.render import render_video  # noqa: E402
from vidseg.tables import frame_groups  # noqa: E402

times = read_index(snakemake.input.index)
render_video(snakemake.input.frames, len(times), frame_groups(snakemake.input.detections), snakemake.output[0],
             snakemake.params.image_format)
log.info("%s: annotated %d frames", snakemake.wildcards.video, len(times))
