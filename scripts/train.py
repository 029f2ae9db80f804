import _workflow_package  # noqa: F401 - this workflow's vidseg first on sys.path
from vidseg.core.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path  # noqa: E402

from vidseg.inference.gpu import bind_gpu  # noqa: E402
from vidseg.inference.train import train_model  # noqa: E402

bind_gpu()

settings = snakemake.params.settings
dataset = Path(snakemake.input.dataset)
annotations = dataset / "annotations.json" if dataset.is_dir() else dataset
train_model(settings, annotations, settings.get("images"), snakemake.output.weights, snakemake.output.model,
            init_weights=snakemake.input.init_weights or None, report=log.info)
