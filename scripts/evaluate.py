from vidseg.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.evaluate import evaluate_video  # noqa: E402

report = evaluate_video(snakemake.wildcards.video, snakemake.input.detections, snakemake.input.ground_truth,
                        snakemake.params.min_confidence, snakemake.params.table_min_confidence, snakemake.output[0])
log.info("%s: %s", snakemake.wildcards.video, report["note"])
for kind in ("bbox", "segm"):
    log.info("%s %s: AP %.3f, AP50 %.3f, AP75 %.3f", snakemake.wildcards.video, kind, report[kind]["AP"],
             report[kind]["AP50"], report[kind]["AP75"])
