rule segment:
    input:
        frames="results/frames_tmp/{video}",
        index="results/frame_index/{video}.tsv",
        probe="results/probe/{video}.json",
        weights=weights_path(),
    output:
        detections="results/chunks/{video}/{chunk}.detections.parquet",
        frames="results/chunks/{video}/{chunk}.frames.parquet",
    log:
        "logs/segment/{video}/{chunk}.log",
    benchmark:
        "benchmarks/segment/{video}/{chunk}.tsv"
    conda:
        "../environment.yml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=config["segment"]["mem_mb"],
        runtime=config["segment"]["runtime"],
    params:
        model=config["model"],
        class_names=config["class_names"],
        image_format=config["frames"]["format"],
        chunk_size=config["segment"]["chunk_size"],
        n_chunks=n_chunks,
    script:
        "../scripts/segment.py"
