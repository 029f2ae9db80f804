rule annotate:
    input:
        frames=rules.frames.output.frames,
        index=rules.frames.output.index,
        detections=rules.track.output.detections,
        tracks=rules.track.output.tracks,
        probe=rules.probe.output.json,
        video=video_path,
    output:
        report(PATHS["annotated"], caption="../report/annotated.rst", category="Annotated videos",
               labels={"video": "{video}"}),
    log:
        LOGS["annotate"],
    conda:
        "../environment.yml"
    threads: 2
    params:
        code=CODE["annotate"],
        image_format=config["frames"]["format"],
        encode=PLAN.encode,
    script:
        "../scripts/annotate.py"
