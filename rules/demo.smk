rule demo_video:
    output:
        video=PATHS["demo_video"],
        ground_truth=PATHS["demo_truth"],
    log:
        LOGS["demo_video"],
    conda:
        "../environment.yml"
    wildcard_constraints:
        i=r"\d+",
    params:
        code=CODE["demo_video"],
        settings={k: v for k, v in DEMO.items() if k != "train_set"},
    script:
        "../scripts/demo_video.py"


rule demo_dataset:
    output:
        directory(PATHS["demo_train_set"]),
    log:
        LOGS["demo_dataset"],
    conda:
        "../environment.yml"
    params:
        code=CODE["demo_dataset"],
        settings=DEMO["train_set"],
    script:
        "../scripts/demo_dataset.py"
