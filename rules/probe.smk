checkpoint probe:
    input:
        video=video_path,
    output:
        json=PATHS["probe"],
    log:
        LOGS["probe"],
    conda:
        "../environment.yml"
    params:
        code=CODE["probe"],
    script:
        "../scripts/probe.py"
