rule summary:
    input:
        detections=per_good_video(PATHS["detections"]),
        frames=per_good_video(PATHS["frames_table"]),
        tracks=per_good_video(PATHS["tracks"]),
        evaluations=evaluated(PATHS["evaluation"]),
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
