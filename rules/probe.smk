checkpoint probe:
    input:
        video=video_path,
    output:
        json="results/probe/{video}.json",
    log:
        "logs/probe/{video}.log",
    conda:
        "../environment.yml"
    params:
        code=CODE["probe"],
    script:
        "../scripts/probe.py"
