rule export_coco:
    input:
        segment=segment_outputs,
        ground_truth=ground_truth_if_any,
    output:
        PATHS["coco_export"],
    log:
        LOGS["export_coco"],
    conda:
        "../environment.yml"
    params:
        code=CODE["export_coco"],
        detections=segment_tables("detections"),
    script:
        "../scripts/export_coco.py"


rule export_mots:
    input:
        rules.track.output.detections,
    output:
        PATHS["mots_export"],
    log:
        LOGS["export_mots"],
    conda:
        "../environment.yml"
    params:
        code=CODE["export_mots"],
        classes=config["export"]["mots_classes"],
    script:
        "../scripts/export_mots.py"


# The exports of a pack's videos written by one job (one Python start, not one per short video per format), which
# puts each video's files at the paths of rules export_coco and export_mots.
rule export_pack:
    input:
        segment=rules.segment_pack.output[0],
        tracked=rules.track_pack.output[0],
        ground_truth=pack_ground_truth,
    output:
        directory(PATHS["export_pack"]),
    log:
        LOGS["export_pack"],
    conda:
        "../environment.yml"
    params:
        code=CODE["export_pack"],
        videos=pack_videos,
        truths=pack_truths,
        coco=config["export"]["coco"],
        mots=config["export"]["mots"],
        classes=config["export"]["mots_classes"],
        published=published(**{kind: getattr(rules, f"export_{kind}").output[0] for kind in exports(config)}),
    script:
        "../scripts/export_pack.py"
