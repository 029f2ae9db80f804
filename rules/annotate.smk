rule annotate:
    input:
        frames=rules.frames.output.frames,
        index=rules.frames.output.index,
        detections=rules.track.output.detections,
        tracks=rules.track.output.tracks,
        probe=rules.probe.output.json,
        video=video_path,
    output:
        report(PATHS["annotated"], caption="../report/annotated.rst", category="Annotated videos",
               labels={"video": "{video}", "overlay": "none"}),
    log:
        LOGS["annotate"],
    conda:
        "../environment.yml"
    threads: 2
    params:
        code=CODE["annotate"],
        image_format=config["frames"]["format"],
        encode=PLAN.encode,
    script:
        "../scripts/annotate.py"


# For videos with a ground truth: the annotated video again, with the ground truth's outlines drawn over the
# detections (the report's "ground truth" toggle).
use rule annotate as annotate_truth with:
    input:
        frames=rules.frames.output.frames,
        index=rules.frames.output.index,
        detections=rules.track.output.detections,
        tracks=rules.track.output.tracks,
        probe=rules.probe.output.json,
        video=video_path,
        ground_truth=ground_truth_path,
    output:
        report(PATHS["truth_video"], caption="../report/truth_video.rst", category="Annotated videos",
               labels={"video": "{video}", "overlay": "the ground truth's outlines"}),
    log:
        LOGS["annotate_truth"],
