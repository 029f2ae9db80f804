# vidseg: videos -> frames -> batched Mask R-CNN -> Parquet tables -> annotated videos.
# Wiring only; the logic lives in the vidseg package.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "rules/common.smk"


# Cheap jobs that run where Snakemake runs (the login node) under a cluster
# executor instead of being submitted; download_weights needs the internet.
localrules:
    all,
    probe,
    summary,
    sample_video,
    download_weights,
    demo_video,
    demo_dataset,


rule all:
    input:
        all_outputs,


include: "rules/resources.smk"
include: "rules/probe.smk"
include: "rules/frames.smk"
include: "rules/segment.smk"
include: "rules/track.smk"
include: "rules/tables.smk"
include: "rules/annotate.smk"
include: "rules/demo.smk"
include: "rules/evaluate.smk"
include: "rules/export.smk"
include: "rules/train.smk"


# Every run ends by writing results/status.tsv (per video, the stage reached and any failure's reason),
# then the HTML report of everything the run left (results/report/index.html).
onsuccess:
    report_status()
    build_report()


onerror:
    report_status()
    build_report()
