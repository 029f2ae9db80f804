"""Report: the run's HTML report (`python -m vidseg.report`; build, data, plots, contact sheet).

Layer 5 (top): may import any other layer.
"""
