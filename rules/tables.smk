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
    script:
        "../scripts/video_tables.py"


rule summary:
    input:
        detections=expand("results/detections/video_id={video}/part-0.parquet", video=VIDEOS),
        frames=expand("results/frames/video_id={video}/part-0.parquet", video=VIDEOS),
    output:
        "results/summary.csv",
    log:
        "logs/summary.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["tables"],
    script:
        "../scripts/summary.py"
