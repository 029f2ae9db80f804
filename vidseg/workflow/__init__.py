"""Workflow: what the Snakemake rules need. The run plan (paths, logs, model, code digests), input videos
and ground truths, planning units of work and packs, the status table.

Layer 4: may import any layer below (vidseg.evaluation, vidseg.tracking, vidseg.inference, vidseg.formats,
vidseg.media, vidseg.maskrcnn, vidseg.core); only vidseg.report imports it.
"""
