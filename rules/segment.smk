# One job per unit (vidseg.inference.unit): a chunk of a long video, or a pack of short videos; one model load each.
rule segment:
    input:
        frames=unit_videos(PATHS["frames"]),
        index=unit_videos(PATHS["frame_index"]),
        weights=source_file(PLAN.weights),
        model_file=[source_file(PLAN.model_file)] if PLAN.model_file else [],
    output:
        directory(PATHS["segment"]),
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
        members=unit_members,
        model=first_video(PLAN.segment_settings),
        class_names=PLAN.class_names,
        table_min_confidence=PLAN.table_min_confidence,
        provenance=first_video(PLAN.provenance),
        note=first_video(PLAN.note),
        image_format=config["frames"]["format"],
        xla=config["segment"]["xla"],
        precision=config["segment"]["precision"],
        engine=config["segment"]["engine"],
        device=config["segment"]["device"],
    script:
        "../scripts/segment.py"
