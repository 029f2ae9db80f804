# A video's figures for the reports (vidseg.report.figures): drawn here, per video, so that Snakemake schedules,
# stores and reports them; the HTML report at the end of the run shows them.
rule plots:
    input:
        detections=rules.track.output.detections,
        frames=rules.track.output.frames,
        tracks=rules.track.output.tracks,
        probe=rules.probe.output.json,
        annotated=rules.annotate.output[0],
        evaluation=evaluation_if_any,
    output:
        report(directory(PATHS["plots"]), patterns=["{name}.png"], caption="../report/plots.rst", category="Plots",
               labels={"video": "{video}", "figure": "{name}"}),
    log:
        LOGS["plots"],
    conda:
        "../environment.yml"
    params:
        code=CODE["plots"],
    script:
        "../scripts/plots.py"
