rule track:
    input:
        from_pack("track_pack", segment_outputs),
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
        detections=segment_tables("detections"),
        frames=segment_tables("frames"),
        packed=packed_folder("track_pack"),
    script:
        "../scripts/track.py"


# The videos of a pack tracked by one job (one Python start, not one per short video); each video's track job
# then copies its tables from the pack's folder.
rule track_pack:
    input:
        rules.segment_pack.output[0],
    output:
        directory(PATHS["track_pack"]),
    log:
        LOGS["track_pack"],
    conda:
        "../environment.yml"
    params:
        code=CODE["track"],
        videos=pack_videos,
        min_confidence=PLAN.table_min_confidence,
        settings=PLAN.track,
        config_digest=PLAN.config_digest,
    script:
        "../scripts/track.py"
