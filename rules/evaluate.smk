rule evaluate:
    input:
        segment=segment_outputs,
        tracked=made_by("track_pack", rules.track.output.detections),
        ground_truth=ground_truth_path,
    output:
        PATHS["evaluation"],
    log:
        LOGS["evaluate"],
    conda:
        "../environment.yml"
    params:
        code=CODE["evaluate"],
        min_confidence=detect_min_confidence,
        table_min_confidence=PLAN.table_min_confidence,
        detections=segment_tables("detections"),
        tracked=file_of("track_pack", "detections", rules.track.output.detections),
    script:
        "../scripts/evaluate.py"
