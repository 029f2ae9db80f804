"""Imported first by every job script: this workflow's folder goes first on sys.path, so a job imports the
vidseg package next to its Snakefile whether or not it is installed: in an environment made from
environment.yml (which does not install vidseg; Snakemake builds it elsewhere, so `-e .` cannot work), or
with the workflow used as a Snakemake module of another project. Snakemake puts a script's own folder on
sys.path, which is how this module is found."""

import sys
from pathlib import Path

WORKFLOW_DIR = str(Path(__file__).resolve().parents[1])
if WORKFLOW_DIR not in sys.path[:1]:
    sys.path.insert(0, WORKFLOW_DIR)
