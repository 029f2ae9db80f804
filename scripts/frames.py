from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.frames import extract, write_index  # noqa: E402

times = extract(snakemake.input.video, snakemake.output.frames, snakemake.params.image_format,
                snakemake.params.jpeg_quality)
write_index(times, snakemake.output.index)
log.info("%s: decoded %d frames", snakemake.wildcards.video, len(times))
