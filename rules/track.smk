rule track:
    input:
        units=video_units,
    output:
        detections=PATHS["detections"],
        frames=PATHS["frames_table"],
        tracks=PATHS["tracks"],
    log:
        LOGS["track"],
    conda:
        "../environment.yml"
    params:
        code=CODE["track"],
        min_confidence=PLAN.table_min_confidence,
        settings=PLAN.track,
        config_digest=PLAN.config_digest,
    script:
        "../scripts/track.py"
