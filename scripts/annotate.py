import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.annotate import annotate_video  # noqa: E402
from vidseg.encoders import EncodeSettings  # noqa: E402
from vidseg.frames import read_index  # noqa: E402
from vidseg.tables import frame_groups  # noqa: E402

settings = EncodeSettings(**snakemake.params.encode)


def annotate(video, frames, index, probe, detections, source, out):
    """One video's frames drawn and encoded into `out`; `detections`: its tracked detections table."""
    with open(probe) as f:
        record = json.load(f)
    count = annotate_video(frames, read_index(index), lambda: frame_groups(detections), snakemake.params.image_format,
                           record, source, out, settings, snakemake.threads)
    log.info("%s: annotated and encoded %d frames (%s)", video, count, settings)
    return count


# rule annotate: one video; rule annotate_pack: a pack's videos, each annotated video also put at its own path
if "pack" in snakemake.wildcards.keys():
    from vidseg.packs import PACKED, checked_tables, failed_in, member_path, run_each

    inputs, videos = snakemake.input, snakemake.params.videos

    def annotate_one(video, into):
        i = videos.index(video)
        tracked, = checked_tables([member_path(inputs.tracked, video, PACKED["detections"])])
        return annotate(video, member_path(inputs.frames, video, PACKED["images"]),
                        member_path(inputs.frames, video, PACKED["index"]), inputs.probe[i], tracked, inputs.video[i],
                        member_path(into, video, PACKED["annotated"]))

    outcome = run_each(videos, snakemake.output[0], annotate_one, "annotation", log, snakemake.params.published)
    log.info("pack %s: %d videos annotated%s", snakemake.wildcards.pack, len(outcome), failed_in(outcome))
else:
    annotate(snakemake.wildcards.video, snakemake.input.frames, snakemake.input.index, snakemake.input.probe,
             snakemake.input.detections, snakemake.input.video, snakemake.output[0])
