# The exports the config switches on (export.coco, export.mots), written by one job per video.
if exports(config):

    rule export:
        input:
            units=video_units,
            tracked=rules.track.output.detections,
            ground_truth=ground_truth_if_any,
        output:
            **{name: EXPORT_PATHS[name] for name in exports(config)},
        log:
            LOGS["export"],
        conda:
            "../environment.yml"
        params:
            code=CODE["export"],
            classes=config["export"]["mots_classes"],
        script:
            "../scripts/export.py"
