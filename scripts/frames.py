import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.frames import extract, write_index  # noqa: E402

params = snakemake.params


def decode(video, source, probe, frames, index):
    """`video`'s frames (file `source`, probe record at `probe`) into the folder `frames`, their times into `index`."""
    with open(probe) as f:
        probed = json.load(f)
    times = extract(source, frames, params.image_format, params.jpeg_quality, probed["start_s"])
    write_index(times, index)
    log.info("%s: decoded %d frames", video, len(times))
    if probed["n_frames_exact"] and len(times) < probed["n_frames"]:
        log.warning("%s: the container lists %d frames but only %d decode (a truncated or damaged file?); "
                    "the tables and the annotated video cover the %d that do", video, probed["n_frames"], len(times),
                    len(times))
    return len(times)


# rule frames: one video; rule frames_pack: a pack's videos into one folder, each frame index also at its own path
if "pack" in snakemake.wildcards.keys():
    from vidseg.packs import PACKED, failed_in, member_path, run_each

    inputs, videos = snakemake.input, params.videos

    def decode_one(video, into):
        i = videos.index(video)
        return decode(video, inputs.video[i], inputs.probe[i], member_path(into, video, PACKED["images"]),
                      member_path(into, video, PACKED["index"]))

    outcome = run_each(videos, snakemake.output[0], decode_one, "decoding", log, params.published)
    log.info("pack %s: %d videos decoded%s", snakemake.wildcards.pack, len(outcome), failed_in(outcome))
else:
    decode(snakemake.wildcards.video, snakemake.input.video, snakemake.input.probe, snakemake.output.frames,
           snakemake.output.index)
