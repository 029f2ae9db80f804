#!/usr/bin/env sh
# TrackEval (the tracking evaluator, vidseg/evaluation/track_eval.py), which no conda channel carries, installed
# with pip without its declared dependencies: its opencv-python would overwrite the environment's
# OpenCV, and the metrics vidseg uses need only NumPy and SciPy. Snakemake runs this file in the
# environment it creates from environment.yml; `make setup` runs it with the .venv's python first
# on PATH; after `conda env create -f environment.yml`, run it in the activated environment.
set -eu
python -m pip install --quiet --no-deps "trackeval==1.3.0"
