rule render:
    input:
        frames="results/frames_tmp/{video}",
        index="results/frame_index/{video}.tsv",
        detections="results/detections/video_id={video}/part-0.parquet",
    output:
        temp(directory("results/annotated_tmp/{video}")),
    log:
        "logs/render/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["render"],
        image_format=config["frames"]["format"],
    script:
        "../scripts/render.py"


rule encode:
    input:
        frames="results/annotated_tmp/{video}",
        index="results/frame_index/{video}.tsv",
        probe="results/probe/{video}.json",
        video=video_path,
    output:
        "results/videos/{video}.mp4",
    log:
        "logs/encode/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["encode"],
        image_format=config["frames"]["format"],
        crf=config["encode"]["crf"],
        preset=config["encode"]["preset"],
    script:
        "../scripts/encode.py"
