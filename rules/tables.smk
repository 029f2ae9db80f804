rule video_tables:
    input:
        detections=chunk_files("detections"),
        frames=chunk_files("frames"),
    output:
        detections=PATHS["detections"],
        frames=PATHS["frames_table"],
    log:
        LOGS["video_tables"],
    conda:
        "../environment.yml"
    params:
        code=CODE["video_tables"],
        min_confidence=PLAN.table_min_confidence,
    script:
        "../scripts/video_tables.py"


rule summary:
    input:
        detections=good_tables("detections"),
        frames=good_tables("frames"),
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
