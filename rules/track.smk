rule track:
    input:
        segment_outputs,
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
    script:
        "../scripts/track.py"


# The videos of a pack tracked by one job (one Python start, not one per short video), which puts each video's
# tables at the paths of rule track's outputs.
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
        published=published(detections=rules.track.output.detections, frames=rules.track.output.frames,
                            tracks=rules.track.output.tracks),
    script:
        "../scripts/track.py"
