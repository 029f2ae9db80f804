rule annotate:
    input:
        frames=rules.frames.output.frames,
        index=rules.frames.output.index,
        detections=rules.track.output.detections,
        probe=rules.probe.output.json,
        video=video_path,
    output:
        PATHS["annotated"],
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


# The videos of a pack annotated by one job (one Python start, not one per short video), which puts each video's
# annotated video at the path of rule annotate's output.
rule annotate_pack:
    input:
        frames=rules.frames_pack.output[0],
        probe=pack_inputs(rules.probe.output.json),
        video=pack_inputs(VIDEOS),
        tracked=rules.track_pack.output[0],
    output:
        directory(PATHS["annotate_pack"]),
    log:
        LOGS["annotate_pack"],
    conda:
        "../environment.yml"
    threads: 2
    params:
        code=CODE["annotate"],
        videos=pack_videos,
        image_format=config["frames"]["format"],
        encode=PLAN.encode,
        published=published(annotated=rules.annotate.output[0]),
    script:
        "../scripts/annotate.py"
