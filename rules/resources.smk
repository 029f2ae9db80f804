rule sample_video:
    output:
        SAMPLE_VIDEO,
    log:
        "logs/sample_video.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/sample_video.py"


rule download_weights:
    output:
        COCO_WEIGHTS,
    log:
        "logs/download_weights.log",
    conda:
        "../environment.yml"
    params:
        url=config["weights_url"],
    script:
        "../scripts/download_weights.py"
