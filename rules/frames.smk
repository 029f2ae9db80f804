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
