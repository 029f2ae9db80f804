rule sample_video:
    output:
        PATHS["sample_video"],
    log:
        LOGS["sample_video"],
    conda:
        "../environment.yml"
    params:
        code=CODE["sample_video"],
    script:
        "../scripts/sample_video.py"


rule download_weights:
    output:
        PATHS["coco_weights"],
    log:
        LOGS["download_weights"],
    conda:
        "../environment.yml"
    params:
        url=config["weights_url"],
        sha256=config["weights_sha256"],
    script:
        "../scripts/download_weights.py"
