# vidseg: videos -> frames -> batched Mask R-CNN -> Parquet tables -> annotated videos.
# Wiring only; the logic lives in the vidseg package.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "rules/common.smk"


rule all:
    input:
        all_outputs(),


include: "rules/resources.smk"
include: "rules/probe.smk"
include: "rules/frames.smk"
include: "rules/segment.smk"
include: "rules/tables.smk"
include: "rules/render.smk"
include: "rules/demo.smk"
include: "rules/evaluate.smk"
include: "rules/train.smk"
