rule evaluate:
    input:
        units=video_units,
        tracked=rules.track.output.detections,
        frames=rules.track.output.frames,
        ground_truth=ground_truth_path,
    output:
        report=report(PATHS["evaluation"], caption="../report/evaluation.rst", category="Evaluation",
                      labels={"video": "{video}"}),
        errors=PATHS["errors"],
    log:
        LOGS["evaluate"],
    conda:
        "../environment.yml"
    params:
        code=CODE["evaluate"],
        min_confidence=detect_min_confidence,
        table_min_confidence=PLAN.table_min_confidence,
    script:
        "../scripts/evaluate.py"
