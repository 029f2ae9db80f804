# vidseg: videos -> frames -> batched Mask R-CNN -> Parquet tables -> annotated videos.
# Wiring only; the logic lives in the vidseg package.
import os

from snakemake.utils import min_version

min_version("8.0")


# The workflow's own config, then the working directory's config/config.yaml where that is another
# folder with one (--directory, -d); --configfile and --config override both, key by key. As a
# Snakemake module, the `config:` the importing workflow passes replaces both.
WORKFLOW_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")


configfile: WORKFLOW_CONFIG


# `snakemake --report report.zip` after a run: the annotated videos, the dataset tables and the evaluations, with
# the captions in report/ (vidseg's own HTML report is results/report/index.html).
report: "report/workflow.rst"


if os.path.isfile("config/config.yaml") and not os.path.samefile("config/config.yaml", WORKFLOW_CONFIG):

    configfile: "config/config.yaml"


include: "rules/common.smk"


# Cheap jobs that run where Snakemake runs (the login node) under a cluster
# executor instead of being submitted; download_weights needs the internet.
localrules:
    all,
    probe,
    plan,
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
include: "rules/plots.smk"
include: "rules/demo.smk"
include: "rules/evaluate.smk"
include: "rules/export.smk"
include: "rules/train.smk"


# Every run ends with finish_run (rules/common.smk): results/status.tsv, then the HTML report.
onsuccess:
    finish_run()


onerror:
    finish_run()
