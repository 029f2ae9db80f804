rule probe:
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


# The units of work (vidseg.workflow.units) from every video's probe: the one point where the DAG waits for jobs to run.
checkpoint plan:
    input:
        probes=expand(PATHS["probe"], video=VIDEOS),
    output:
        local(PATHS["units"]),
    log:
        LOGS["plan"],
    conda:
        "../environment.yml"
    params:
        code=CODE["plan"],
        videos=list(VIDEOS),
        chunk_size=config["segment"]["chunk_size"],
        pack=config["segment"]["pack"],
        group=PLAN.pack_groups,
    script:
        "../scripts/plan.py"
