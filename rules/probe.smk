checkpoint probe:
    input:
        video=video_path,
    output:
        json="results/probe/{video}.json",
    log:
        "logs/probe/{video}.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/probe.py"
