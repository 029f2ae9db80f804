rule frames:
    input:
        video=video_path,
        probe="results/probe/{video}.json",
    output:
        frames=frames_output(),
        index="results/frame_index/{video}.tsv",
    log:
        "logs/frames/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["frames"],
        image_format=config["frames"]["format"],
        jpeg_quality=config["frames"]["jpeg_quality"],
    script:
        "../scripts/frames.py"
