rule export_coco:
    input:
        units=video_units,
        ground_truth=ground_truth_if_any,
    output:
        PATHS["coco_export"],
    log:
        LOGS["export_coco"],
    conda:
        "../environment.yml"
    params:
        code=CODE["export_coco"],
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
