rule frames:
    input:
        video=video_path,
        probe=rules.probe.output.json,
    output:
        frames=frames_output(PATHS["frames"]),
        index=PATHS["frame_index"],
    log:
        LOGS["frames"],
    conda:
        "../environment.yml"
    params:
        code=CODE["frames"],
        image_format=config["frames"]["format"],
        jpeg_quality=config["frames"]["jpeg_quality"],
    script:
        "../scripts/frames.py"


# The videos of a pack decoded by one job (one Python start, not one per short video) into one folder, which the
# pack's segment and annotate jobs read; each video's frame index also goes to the path of rule frames' index.
rule frames_pack:
    input:
        video=pack_inputs(VIDEOS),
        probe=pack_inputs(rules.probe.output.json),
    output:
        frames_output(PATHS["frames_pack"]),
    log:
        LOGS["frames_pack"],
    conda:
        "../environment.yml"
    params:
        code=CODE["frames"],
        videos=pack_videos,
        image_format=config["frames"]["format"],
        jpeg_quality=config["frames"]["jpeg_quality"],
        published=published(index=rules.frames.output.index),
    script:
        "../scripts/frames.py"
