rule video_tables:
    input:
        detections=chunk_files("detections"),
        frames=chunk_files("frames"),
    output:
        detections="results/detections/video_id={video}/part-0.parquet",
        frames="results/frames/video_id={video}/part-0.parquet",
    log:
        "logs/video_tables/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["tables"],
        min_confidence=MODEL_CONFIG.DETECTION_MIN_CONFIDENCE,
    script:
        "../scripts/video_tables.py"


rule summary:
    input:
        detections=good_tables("detections"),
        frames=good_tables("frames"),
        evaluations=evaluations,
    output:
        "results/summary.csv",
    log:
        "logs/summary.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["tables"] + CODE["evaluate"],
    script:
        "../scripts/summary.py"
