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
        detections=expand("results/detections/video_id={video}/part-0.parquet", video=VIDEOS),
        frames=expand("results/frames/video_id={video}/part-0.parquet", video=VIDEOS),
        evaluations=expand("results/eval/{video}.json", video=GROUND_TRUTH),
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
