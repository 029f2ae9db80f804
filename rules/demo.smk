rule demo_video:
    output:
        video=DEMO_VIDEO,
        ground_truth=DEMO_TRUTH,
    log:
        "logs/demo_video/demo_{i}.log",
    conda:
        "../environment.yml"
    wildcard_constraints:
        i=r"\d+",
    params:
        code=CODE["synthetic"],
        settings={k: v for k, v in DEMO.items() if k != "train_set"},
    script:
        "../scripts/demo_video.py"


rule demo_dataset:
    output:
        directory("resources/demo/train"),
    log:
        "logs/demo_dataset.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["synthetic"],
        settings=DEMO["train_set"],
    script:
        "../scripts/demo_dataset.py"
