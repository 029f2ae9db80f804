"""Formats: the files vidseg writes and reads. The Parquet tables (schemas, readers, writers), track ids,
COCO (results export and ground-truth reading), MOTS, and conversions for other libraries (interop).

Layer 2 (beside vidseg.media and vidseg.maskrcnn): may import vidseg.core, and vidseg.maskrcnn for the detections
the tables are built from.
"""
