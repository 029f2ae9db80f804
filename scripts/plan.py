import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

import json  # noqa: E402

from vidseg.workflow.units import write_plan  # noqa: E402

# The run's units of work (vidseg.workflow.units), from every video's probe record
params = snakemake.params
probes = {}
for video, path in zip(params.videos, snakemake.input.probes):
    with open(path) as f:
        probes[video] = json.load(f)
plan = write_plan(probes, params.chunk_size, params.pack, params.group, snakemake.output[0])
packed = sum(len(unit.members) > 1 for unit in plan.units.values())
log.info("%d videos in %d units (%d of them packs of several videos); %d failed at the probe", len(plan.videos),
         len(plan.units), packed, len(plan.failed))
