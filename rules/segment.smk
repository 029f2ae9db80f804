rule segment:
    input:
        frames=rules.frames.output.frames,
        index=rules.frames.output.index,
        probe=rules.probe.output.json,  # n_chunks reads it: a checkpoint output must be an input
        weights=PLAN.weights,
        model_file=[PLAN.model_file] if PLAN.model_file else [],
    output:
        detections=PATHS["chunk_detections"],
        frames=PATHS["chunk_frames"],
    log:
        LOGS["segment"],
    benchmark:
        PATHS["segment_benchmark"]
    conda:
        "../environment.yml"
    threads: segment_threads
    resources:
        gpu=1 if ON_GPU else 0,
        mem_mb=config["segment"]["mem_mb"],
        runtime=config["segment"]["runtime"],
    params:
        code=CODE["segment"],
        model=segment_settings,
        class_names=PLAN.class_names,
        table_min_confidence=PLAN.table_min_confidence,
        provenance=provenance,
        note=status_note,
        image_format=config["frames"]["format"],
        chunk_size=config["segment"]["chunk_size"],
        xla=config["segment"]["xla"],
        precision=config["segment"]["precision"],
        device=config["segment"]["device"],
        n_chunks=n_chunks,
    script:
        "../scripts/segment.py"


rule segment_pack:
    input:
        frames=rules.frames_pack.output[0],
        probe=pack_inputs(rules.probe.output.json),
        weights=PLAN.weights,
        model_file=[PLAN.model_file] if PLAN.model_file else [],
    output:
        directory(PATHS["segment_pack"]),
    log:
        LOGS["segment_pack"],
    benchmark:
        PATHS["pack_benchmark"]
    conda:
        "../environment.yml"
    threads: segment_threads
    resources:
        gpu=1 if ON_GPU else 0,
        mem_mb=config["segment"]["mem_mb"],
        runtime=config["segment"]["runtime"],
    params:
        code=CODE["segment"],
        videos=pack_videos,
        model=pack_settings,
        class_names=PLAN.class_names,
        table_min_confidence=PLAN.table_min_confidence,
        provenance=pack_provenance,
        note=pack_note,
        image_format=config["frames"]["format"],
        xla=config["segment"]["xla"],
        precision=config["segment"]["precision"],
        device=config["segment"]["device"],
    script:
        "../scripts/segment.py"
