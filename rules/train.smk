# Only part of the workflow when the config has a `train:` section (see config/train_demo.yaml).
TRAIN = config["train"]


def train_dataset():
    """The training set: the generated demo set, or a COCO annotations file."""
    return "resources/demo/train" if TRAIN["dataset"] == "demo" else TRAIN["dataset"]


def train_init_weights():
    init = TRAIN.get("init_weights")
    return [] if init is None else COCO_WEIGHTS if init == "coco" else init


rule train:
    input:
        dataset=train_dataset(),
        init_weights=train_init_weights(),
    output:
        weights=f"models/{TRAIN['name']}.h5",
        model=f"models/{TRAIN['name']}.yaml",
    log:
        f"logs/train/{TRAIN['name']}.log",
    benchmark:
        f"results/benchmarks/train/{TRAIN['name']}.tsv"
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
