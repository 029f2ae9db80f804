import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from vidseg.evaluation.evaluate import evaluate_video  # noqa: E402
from vidseg.inference.unit import tables_of  # noqa: E402

video, inputs, params = snakemake.wildcards.video, snakemake.input, snakemake.params
report = evaluate_video(video, tables_of(inputs.units, video, "detections"), inputs.ground_truth,
                        params.min_confidence, params.table_min_confidence, snakemake.output.report,
                        tracked=inputs.tracked, frames=inputs.frames, errors_out=snakemake.output.errors)
log.info("%s: %s", video, report["note"])
for kind in ("bbox", "segm"):
    log.info("%s %s: AP %.3f, AP50 %.3f, AP75 %.3f", video, kind, report[kind]["AP"], report[kind]["AP50"],
             report[kind]["AP75"])
if report["tracking"] is not None:
    t = report["tracking"]
    log.info("%s tracking: HOTA %.3f, IDF1 %.3f, MOTA %.3f, %d ID switches (%.2f per 100 frames)", video, t["HOTA"],
             t["IDF1"], t["MOTA"], t["id_switches"], t["id_switches_per_100_frames"])
log.info("%s errors of the kept detections (mask IoU 0.5): %s", video,
         ", ".join(f"{count} {kind}" for kind, count in report["errors"].items()))
