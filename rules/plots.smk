# A video's figures for the reports (vidseg.report.figures): drawn here, per video, so that Snakemake schedules,
# stores and reports them; the HTML report at the end of the run shows them.
PLOTS = plot_paths(PATHS["plots"])


rule plots:
    input:
        detections=rules.track.output.detections,
        frames=rules.track.output.frames,
        tracks=rules.track.output.tracks,
        probe=rules.probe.output.json,
        annotated=rules.annotate.output[0],
        evaluation=evaluation_if_any,
    output:
        **{kind: report(PLOTS[kind], caption="../report/plots.rst", category="Plots",
                        labels={"video": "{video}", "figure": kind.replace("_", " ")})
           for kind in ("detections", "tracks", "scores", "contact_sheet")},
        poster=PLOTS["poster"],
        record=PLOTS["record"],
    log:
        LOGS["plots"],
    conda:
        "../environment.yml"
    params:
        code=CODE["plots"],
    script:
        "../scripts/plots.py"
