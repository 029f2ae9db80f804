# The train rule exists only when the config has a `train:` section (see config/train_demo.yaml).
if TRAIN:

    rule train:
        input:
            dataset=train_dataset(),
            init_weights=train_init_weights(),
        output:
            weights=TRAINED[0],
            model=TRAINED[1],
        log:
            LOGS["train"].format(name=TRAIN["name"]),
        benchmark:
            PATHS["train_benchmark"].format(name=TRAIN["name"])
        conda:
            "../environment.yml"
        threads: workflow.cores
        resources:
            gpu=1,
            mem_mb=TRAIN.get("mem_mb", 8000),
            runtime=TRAIN.get("runtime", 720),
        params:
            code=CODE["train"],
            settings=TRAIN,
        script:
            "../scripts/train.py"
