# Two entry points: `make run` (set up, then run the workflow on config/config.yaml)
# and `make test` (set up, then run the test suite). `make train-demo` retrains the
# bundled demo model (models/shapes.h5) with the workflow's train rule; `make bench` prints
# the benchmark table (docs/benchmarks.md), then the report's build time for 100 videos, then segmentation
# frames/s at 1 and 2 cores without a GPU, then seconds per frame under TensorFlow's CPU kernel sets with a job's
# threads as intra-op threads or as model streams, then the time to draw one annotated 720p frame, then the
# annotate stage at 720p against the one before it, and the libx264 presets, then mrcnn's detect against
# vidseg's, then matterport's shapes tutorial through `import mrcnn` (mAP@0.5 and minutes), then the segment
# stage under each runtime and precision (Keras, OpenVINO, ONNX Runtime, int8) side by side, then the whole
# workflow on 200 short clips, packed and one job each, against one long video (the slowest: most of an hour
# on 2 cores).
# Setting up installs the Python dependencies into .venv and ffmpeg with apt when run as root.
VENV ?= .venv
CORES ?= all
GPUS ?= 1
EXTRA ?= cpu
ARGS ?=
# A TF2 port of matterport's mrcnn to compare with (the folder holding its mrcnn package; needs tf-keras)
PORT ?=
# Trained COCO weights (mask_rcnn_coco.h5) and a folder of your own images for runtimes.py, in place of the
# seeded weights and scikit-image's photographs
WEIGHTS ?=
IMAGES ?=

.PHONY: setup setup-test run test ffmpeg train-demo bench

# What running needs; `make test` adds the test extra (pytest, JAX, Playwright, ...) on top.
setup: $(VENV)/.installed ffmpeg

setup-test: $(VENV)/.installed-test ffmpeg

$(VENV)/.installed: pyproject.toml Makefile environment.post-deploy.sh
	@python3 -m venv $(VENV) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); \
	  else echo "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; }
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[$(EXTRA)]"
	@# TrackEval without its declared opencv-python (it would overwrite opencv-python-headless)
	PATH="$(abspath $(VENV))/bin:$$PATH" sh environment.post-deploy.sh
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e ".[$(EXTRA),test]"
	@touch $@

ffmpeg:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "ffmpeg is missing: install it (sudo apt-get install ffmpeg, or conda install -c conda-forge ffmpeg)"; exit 1; fi; }

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=$(GPUS) $(ARGS)

test: setup-test
	$(VENV)/bin/python -m pytest

train-demo: setup
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=$(GPUS) --configfile config/train_demo.yaml \
	  --forcerun train $(ARGS) -- models/shapes.h5

bench: setup-test
	$(VENV)/bin/python benchmarks/bench.py $(ARGS)
	$(VENV)/bin/python benchmarks/report.py
	$(VENV)/bin/python benchmarks/cores.py
	$(VENV)/bin/python benchmarks/cpu_kernels.py
	$(VENV)/bin/python benchmarks/draw.py
	$(VENV)/bin/python benchmarks/annotate.py
	$(VENV)/bin/python benchmarks/mrcnn_layer.py
	$(VENV)/bin/python examples/train_shapes.py
	$(VENV)/bin/python benchmarks/runtimes.py $(if $(PORT),--port $(PORT)) $(if $(WEIGHTS),--weights $(WEIGHTS)) \
	  $(if $(IMAGES),--images $(IMAGES))
	$(VENV)/bin/python benchmarks/short_clips.py
