"""Report: the run's HTML report (`python -m vidseg.report`; build, data, plots, sections, html, contact sheet,
bundle: the zip to share).

Layer 5 (top): may import any other layer.
"""
