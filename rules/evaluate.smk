rule evaluate:
    input:
        detections=chunk_files("detections"),
        ground_truth=ground_truth_path,
    output:
        "results/eval/{video}.json",
    log:
        "logs/evaluate/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["evaluate"],
        min_confidence=segment_min_confidence,
        table_min_confidence=MODEL_CONFIG.DETECTION_MIN_CONFIDENCE,
    script:
        "../scripts/evaluate.py"
