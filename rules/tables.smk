rule summary:
    input:
        detections=per_good_video(PATHS["detections"]),
        frames=per_good_video(PATHS["frames_table"]),
        tracks=per_good_video(PATHS["tracks"]),
        evaluations=evaluated(PATHS["evaluation"]),
    output:
        summary=report(PATHS["summary"], caption="../report/summary.rst", category="Dataset",
                       labels={"table": "per video and class"}),
        evaluation=report(PATHS["evaluation_summary"], caption="../report/evaluation_summary.rst", category="Dataset",
                          labels={"table": "per evaluated video"}),
    log:
        LOGS["summary"],
    conda:
        "../environment.yml"
    params:
        code=CODE["summary"],
    script:
        "../scripts/summary.py"
