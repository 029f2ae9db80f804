"""vidseg: instance segmentation over video datasets.

The package holds the logic; the Snakemake workflow only wires it together. Its sub-packages are layers, top to
bottom: report; workflow; evaluation, tracking, inference; formats, media, maskrcnn; core. A module imports only
from its own sub-package or a lower layer (tests/test_layout.py).
"""

__version__ = "0.1.0"
