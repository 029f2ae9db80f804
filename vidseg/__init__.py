"""vidseg: instance segmentation over video datasets.

The package holds the logic; the Snakemake workflow only wires it together.
"""

__version__ = "0.1.0"
