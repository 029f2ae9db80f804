rule summary:
    input:
        detections=good_tables("detections"),
        frames=good_tables("frames"),
        tracks=good_tables("tracks"),
        evaluations=evaluations,
    output:
        PATHS["summary"],
    log:
        LOGS["summary"],
    conda:
        "../environment.yml"
    params:
        code=CODE["summary"],
    script:
        "../scripts/summary.py"
